"""What every runbook view shares: seed 004's permission strings (apps/runbooks/rbac.py) and `{"detail"}` errors.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires runbooks:admin`).
"""
from __future__ import annotations

from apps.core.api.detail import SeedView

from .. import rbac


class RunbooksView(SeedView, component_prefix="Runbooks", permission_table=rbac.PERMISSIONS):
    permission = "runbooks:read"
