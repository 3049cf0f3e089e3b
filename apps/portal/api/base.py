"""What every portal view shares: seed 004's permission strings, its `{"detail"}` errors, its paging, freshness.

The seed's errors are `{"detail": "..."}` with the platform's status codes (apps/core/exceptions.py); a missing or
dead token answers 401 `Not authenticated`, a role without the view's permission 403 naming it
(`Permission denied: requires drift:write`). Lists page with `limit`/`offset` (default 100, at most 1000) or the
seed's `page`/`page_size` where it shows them, and answer `total`. Every answer from collected data says when it
was collected (`freshness`).
"""
from __future__ import annotations

from apps.core.api.detail import SeedView, query_number, query_page
from apps.core.api.detail import errors as errors  # the portal's views document their errors with it
from apps.core.exceptions import InvalidInput

from .. import rbac

MAX_LIMIT = 1000


class PortalView(SeedView, component_prefix="Portal", permission_table=rbac.PERMISSIONS):
    permission = "dashboard:read"


def choice(request, name: str, default: str | None, options) -> str | None:
    value = request.query_params.get(name) or default
    if value is not None and value not in options:
        raise InvalidInput(f"Invalid parameter: {name} must be one of {', '.join(options)}")
    return value


def page_window(request, *, default_limit: int = 100) -> dict:
    """`limit`/`offset`, or the seed's `page`/`page_size` where given: the slice and how to report it."""
    if "page" in request.query_params or "page_size" in request.query_params:
        page = query_number(request, "page", 1, 1, 1_000_000)
        size = query_number(request, "page_size", 50, 1, MAX_LIMIT)
        return {"offset": (page - 1) * size, "limit": size, "page": page, "page_size": size}
    limit, offset = query_page(request, default_limit=default_limit, max_limit=MAX_LIMIT)
    return {"offset": offset, "limit": limit}
