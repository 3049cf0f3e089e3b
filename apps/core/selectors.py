"""Reads worth a name in core: the database's state and who a request comes from."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
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


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    """Whether ``address`` is one of ``MP_TRUSTED_PROXIES`` (addresses or networks), whose forwarded headers count."""
    parsed = _address(address)
    return parsed is not None and any(parsed in network
                                      for network in _networks(tuple(settings.MP_TRUSTED_PROXIES)))


def is_loopback(address: str | None) -> bool:
    parsed = _address(address)
    return parsed is not None and parsed.is_loopback


def client_ip(request) -> str | None:
    """The client's address, for throttles, lockouts and audit rows.

    The peer's address, unless the peer is a trusted proxy: then the X-Forwarded-For hops are read from the right
    (each appended by a proxy) and the first one that is not itself a trusted proxy is the client. Anything left of
    it was written by the client and is never believed, so a client cannot pick a new address per request.
    """
    client = request.META.get("REMOTE_ADDR")
    if not is_trusted_proxy(client):
        return client
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(hops):
        if _address(hop) is None:
            break
        client = hop
        if not is_trusted_proxy(hop):
            break
    return client
