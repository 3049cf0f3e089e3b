"""Failover settings.

Each is a Django setting read with ``getattr`` (tests and deployments override it in settings), falling back to an
``MP_*`` environment variable of the same name, then to a default. ``docs/failover.md`` lists them.
"""
from __future__ import annotations

import os

from django.conf import settings


def _number(name: str, default: float) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    return float(os.environ.get(name, default))


def sync_warn_age() -> int:
    """A last sync older than this (seconds) is a readiness warning."""
    return int(_number("MP_FAILOVER_SYNC_WARN_AGE", 24 * 3600))


def stale_seconds() -> int:
    """A running failover step that has not reported for this long is failed and rolled back by the reaper."""
    return int(_number("MP_FAILOVER_STALE_SECONDS", 3600))


def final_sync_poll_seconds() -> float:
    """How often the waiting live failover re-checks its final sync (besides the sync's own finish signal)."""
    return _number("MP_FAILOVER_SYNC_POLL_SECONDS", 30)


def final_sync_timeout() -> int:
    """A live failover gives up on its final sync after this many seconds."""
    return int(_number("MP_FAILOVER_FINAL_SYNC_TIMEOUT", 12 * 3600))


def webhook_timeout() -> float:
    return _number("MP_FAILOVER_WEBHOOK_TIMEOUT", 10)


def custom_cpu_speed() -> int:
    """The cpuSpeed (MHz) a deploy on a customized compute offering without a speed of its own sends."""
    return int(_number("MP_FAILOVER_CPU_SPEED_MHZ", 2000))
