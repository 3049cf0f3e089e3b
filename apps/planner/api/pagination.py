"""Seed 004's page/limit paging: ``{"<items>": [...], "total": n, "page": p, "limit": l}``."""
from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

MAX_LIMIT = 500
MAX_PAGE = 1_000_000


def _number(request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: f"must be a whole number from 1 to {maximum}"}) from None
    if not 1 <= value <= maximum:
        raise ValidationError({name: f"must be from 1 to {maximum}"})
    return value


class PagePagination(pagination.BasePagination):
    items = "vms"
    default_limit = 50

    def paginate_queryset(self, queryset, request, view=None):
        self.page = _number(request, "page", 1, MAX_PAGE)
        self.limit = _number(request, "limit", self.default_limit, MAX_LIMIT)
        self.total = queryset.count()
        start = (self.page - 1) * self.limit
        return list(queryset[start:start + self.limit])

    def get_paginated_response(self, data):
        return Response({self.items: data, "total": self.total, "page": self.page, "limit": self.limit})

    def get_paginated_response_schema(self, schema):
        number = {"type": "integer"}
        return {"type": "object", "required": [self.items, "total", "page", "limit"],
                "properties": {self.items: schema, "total": number, "page": number, "limit": number}}

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "page", "in": "query", "required": False, "description": "Page number (from 1)",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
            {"name": "limit", "in": "query", "required": False, "description": "Page size (default 50)",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
        ]
