"""Seed 004's copilot permissions on our roles: anyone signed in asks, reads their history and gives feedback
(`copilot:read`, a viewer); only admins read or change the configuration and test the LLM (`copilot:admin`), since
it decides whether questions and data leave the platform."""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import user_roles

PERMISSIONS: dict[str, str] = {
    "copilot:read": Role.VIEWER,
    "copilot:admin": Role.ADMIN,
}


def allowed(user, permission: str) -> bool:
    return PERMISSIONS[permission] in user_roles(user) - {Role.AGENT}
