"""What every runbook view shares: seed 004's permission strings (apps/runbooks/rbac.py) and `{"detail"}` errors.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires runbooks:admin`).
"""
from __future__ import annotations

from apps.core.api.detail import DetailAutoSchema, SeedView, seed_permission

from .. import rbac


class RunbooksAutoSchema(DetailAutoSchema):
    component_prefix = "Runbooks"


class RunbooksView(SeedView):
    permission_classes = [seed_permission(rbac.PERMISSIONS)]
    schema = RunbooksAutoSchema()
    permission = "runbooks:read"
