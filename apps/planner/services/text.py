"""Literal find-and-replace over one text field of many rows, shared by the tenants' target names and the network
mappings' targets (seed 004's bulk-replace endpoints)."""
from __future__ import annotations

import re
from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet

from apps.core.exceptions import NotFound


def replace_literal(value: str, find: str, replace: str, case_sensitive: bool) -> str:
    """``find`` as plain text (never a pattern); case-insensitive unless asked otherwise."""
    if case_sensitive:
        return value.replace(find, replace)
    return re.sub(re.escape(find), lambda _: replace, value, flags=re.IGNORECASE)


@transaction.atomic
def bulk_replace(rows: QuerySet, *, field: str, confirmed_field: str, describe: Callable[[object], dict], find: str,
                 replace: str, case_sensitive: bool, unconfirmed_only: bool, preview_only: bool) -> dict:
    """Rows whose ``field`` changes become unconfirmed; ``preview_only`` answers the same and changes nothing."""
    if unconfirmed_only:
        rows = rows.filter(**{confirmed_field: False})
    preview, changed = [], []
    for row in rows.select_for_update():
        old = getattr(row, field)
        new = replace_literal(old, find, replace, case_sensitive)[:255]
        if new == old:
            continue
        preview.append({"id": row.pk, **describe(row), "old_value": old, "new_value": new})
        setattr(row, field, new)
        setattr(row, confirmed_field, False)
        changed.append(row)
    if changed and not preview_only:
        rows.model.objects.bulk_update(changed, [field, confirmed_field])
    return {"status": "ok", "preview": preview, "affected_count": len(preview)}


def child_get(queryset: QuerySet, key, what: str):
    """One row of the project by its numeric id from the path, or a 404 naming what was asked for."""
    try:
        return queryset.get(pk=int(key))
    except (ValueError, TypeError, OverflowError, queryset.model.DoesNotExist):
        raise NotFound(f"{what} {str(key)[:32]!r} not found in this project") from None
