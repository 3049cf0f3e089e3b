"""What every runbook view shares: seed 004's permission strings (apps/runbooks/rbac.py) and `{"detail"}` errors.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires runbooks:admin`).
"""
from __future__ import annotations

from rest_framework.views import APIView

from apps.core.api.detail import DetailAutoSchema, SeedRateLimited, detail_exception_handler, seed_permission

from .. import rbac


class RunbooksAutoSchema(DetailAutoSchema):
    component_prefix = "Runbooks"


class RunbooksView(SeedRateLimited, APIView):
    permission_classes = [seed_permission(rbac.allowed)]
    schema = RunbooksAutoSchema()
    permission = "runbooks:read"

    def get_exception_handler(self):
        return detail_exception_handler
