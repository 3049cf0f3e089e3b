"""Roles are Django groups: viewer reads, operator starts work and edits config, admin manages agents/users.

The agent role stands apart: an agent's token reaches only the operations a view opens to it by name
(``agent_methods = ("post",)``), so a stolen agent key cannot configure the platform, and an endpoint added later is
closed to agents unless it opts in.
"""
from __future__ import annotations

from rest_framework import permissions

from .choices import Role

# Each role includes the ones it outranks.
_IMPLIED = {
    Role.ADMIN: {Role.ADMIN, Role.OPERATOR, Role.VIEWER},
    Role.OPERATOR: {Role.OPERATOR, Role.VIEWER},
    Role.VIEWER: {Role.VIEWER},
    Role.AGENT: {Role.AGENT},
}


def user_roles(user) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {Role.ADMIN, Role.OPERATOR, Role.VIEWER}
    cached = getattr(user, "_mp_roles", None)
    if cached is None:
        cached = set()
        for name in user.groups.values_list("name", flat=True):
            cached |= _IMPLIED.get(name, set())
        user._mp_roles = cached
    return cached


# Seed 004's roles, highest first, and its permission strings' levels (`users:read`, `drift:write`, `restore:admin`)
# with the least of our roles that holds each.
PEOPLE_ROLES = (Role.ADMIN, Role.OPERATOR, Role.VIEWER)
LEVEL_ROLE = {"read": Role.VIEWER, "write": Role.OPERATOR, "admin": Role.ADMIN}


def holds(user, role: str) -> bool:
    """Whether the user holds `role` or outranks it. Seed 004's permissions are for people: an agent holds none."""
    return role in user_roles(user) - {Role.AGENT}


def highest_role(user) -> str | None:
    """The highest of the user's roles (admin > operator > viewer), as seed 004 shows one role per user."""
    roles = user_roles(user)
    return next((role for role in PEOPLE_ROLES if role in roles), None)


class PermissionTable(dict):
    """One app's seed 004 permission strings, each mapped to the least of our roles that holds it; the app's
    `rbac.PERMISSIONS`, which its views' permission class (apps.core.api.detail.seed_permission) reads."""

    def allowed(self, user, permission: str) -> bool:
        return holds(user, self[permission])

    def granted(self, user) -> list[str]:
        """The permission strings the user holds, sorted."""
        return sorted(permission for permission in self if self.allowed(user, permission))


def agent_may(view, method: str) -> bool:
    """Whether the view opens this HTTP method to agents (HEAD goes with GET)."""
    method = method.lower()
    opened = {m.lower() for m in getattr(view, "agent_methods", ())}
    return method in opened or (method == "head" and "get" in opened)


class RolePermission(permissions.BasePermission):
    """Default policy: viewers read, operators write; a view narrows it with ``read_roles`` / ``write_roles`` and
    opens methods to agents with ``agent_methods``. Naming the agent in the role lists grants it nothing."""

    default_read_roles = (Role.VIEWER,)
    default_write_roles = (Role.OPERATOR,)
    message = "Your role does not allow this action"

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        roles = user_roles(request.user)
        if Role.AGENT in roles and agent_may(view, request.method):
            return True
        if request.method in permissions.SAFE_METHODS:
            allowed = getattr(view, "read_roles", self.default_read_roles)
        else:
            allowed = getattr(view, "write_roles", self.default_write_roles)
        # Only an explicit agent_methods opens a view to agents.
        return bool((roles - {Role.AGENT}) & (set(allowed) - {Role.AGENT}))


class AdminOnly(RolePermission):
    default_read_roles = (Role.ADMIN,)
    default_write_roles = (Role.ADMIN,)

    def has_permission(self, request, view) -> bool:
        return Role.ADMIN in user_roles(request.user)
