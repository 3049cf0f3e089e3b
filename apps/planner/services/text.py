"""Literal find-and-replace shared by the tenants' and the network mappings' bulk edits."""
from __future__ import annotations

import re


def replace_literal(value: str, find: str, replace: str, case_sensitive: bool) -> str:
    """``find`` as plain text (never a pattern); case-insensitive unless asked otherwise."""
    if case_sensitive:
        return value.replace(find, replace)
    return re.sub(re.escape(find), lambda _: replace, value, flags=re.IGNORECASE)
