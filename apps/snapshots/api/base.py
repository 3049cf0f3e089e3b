"""What every snapshot and restore view shares: seed 004's permission strings, `{"detail"}` errors, limit/offset.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires snapshots:admin`). Lists page with `limit`/`offset` (default 100, at most 1000; runs
default to 50 as the seed says) and answer `{"total", "limit", "offset", "results"}`. With RESTORE_ENABLED off the
restore paths answer 404, as the seed's feature toggle does.
"""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from apps.core.api.detail import DetailAutoSchema, SeedView, query_number, seed_permission
from apps.core.api.detail import errors as errors  # the views document their errors with it
from apps.core.exceptions import NotFound

from .. import rbac

MAX_LIMIT = 1000


SeedPermission = seed_permission(rbac.allowed)


class SnapshotsAutoSchema(DetailAutoSchema):
    """Components named Snapshots* (the schema's namespace is shared)."""

    component_prefix = "Snapshots"


class SnapshotsView(SeedView):
    permission_classes = [SeedPermission]
    schema = SnapshotsAutoSchema()
    permission = "snapshots:read"


class RestoreView(SnapshotsView):
    permission = "restore:read"

    def initial(self, request, *args, **kwargs):
        # The feature toggle hides the paths entirely, before authentication says anything about them.
        if not settings.MP_RESTORE_ENABLED:
            raise NotFound("Restore is disabled (RESTORE_ENABLED=false)")
        super().initial(request, *args, **kwargs)


_number = query_number  # the shared whole-number query parameter


def page(request, queryset, serializer_class, *, default_limit: int = 100) -> Response:
    limit = _number(request, "limit", default_limit, 1, MAX_LIMIT)
    offset = _number(request, "offset", 0, 0, 10_000_000)
    total = queryset.count()
    rows = serializer_class(queryset[offset:offset + limit], many=True).data
    return Response({"total": total, "limit": limit, "offset": offset, "results": rows})


def paged(item_serializer):
    """The schema of a page of `item_serializer`."""
    return serializers.Serializer if item_serializer is None else type(
        f"{item_serializer.__name__.removesuffix('Serializer')}PageSerializer", (serializers.Serializer,), {
            "total": serializers.IntegerField(), "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(), "results": item_serializer(many=True)})


def paging_parameters(default_limit: int = 100) -> list:
    return [OpenApiParameter("limit", int, description=f"Results per page (default {default_limit}, max {MAX_LIMIT})"),
            OpenApiParameter("offset", int, description="Starting position (default 0)")]
