"""What every copilot view shares: seed 004's permission strings and `{"detail"}` errors, its rate limit.

A missing or dead token answers 401 `Not authenticated`; a role without the view's permission 403 naming it
(`Permission denied: requires copilot:admin`).
"""
from __future__ import annotations

from rest_framework import permissions
from rest_framework.views import APIView

from apps.core.api.detail import DetailAutoSchema, SeedRateLimited, detail_exception_handler
from apps.core.api.detail import errors as errors  # the views document their errors with it

from .. import rbac


class SeedPermission(permissions.BasePermission):
    """The view's `permission` is a seed 004 permission string (apps/copilot/rbac.py)."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        self.message = f"Permission denied: requires {view.permission}"
        return rbac.allowed(request.user, view.permission)


class CopilotAutoSchema(DetailAutoSchema):
    """Components named Copilot* (the schema's namespace is shared)."""

    component_prefix = "Copilot"

    def get_tags(self) -> list[str]:
        return ["copilot"]


class CopilotView(SeedRateLimited, APIView):
    permission_classes = [SeedPermission]
    schema = CopilotAutoSchema()
    permission = "copilot:read"

    def get_exception_handler(self):
        return detail_exception_handler
