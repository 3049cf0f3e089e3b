"""What every copilot view shares: seed 004's permission strings and `{"detail"}` errors, its rate limit.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires copilot:admin`).
"""
from __future__ import annotations

from apps.core.api.detail import DetailAutoSchema, SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it

from .. import rbac


class CopilotAutoSchema(DetailAutoSchema):
    """Components named Copilot* (the schema's namespace is shared)."""

    component_prefix = "Copilot"

    def get_tags(self) -> list[str]:
        return ["copilot"]


class CopilotView(SeedView, permission_table=rbac.PERMISSIONS):
    # Reads and writes alike need the view's `permission` (no view sets a `write_permission`).
    schema = CopilotAutoSchema()
    permission = "copilot:read"
