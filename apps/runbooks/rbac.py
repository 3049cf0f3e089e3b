"""Seed 004's runbook permission strings on our roles (Django groups, apps/core/permissions.py).

Viewers read the catalog, executions, policies and stats; operators trigger and cancel; admins approve, reject and
change policies. A permission names the least role that holds it.
"""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import user_roles

PERMISSIONS: dict[str, str] = {
    "runbooks:read": Role.VIEWER,
    "runbooks:write": Role.OPERATOR,
    "runbooks:admin": Role.ADMIN,
}

RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def allowed(user, permission: str) -> bool:
    return PERMISSIONS[permission] in user_roles(user) - {Role.AGENT}


def top_role(user) -> str:
    """The user's highest role: the policy row that applies when they trigger."""
    roles = [r for r in user_roles(user) if r in RANK]
    return max(roles, key=RANK.__getitem__) if roles else ""


def holds(user, role: str) -> bool:
    return role in user_roles(user)
