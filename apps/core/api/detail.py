"""Seed 004's error shape, ``{"detail": "<what is wrong>"}``, for the apps that serve its paths (the planner's
``/api/migration/``, the portal's root paths): the common handler's message in that shape, and a schema that
documents it. The status codes are the platform's own (apps/core/exceptions.py)."""
from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, permissions, serializers
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from ..exceptions import InvalidInput, exception_handler
from ..pagination import MAX_OFFSET
from ..permissions import PermissionTable
from ..schema import PlatformAutoSchema
from .serializers import ErrorResponseSerializer


class DetailErrorSerializer(serializers.Serializer):
    """Seed 004's error: ``{"detail": "<what is wrong>"}``."""

    detail = serializers.CharField(help_text="What is wrong, for a person")


def errors(*codes: int) -> dict:
    """``responses={200: X, **errors(409)}`` in seed 004's error shape."""
    return {code: DetailErrorSerializer for code in codes}


def seed_permission(table: PermissionTable):
    """A permission class for views whose `permission` (reads) and `write_permission` (writes) are seed 004
    permission strings, which the app's table (its `rbac.PERMISSIONS`) maps onto our roles. A refusal names what was
    needed (`Permission denied: requires metering:read`)."""

    class SeedPermission(permissions.BasePermission):
        def has_permission(self, request, view) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False
            safe = request.method in permissions.SAFE_METHODS
            needed = view.permission if safe else getattr(view, "write_permission", view.permission)
            self.message = f"Permission denied: requires {needed}"
            return table.allowed(request.user, needed)

    return SeedPermission


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


class SeedRateThrottle(UserRateThrottle):
    """Seed 004's "100 requests per minute per user" (SEED_API_RATE), counted per user (per address before login)
    in the shared cache; what is left goes out in the seed's X-RateLimit-* headers (`SeedRateLimited`)."""

    scope = "seed"

    def get_rate(self) -> str:
        # Read at each request (not frozen at import as DRF's rates are), so a deployment or a test can set it.
        return settings.MP_SEED_API_RATE

    def allow_request(self, request, view) -> bool:
        allowed = super().allow_request(request, view)
        if self.rate is not None and self.key is not None:
            # The history is newest first; the window frees its oldest request first.
            oldest = self.history[-1] if self.history else self.now
            request.rate_limit = (self.num_requests, max(0, self.num_requests - len(self.history)),
                                  int(oldest + self.duration))
        return allowed


class SeedRateLimited:
    """A view mixin: seed 004's rate limit and its headers on every answer it counted (429 included)."""

    throttle_classes = [SeedRateThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        figures = getattr(request, "rate_limit", None)
        if figures is not None:
            limit, remaining, reset = figures
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = str(remaining)
            response["X-RateLimit-Reset"] = str(reset)
        return response


class SeedView(SeedRateLimited, APIView):
    # A view of a seed 004 app: its rate limit and its `{"detail"}` errors. An app's base view may name in its class
    # line its schema's component prefix and its permission table, `class PortalView(SeedView, component_prefix=
    # "Portal", permission_table=rbac.PERMISSIONS)`: the prefix makes its schema (a DetailAutoSchema naming
    # components Portal*), the table its permission class (`seed_permission` of it); an option left out leaves that
    # to the app (CopilotView names only its table, AccountsView and PlannerView only their prefix). A comment, not
    # a docstring: the schema describes an operation without a docstring of its own by the first one in its view's
    # ancestry.

    def __init_subclass__(cls, component_prefix: str | None = None, permission_table: PermissionTable | None = None,
                          **kwargs):
        super().__init_subclass__(**kwargs)
        if component_prefix is not None:
            schema_class = type(f"{component_prefix}AutoSchema", (DetailAutoSchema,), {"component_prefix": component_prefix})
            cls.schema = schema_class()
        if permission_table is not None:
            cls.permission_classes = [seed_permission(permission_table)]

    def get_exception_handler(self):
        return detail_exception_handler


def query_number(request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter from `low` to `high` (`default` when absent); else 400 in the seed's words
    (`Invalid parameter: limit must be between 1 and 20`)."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidInput(f"Invalid parameter: {name} must be between {low} and {high}")
    return value


_FLAG_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def flag(raw: str, error: str) -> bool:
    """The truth a query flag's word says (`_FLAG_WORDS`, any case); any other word is a 400 saying `error`."""
    try:
        return _FLAG_WORDS[raw.lower()]
    except KeyError:
        raise InvalidInput(error) from None


def query_flag(request, name: str, default: bool | None = None) -> bool | None:
    """A true/false query parameter (`default` when absent or empty); else 400 naming it."""
    raw = request.query_params.get(name)
    return default if raw in (None, "") else flag(raw, f"Invalid parameter: {name} must be true or false")


def query_page(request, *, default_limit: int = 100, max_limit: int = 1000) -> tuple[int, int]:
    """The seed's `limit` (rows, 1 to `max_limit`) and `offset` (rows skipped) query parameters."""
    return (query_number(request, "limit", default_limit, 1, max_limit),
            query_number(request, "offset", 0, 0, MAX_OFFSET))


def page_slice(request, rows, *, default_limit: int = 100) -> tuple[list, dict]:
    """The requested slice of `rows` (a queryset, or anything with `count()` or a length) and the seed's page fields
    (`total`, `limit`, `offset`)."""
    limit, offset = query_page(request, default_limit=default_limit)
    total = rows.count() if hasattr(rows, "count") and not isinstance(rows, list) else len(rows)
    return list(rows[offset:offset + limit]), {"total": total, "limit": limit, "offset": offset}


def page_answer(serializer_class, request, rows, **kwargs) -> Response:
    """A seed page: `{"total", "limit", "offset", "results": [...]}`."""
    rows, meta = page_slice(request, rows, **kwargs)
    return Response({**meta, "results": serializer_class(rows, many=True).data})


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a seed page of `item` rows (`page_answer`)."""
    name = item.__name__.removesuffix("Serializer")
    return type(f"{name}PageSerializer", (serializers.Serializer,), {
        "__doc__": f"A page of {name} rows (limit/offset, with the total).",
        "total": serializers.IntegerField(), "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(), "results": item(many=True)})
