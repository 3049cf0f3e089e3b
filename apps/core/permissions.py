"""Roles are Django groups: viewer reads, operator starts work and edits config, admin manages agents/users."""
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


class RolePermission(permissions.BasePermission):
    """Default policy; a view narrows it with ``read_roles`` / ``write_roles``."""

    default_read_roles = (Role.VIEWER, Role.AGENT)
    default_write_roles = (Role.OPERATOR, Role.AGENT)
    message = "Your role does not allow this action"

    def has_permission(self, request, view) -> bool:
        roles = user_roles(request.user)
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            allowed = getattr(view, "read_roles", self.default_read_roles)
        else:
            allowed = getattr(view, "write_roles", self.default_write_roles)
        return bool(roles & set(allowed))


class AdminOnly(RolePermission):
    default_read_roles = (Role.ADMIN,)
    default_write_roles = (Role.ADMIN,)

    def has_permission(self, request, view) -> bool:
        return Role.ADMIN in user_roles(request.user)
