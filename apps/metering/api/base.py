"""What every metering view shares: seed 004's permission strings, `{"detail"}` errors, the lookback and paging.

A missing or dead token answers 401 `Not authenticated`; a role without the permission 403 naming it
(`Permission denied: requires metering:read`). Sample lists take the seed's `hours` and `limit` (its defaults and
maxima per endpoint) and `offset`, and answer `{"data", "count", "total", "limit", "offset"}`: `count` is the rows in
`data` as the seed has it, `total` all that matched.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it
from apps.core.exceptions import InvalidInput

from .. import rbac


class MeteringView(SeedView, component_prefix="Metering", permission_table=rbac.PERMISSIONS):
    permission = "metering:read"
    write_permission = "metering:write"


def text(request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value and len(value) > 255:
        raise InvalidInput(f"Invalid parameter: {name} must be at most 255 characters")
    return value or None


def tenant_parameters() -> list:
    return [OpenApiParameter("project", str, description="Filter by project (tenant) name"),
            OpenApiParameter("domain", str, description="Filter by domain name")]


def window_parameters(hours: int, limit: int | None = None, max_limit: int | None = None) -> list:
    found = [OpenApiParameter("hours", int, description=f"Lookback window in hours (default {hours}, max 2160)")]
    if limit:
        found += [OpenApiParameter("limit", int, description=f"Result limit (default {limit}, max {max_limit})"),
                  OpenApiParameter("offset", int, description="Starting position (default 0)")]
    return found


def listing(item_serializer):
    """The schema of a sample list answer."""
    return type(f"{item_serializer.__name__.removesuffix('Serializer')}ListSerializer", (serializers.Serializer,), {
        "data": item_serializer(many=True), "count": serializers.IntegerField(help_text="Rows in data"),
        "total": serializers.IntegerField(help_text="Rows that matched"), "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField()})
