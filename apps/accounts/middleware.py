"""Counts the web's requests, server errors and time for seed 004's /metrics, and per endpoint (the URL's route
pattern and the method) for metering's API usage; shared by every web worker through the cache. Each process adds
its counts to the cache at most once a second, so a request costs no round trip.

An endpoint is the route the request resolved to (`/api/metering/pricing/<str:pricing_id>`, ids left as the
pattern's), not the raw path, so ids do not multiply the counters; a request no route matched counts under
`UNMATCHED`. Per endpoint, an error is an answer >= 400 (the caller's call failed); /metrics' error rate counts
server errors (>= 500) only, as before. Each endpoint also counts its requests by time taken in `BUCKETS_MS`
(the last bucket: slower than the last bound), from which metering estimates p95/p99.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from bisect import bisect_left
from collections import defaultdict

from django.core.cache import cache

STARTED = time.time()
KEYS = ("requests", "errors", "total_ms")
# Upper bounds (ms) of the latency buckets each endpoint counts in, and one more for anything slower.
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_KEYS = tuple(f"le{bound}" for bound in BUCKETS_MS) + ("slower",)
# Per endpoint the time is counted in microseconds: most API answers take under a millisecond or two, and whole
# milliseconds per request would count a 0.4 ms answer as none.
ENDPOINT_KEYS = ("requests", "errors", "total_us") + BUCKET_KEYS
PREFIX = "accounts:metrics:"
ENDPOINTS_KEY = PREFIX + "endpoints"  # the "METHOD endpoint" names counted so far, for the sampler to read
FLUSH_SECONDS = 1.0
UNMATCHED = "(unmatched)"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")

_lock = threading.Lock()
_pending = dict.fromkeys(KEYS, 0)
_pending_endpoints: dict[str, list[int]] = defaultdict(lambda: [0] * len(ENDPOINT_KEYS))
_registered: set[str] = set()
_last_flush = 0.0


def endpoint_of(request) -> str:
    """The route pattern the request resolved to, as a path: `<int:pk>` stays, a regex group becomes `<name>`."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    if not route:
        return UNMATCHED
    route = _REGEX_GROUP.sub(lambda m: f"<{m.group(1)}>", route).replace("^", "").replace("$", "").replace("\\", "")
    return "/" + route.lstrip("/")


def _name(endpoint: str, method: str) -> str:
    return f"{method} {endpoint}"


def _key(name: str, field: str) -> str:
    # Hashed: a route may hold characters some cache backends refuse in keys.
    return f"{PREFIX}ep:{hashlib.sha1(name.encode()).hexdigest()[:20]}:{field}"


def _add(key: str, amount: int) -> None:
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key, amount)
    except ValueError:  # evicted between add and incr: start again from this process's count
        cache.set(key, amount, timeout=None)


def _register(names) -> None:
    """Add endpoint names to the cache's list. Two processes adding at once may lose one's names: each process
    checks its own are still listed at every flush and adds them again, so a lost name comes back a second later."""
    known = set(cache.get(ENDPOINTS_KEY) or ())
    if not set(names) <= known:
        cache.set(ENDPOINTS_KEY, sorted(known | set(names)), timeout=None)


def _flush() -> None:
    """Move this process's counts into the cache (called with the lock held)."""
    global _last_flush
    for key in KEYS:
        if _pending[key]:
            _add(PREFIX + key, _pending[key])
            _pending[key] = 0
    if _pending_endpoints:
        _registered.update(_pending_endpoints)
    if _registered:
        _register(_registered)
    for name, counts in _pending_endpoints.items():
        for field, amount in zip(ENDPOINT_KEYS, counts, strict=True):
            if amount:
                _add(_key(name, field), amount)
    _pending_endpoints.clear()
    _last_flush = time.monotonic()


def record(elapsed_ms: float, status: int, endpoint: str = UNMATCHED, method: str = "GET") -> None:
    with _lock:
        _pending["requests"] += 1
        _pending["errors"] += status >= 500
        _pending["total_ms"] += round(elapsed_ms)
        counts = _pending_endpoints[_name(endpoint, method if method in METHODS else "OTHER")]
        counts[0] += 1
        counts[1] += status >= 400
        counts[2] += round(elapsed_ms * 1000)
        counts[len(KEYS) + bisect_left(BUCKETS_MS, elapsed_ms)] += 1
        if time.monotonic() - _last_flush >= FLUSH_SECONDS:
            _flush()


def figures() -> dict[str, int]:
    """Every web process's counts so far (this one's unflushed counts included)."""
    with _lock:
        _flush()
    values = cache.get_many([PREFIX + key for key in KEYS])
    return {key: int(values.get(PREFIX + key, 0)) for key in KEYS}


def endpoint_figures() -> dict[tuple[str, str], dict[str, int]]:
    """(endpoint, method) -> requests, errors (>= 400), total_us and the latency buckets' counts so far, every web
    process's."""
    with _lock:
        _flush()
    names = list(cache.get(ENDPOINTS_KEY) or ())
    values = cache.get_many([_key(name, field) for name in names for field in ENDPOINT_KEYS])
    found = {}
    for name in names:
        method, _, endpoint = name.partition(" ")
        found[(endpoint, method)] = {field: int(values.get(_key(name, field), 0)) for field in ENDPOINT_KEYS}
    return found


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        # resolver_match is set once the URL resolved (during get_response): the route, not the path.
        record((time.perf_counter() - started) * 1000, response.status_code, endpoint_of(request),
               request.method)
        return response
