"""Every console page gets the portal's branding (product name, colours, logo) as ``portal_branding``."""
from __future__ import annotations

from . import selectors


def branding(request) -> dict:
    return {"portal_branding": selectors.branding_answer()}
