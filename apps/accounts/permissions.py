"""Seed 004's permission strings (``users:read``, ``navigation:admin``...) on our roles (apps/core/permissions.py).

A string is ``<resource>:<level>``: ``read`` is for viewers and up, ``write`` for operators and up, ``admin`` for
admins. The exceptions are listed in ``OVERRIDES``: what a person does to their own notification preferences is a
write any signed-in user may make. A view names the string per HTTP method in ``requires``; ``PUBLIC`` opens a
method to anyone (the login page's branding, the public metrics).
"""
from __future__ import annotations

from rest_framework import permissions

from apps.core.choices import Role
from apps.core.permissions import LEVEL_ROLE, holds, user_roles

PUBLIC = "public"
AUTHENTICATED = "authenticated"
OVERRIDES = {
    "notifications:write": Role.VIEWER,  # one's own preferences
    "logs:read": Role.ADMIN,  # the seed: "Admin only"
}
# The resources this app guards, for the list of a user's permissions (GET /api/auth/me/navigation).
RESOURCES = ("users", "roles", "departments", "navigation", "settings", "notifications", "monitoring", "logs")


def role_for(permission: str) -> str:
    """The least role that holds ``permission``; an unknown level is admin-only (closed by default)."""
    if permission in OVERRIDES:
        return OVERRIDES[permission]
    level = permission.rpartition(":")[2]
    return LEVEL_ROLE.get(level, Role.ADMIN)


def has_permission(user, permission: str) -> bool:
    return holds(user, role_for(permission))


def permissions_of(user) -> list[str]:
    """Every permission string of this app's resources the user holds."""
    held = [f"{resource}:{level}" for resource in RESOURCES for level in LEVEL_ROLE]
    return [permission for permission in held if has_permission(user, permission)]


class SeedPermission(permissions.BasePermission):
    """The view's ``requires`` maps a method ("get" also for HEAD) to a permission string, PUBLIC or
    AUTHENTICATED. Agents hold none of them."""

    message = "Not authenticated"

    def has_permission(self, request, view) -> bool:
        required = requirement(view, request.method)
        if required == PUBLIC:
            return True
        if not request.user or not request.user.is_authenticated:
            return False
        if Role.AGENT in user_roles(request.user):
            self.message = "Permission denied: agents have no access to the portal's accounts"
            return False
        if required == AUTHENTICATED:
            return True
        self.message = f"Permission denied: requires {required}"
        return has_permission(request.user, required)


def requirement(view, method: str) -> str:
    method = "get" if method.upper() in ("GET", "HEAD", "OPTIONS") else method.lower()
    # A method the view does not name needs the strongest: nothing opens by omission.
    return getattr(view, "requires", {}).get(method, "accounts:admin")
