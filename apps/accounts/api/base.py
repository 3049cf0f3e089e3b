"""What every view of this app shares: seed 004's permission strings and its ``{"detail": ...}`` errors. Its
limit/offset pages with ``total`` and their schema are every seed-004 app's (apps/core/api/detail.py)."""
from __future__ import annotations

from rest_framework import permissions

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the views document their errors with it

from ..permissions import PUBLIC, SeedPermission, requirement


class AccountsView(SeedView, component_prefix="Portal"):
    permission_classes = [SeedPermission]
    requires: dict[str, str] = {}

    def get_permissions(self):
        # A public method also reads as public in the schema (no 401/403 documented on it).
        if self.request is not None and requirement(self, self.request.method) == PUBLIC:
            return [permissions.AllowAny()]
        return super().get_permissions()
