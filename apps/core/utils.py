from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from django.db import IntegrityError, transaction

from .exceptions import ApplicationError, Conflict

GiB = 1024 ** 3


def whole_gib(size_bytes: int) -> int:
    """Bytes in whole GiB, rounded up (what a disk of that size needs); exact on integers."""
    return -(-size_bytes // GiB)


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as the seeds show timestamps."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def is_pk(value) -> bool:
    """Whether an identifier from a URL is a numeric primary key: ASCII digits only.

    ``str.isdigit`` alone also accepts '¹' or '٣', which ``int()`` or the database then refuse (a 500) or read as
    another number.
    """
    text = str(value)
    return text.isascii() and text.isdigit()


def by_pk(queryset, value, *, missing: Exception):
    """The row whose primary key a URL gave; `missing` (the caller's 404) when there is none, also for a value that
    is no primary key (never a 500)."""
    row = queryset.filter(pk=value).first() if is_pk(value) else None
    if row is None:
        raise missing
    return row


@contextmanager
def unique_or_conflict(message: str | ApplicationError, *, error_code: str = ""):
    """The block's writes in one transaction; a unique constraint they break is a 409 saying `message` (two writers
    racing for one name both pass a check made beforehand: the database has the last word). `message` may also be
    the whole error to answer, where an API wants another shape than a plain Conflict."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if isinstance(message, ApplicationError):
            raise message from None
        raise Conflict(message, error_code=error_code) from None
