"""Counts the web's requests, server errors and time for seed 004's /metrics, shared by every web worker through
the cache. Each process adds its counts to the cache at most once a second, so a request costs no round trip."""
from __future__ import annotations

import threading
import time

from django.core.cache import cache

STARTED = time.time()
KEYS = ("requests", "errors", "total_ms")
PREFIX = "accounts:metrics:"
FLUSH_SECONDS = 1.0

_lock = threading.Lock()
_pending = dict.fromkeys(KEYS, 0)
_last_flush = 0.0


def _flush() -> None:
    """Move this process's counts into the cache (called with the lock held)."""
    global _last_flush
    for key in KEYS:
        if _pending[key]:
            cache.add(PREFIX + key, 0, timeout=None)
            try:
                cache.incr(PREFIX + key, _pending[key])
            except ValueError:  # evicted between add and incr: start again from this process's count
                cache.set(PREFIX + key, _pending[key], timeout=None)
            _pending[key] = 0
    _last_flush = time.monotonic()


def record(elapsed_ms: float, status: int) -> None:
    with _lock:
        _pending["requests"] += 1
        _pending["errors"] += status >= 500
        _pending["total_ms"] += round(elapsed_ms)
        if time.monotonic() - _last_flush >= FLUSH_SECONDS:
            _flush()


def figures() -> dict[str, int]:
    """Every web process's counts so far (this one's unflushed counts included)."""
    with _lock:
        _flush()
    values = cache.get_many([PREFIX + key for key in KEYS])
    return {key: int(values.get(PREFIX + key, 0)) for key in KEYS}


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        record((time.perf_counter() - started) * 1000, response.status_code)
        return response
