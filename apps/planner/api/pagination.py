"""Seed 004's page/limit paging: ``{"<items>": [...], "total": n, "page": p, "limit": l}``."""
from __future__ import annotations

from rest_framework import pagination
from rest_framework.response import Response

from apps.core.api.detail import query_number

MAX_LIMIT = 500
MAX_PAGE = 1_000_000


class PagePagination(pagination.BasePagination):
    items = "vms"
    default_limit = 50

    def paginate_queryset(self, queryset, request, view=None):
        self.page = query_number(request, "page", 1, 1, MAX_PAGE)
        self.limit = query_number(request, "limit", self.default_limit, 1, MAX_LIMIT)
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
