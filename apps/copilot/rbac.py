"""Seed 004's copilot permissions on our roles: anyone signed in asks, reads their history and gives feedback
(`copilot:read`, a viewer); only admins read or change the configuration and test the LLM (`copilot:admin`), since
it decides whether questions and data leave the platform."""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import PermissionTable

PERMISSIONS = PermissionTable({
    "copilot:read": Role.VIEWER,
    "copilot:admin": Role.ADMIN,
})
