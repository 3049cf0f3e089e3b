"""What every view of this app shares: seed 004's permission strings, its ``{"detail": ...}`` errors, its
limit/offset pages with ``total``, and their schema."""
from __future__ import annotations

from rest_framework import permissions, serializers
from rest_framework.response import Response

from apps.core.api.detail import DetailAutoSchema, SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it
from apps.core.exceptions import InvalidInput
from apps.core.pagination import MAX_OFFSET

from ..permissions import PUBLIC, SeedPermission, requirement

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


class AccountsAutoSchema(DetailAutoSchema):
    component_prefix = "Portal"


class AccountsView(SeedView):
    permission_classes = [SeedPermission]
    schema = AccountsAutoSchema()
    requires: dict[str, str] = {}

    def get_permissions(self):
        # A public method also reads as public in the schema (no 401/403 documented on it).
        if self.request is not None and requirement(self, self.request.method) == PUBLIC:
            return [permissions.AllowAny()]
        return super().get_permissions()


def _number(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidInput(f"Invalid parameter: {name} must be between {low} and {high}")
    return value


def page(request, queryset, *, default_limit: int = DEFAULT_LIMIT) -> tuple[list, dict]:
    """The requested slice of ``queryset`` and the seed's page fields (``total``, ``limit``, ``offset``)."""
    limit = _number(request, "limit", default_limit, 1, MAX_LIMIT)
    offset = _number(request, "offset", 0, 0, MAX_OFFSET)
    total = queryset.count() if hasattr(queryset, "count") and not isinstance(queryset, list) else len(queryset)
    return list(queryset[offset:offset + limit]), {"total": total, "limit": limit, "offset": offset}


def paged(serializer_class: type[serializers.Serializer], request, queryset, **kwargs) -> Response:
    rows, meta = page(request, queryset, **kwargs)
    return Response({**meta, "results": serializer_class(rows, many=True).data})


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The schema of a seed page of ``item``: ``{"total", "limit", "offset", "results": [...]}``."""
    return type(name, (serializers.Serializer,), {
        "__doc__": f"A page of {item.__name__.removesuffix('Serializer')} rows (limit/offset, with the total).",
        "total": serializers.IntegerField(), "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(), "results": item(many=True)})
