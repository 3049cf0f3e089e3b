"""Seed 004's permission strings (`dashboard:read`, `drift:write`...) on our roles, in one table.

The seed's roles are viewer, operator, admin and superadmin; ours are Django groups (apps/core/permissions.py):
viewer reads, operator changes, admin manages. A permission string names the least role that holds it; a role
holds everything its rank implies (apps.core.permissions.PermissionTable). Superusers show as the seed's `superadmin`.
"""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import PermissionTable, highest_role

PERMISSIONS = PermissionTable({
    "dashboard:read": Role.VIEWER,
    "resources:read": Role.VIEWER,  # the infrastructure lists
    "resources:admin": Role.ADMIN,  # /admin/flavors, /admin/networks, /admin/security-groups...: writes to CloudStack
    "history:read": Role.VIEWER,
    "audit:read": Role.VIEWER,
    "drift:read": Role.VIEWER,
    "drift:write": Role.OPERATOR,  # acknowledge events, enable or disable rules
    "tenant_health:read": Role.VIEWER,
    "tenant_health:admin": Role.ADMIN,
})



def seed_role(user) -> str:
    """The seed's name for the user's highest role."""
    return "superadmin" if user.is_superuser else highest_role(user) or "none"
