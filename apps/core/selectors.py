from __future__ import annotations

from django.db import connection
from django.db.utils import DatabaseError


def database_status() -> str:
    """A real round trip, so a dead database shows up as 'disconnected'."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "connected"
    except DatabaseError:
        return "disconnected"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")
