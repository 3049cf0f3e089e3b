"""Seed 004's error shape, ``{"detail": "<what is wrong>"}``, for the apps that serve its paths (the planner's
``/api/migration/``, the portal's root paths): the common handler's message in that shape, and a schema that
documents it. The status codes are the platform's own (apps/core/exceptions.py)."""
from __future__ import annotations

from collections.abc import Callable

from rest_framework import exceptions, permissions, serializers

from ..exceptions import InvalidInput, exception_handler
from ..schema import PlatformAutoSchema
from .serializers import ErrorResponseSerializer


class DetailErrorSerializer(serializers.Serializer):
    """Seed 004's error: ``{"detail": "<what is wrong>"}``."""

    detail = serializers.CharField(help_text="What is wrong, for a person")


def errors(*codes: int) -> dict:
    """``responses={200: X, **errors(409)}`` in seed 004's error shape."""
    return {code: DetailErrorSerializer for code in codes}


def detail_exception_handler(exc, context):
    """The common handler's message as ``{"detail"}``; a missing or dead token says only ``Not authenticated``, as
    seed 004's 401 does."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" in response.data:
        unauthenticated = isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed)
        response.data = {"detail": "Not authenticated" if unauthenticated else response.data["error"]}
    return response


class DetailAutoSchema(PlatformAutoSchema):
    """The platform's shared error answers in seed 004's shape; components named with the app's prefix."""

    component_prefix = ""

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
        # Components share one namespace with every app's ("Check", "User"...): the app's say whose they are.
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        return name if name.startswith(self.component_prefix) else f"{self.component_prefix}{name}"


def seed_permission(allowed: Callable[[object, str], bool]) -> type[permissions.BasePermission]:
    """A permission class reading the view's `permission` (reads) and `write_permission` (writes), seed 004
    permission strings that `allowed(user, permission)` (the app's rbac) answers; a refusal names what is needed."""

    class SeedPermission(permissions.BasePermission):
        def has_permission(self, request, view) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False
            safe = request.method in permissions.SAFE_METHODS
            needed = view.permission if safe else getattr(view, "write_permission", view.permission)
            self.message = f"Permission denied: requires {needed}"
            return allowed(request.user, needed)

    return SeedPermission


def query_number(request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter from `low` to `high` (`default` when absent); else 400 naming it."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}")
    return value
