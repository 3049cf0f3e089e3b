"""Seed 004's runbook permission strings on our roles (Django groups, apps/core/permissions.py).

Viewers read the catalog, executions, policies and stats; operators trigger and cancel; admins approve, reject and
change policies. A permission names the least role that holds it.
"""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import PermissionTable, highest_role, user_roles

PERMISSIONS = PermissionTable({
    "runbooks:read": Role.VIEWER,
    "runbooks:write": Role.OPERATOR,
    "runbooks:admin": Role.ADMIN,
})


def top_role(user) -> str:
    """The user's highest role: the policy row that applies when they trigger."""
    return highest_role(user) or ""


def holds(user, role: str) -> bool:
    return role in user_roles(user)
