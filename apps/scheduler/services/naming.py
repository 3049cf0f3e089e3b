"""Schedules and machine groups are known by a unique name: one rule for a taken one."""
from __future__ import annotations

from django.db import IntegrityError, models, transaction

from apps.core.exceptions import Conflict


def save_named(row: models.Model, what: str) -> None:
    """Save `row`, whose `name` is unique among its kind: 409 DUPLICATE_NAME (with the holder's id when it is seen
    first) when another row has it."""
    clash = type(row).objects.filter(name=row.name).exclude(pk=row.pk).first()
    if clash is not None:
        raise Conflict(f"A {what} named '{row.name}' already exists", details={"id": clash.pk},
                       error_code="DUPLICATE_NAME")
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        # Lost a race with another write of the same name.
        raise Conflict(f"A {what} named '{row.name}' already exists", error_code="DUPLICATE_NAME") from exc
