"""What every /api/migration view shares: the seed's access levels, its error shape and their schema.

Seed 004 guards the planner with one resource, ``migration``, at three levels: ``read`` (our viewers and up),
``write`` (operators and up) and ``admin`` (admins). Its errors are ``{"detail": "..."}``, which these paths
answer (clients of seed 004 read ``detail``); the status codes are the platform's own (apps/core/exceptions.py).
"""
from __future__ import annotations

import math

from rest_framework import permissions, serializers
from rest_framework.response import Response

from apps.core.api.detail import SeedView
from apps.core.api.detail import errors as errors  # the planner's views document their errors with it
from apps.core.permissions import LEVEL_ROLE, RolePermission, holds

READ, WRITE, ADMIN = "read", "write", "admin"


class MigrationPermission(RolePermission):
    """The view's ``access`` names the level per HTTP method; reads default to read, writes to write."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        method = "get" if request.method in permissions.SAFE_METHODS else request.method.lower()
        level = getattr(view, "access", {}).get(method, READ if method == "get" else WRITE)
        self.message = f"Permission denied: requires migration:{level}"
        return holds(request.user, LEVEL_ROLE[level])


class PlannerView(SeedView, component_prefix="Migration"):
    permission_classes = [MigrationPermission]
    access: dict[str, str] = {}


def ok(body: dict, status: int = 200) -> Response:
    return Response(body, status=status)


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: NaN and infinities would pass min/max checks (every comparison is false)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value
