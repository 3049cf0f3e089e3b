"""The platform's roles as the admin's model permissions, so a role group is all a console user needs
(docs/operator-guide.md, "Users and roles"): a viewer views everything the platform records, an operator also edits
the platform's configuration and inventory and runs its admin actions, an admin may do everything (agents, users,
tokens). A superuser is an admin (apps/core/permissions.py). This backend authenticates nobody; it only answers
permission questions, beside Django's own ModelBackend."""
from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from apps.core.choices import Role
from apps.core.permissions import user_roles

# The apps whose records a viewer reads; an operator changes the ones in OPERATED.
VIEWED = {"platform_settings", "inventory", "replication", "failover", "scheduler", "enrollment", "core",
          "django_celery_beat", "snapshots"}
OPERATED = {"platform_settings", "inventory", "replication", "failover", "scheduler", "django_celery_beat"}


class RolePermissionBackend(BaseBackend):
    def has_perm(self, user_obj, perm, obj=None) -> bool:
        if not user_obj.is_active or "." not in perm:
            return False
        app_label, codename = perm.split(".", 1)
        roles = user_roles(user_obj)
        if Role.ADMIN in roles:
            return True
        if Role.OPERATOR in roles and app_label in OPERATED:
            return True
        return Role.VIEWER in roles and app_label in VIEWED and codename.startswith("view_")

    def has_module_perms(self, user_obj, app_label) -> bool:
        if not user_obj.is_active:
            return False
        roles = user_roles(user_obj)
        return Role.ADMIN in roles or (bool(roles & {Role.VIEWER, Role.OPERATOR}) and app_label in VIEWED)
