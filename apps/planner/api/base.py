"""What every /api/migration view shares: the seed's access levels, its error shape and their schema.

Seed 004 guards the planner with one resource, ``migration``, at three levels: ``read`` (our viewers and up),
``write`` (operators and up) and ``admin`` (admins). Its errors are ``{"detail": "..."}``, which these paths
answer (clients of seed 004 read ``detail``); the status codes are the platform's own (apps/core/exceptions.py).
"""
from __future__ import annotations

import math

from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import ErrorResponseSerializer
from apps.core.choices import Role
from apps.core.exceptions import exception_handler
from apps.core.permissions import RolePermission, user_roles
from apps.core.schema import PlatformAutoSchema

READ, WRITE, ADMIN = "read", "write", "admin"
LEVEL_ROLE = {READ: Role.VIEWER, WRITE: Role.OPERATOR, ADMIN: Role.ADMIN}


class DetailErrorSerializer(serializers.Serializer):
    """Seed 004's error: ``{"detail": "<what is wrong>"}``."""

    detail = serializers.CharField(help_text="What is wrong, for a person")


def errors(*codes: int) -> dict:
    return {code: DetailErrorSerializer for code in codes}


class MigrationPermission(RolePermission):
    """The view's ``access`` names the level per HTTP method; reads default to read, writes to write."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        method = "get" if request.method in permissions.SAFE_METHODS else request.method.lower()
        level = getattr(view, "access", {}).get(method, READ if method == "get" else WRITE)
        self.message = f"Permission denied: requires migration:{level}"
        return LEVEL_ROLE[level] in user_roles(request.user) - {Role.AGENT}


def detail_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" in response.data:
        response.data = {"detail": response.data["error"]}
    return response


class PlannerAutoSchema(PlatformAutoSchema):
    """The platform's shared error answers, documented in seed 004's shape."""

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        if serializer is ErrorResponseSerializer:
            serializer = DetailErrorSerializer
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        # Seed 004 names its choice fields as other apps do ("status", "overall") with other values; as named enum
        # components they would collide with theirs. Kept inline (under allOf, which the enum hook leaves alone).
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(schema, dict) and "enum" in schema:
            schema.pop("x-spec-enum-id", None)
            schema["allOf"] = [{key: schema.pop(key) for key in ("type", "enum") if key in schema}]
        return schema

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        # Our components share a namespace with every app's ("Check", "Assignment"...): ours say whose they are.
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        return name if name.startswith("Migration") else f"Migration{name}"


class PlannerView(APIView):
    permission_classes = [MigrationPermission]
    schema = PlannerAutoSchema()
    access: dict[str, str] = {}

    def get_exception_handler(self):
        return detail_exception_handler


def ok(body: dict, status: int = 200) -> Response:
    return Response(body, status=status)


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: NaN and infinities would pass min/max checks (every comparison is false)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value
