"""Celery entry points of the portal: the collector (beat, every MP_PORTAL_COLLECT_INTERVAL seconds)."""
from __future__ import annotations

from celery import shared_task

from . import collector


@shared_task(name="apps.portal.tasks.collect_cloudstack")
def collect_cloudstack() -> dict:
    """Read CloudStack into the portal's tables; a summary of the run (skipped when no CloudStack is configured)."""
    try:
        run = collector.collect()
    except collector.CollectorUnavailable as exc:
        return {"status": "skipped", "reason": str(exc)}
    return {"status": run.status, "duration_ms": run.duration_ms, "changes": run.changes, "error": run.error}
