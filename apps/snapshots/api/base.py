"""What every snapshot and restore view shares: seed 004's permission strings, `{"detail"}` errors, limit/offset.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires snapshots:admin`). Lists page with `limit`/`offset` (default 100, at most 1000; runs
default to 50 as the seed says) and answer `{"total", "limit", "offset", "results"}`. With RESTORE_ENABLED off the
restore paths answer 404, as the seed's feature toggle does.
"""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it
from apps.core.exceptions import NotFound

from .. import rbac

MAX_LIMIT = 1000


class SnapshotsView(SeedView, component_prefix="Snapshots", permission_table=rbac.PERMISSIONS):
    permission = "snapshots:read"


class RestoreView(SnapshotsView):
    permission = "restore:read"

    def initial(self, request, *args, **kwargs):
        # The feature toggle hides the paths entirely, before authentication says anything about them.
        if not settings.MP_RESTORE_ENABLED:
            raise NotFound("Restore is disabled (RESTORE_ENABLED=false)")
        super().initial(request, *args, **kwargs)


def paging_parameters(default_limit: int = 100) -> list:
    return [OpenApiParameter("limit", int, description=f"Results per page (default {default_limit}, max {MAX_LIMIT})"),
            OpenApiParameter("offset", int, description="Starting position (default 0)")]
