"""What every portal view shares: seed 004's permission strings, its `{"detail"}` errors, its paging, freshness.

The seed's errors are `{"detail": "..."}` with the platform's status codes (apps/core/exceptions.py); a missing or
dead token answers 401 `Not authenticated`, a role without the view's permission 403 naming it
(`Permission denied: requires drift:write`). Lists page with `limit`/`offset` (default 100, at most 1000) or the
seed's `page`/`page_size` where it shows them, and answer `total`. Every answer from collected data says when it
was collected (`freshness`).
"""
from __future__ import annotations

from apps.core.api.detail import DetailAutoSchema, SeedView, seed_permission
from apps.core.api.detail import errors as errors  # the portal's views document their errors with it
from apps.core.exceptions import InvalidInput

from .. import rbac

MAX_LIMIT = 1000


SeedPermission = seed_permission(rbac.allowed)


class PortalAutoSchema(DetailAutoSchema):
    """Components named Portal* (they share the schema's namespace)."""

    component_prefix = "Portal"


class PortalView(SeedView):
    permission_classes = [SeedPermission]
    schema = PortalAutoSchema()
    permission = "dashboard:read"


def number(request, name: str, default: int | None, lowest: int, highest: int) -> int | None:
    """A whole-number query parameter within bounds, else 400 naming it."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"Invalid parameter: {name} must be a whole number") from None
    if not lowest <= value <= highest:
        raise InvalidInput(f"Invalid parameter: {name} must be between {lowest} and {highest}")
    return value


def choice(request, name: str, default: str | None, options) -> str | None:
    value = request.query_params.get(name) or default
    if value is not None and value not in options:
        raise InvalidInput(f"Invalid parameter: {name} must be one of {', '.join(options)}")
    return value


def flag(request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"Invalid parameter: {name} must be true or false")


def page_window(request, *, default_limit: int = 100) -> dict:
    """`limit`/`offset`, or the seed's `page`/`page_size` where given: the slice and how to report it."""
    if "page" in request.query_params or "page_size" in request.query_params:
        page = number(request, "page", 1, 1, 1_000_000)
        size = number(request, "page_size", 50, 1, MAX_LIMIT)
        return {"offset": (page - 1) * size, "limit": size, "page": page, "page_size": size}
    return {"offset": number(request, "offset", 0, 0, 10**9), "limit": number(request, "limit", default_limit, 1,
                                                                              MAX_LIMIT)}
