"""Celery entry points of the portal: the collector (beat, every MP_PORTAL_COLLECT_INTERVAL seconds), which also
applies the CloudStack events' retention (MP_PORTAL_EVENT_RETENTION_DAYS)."""
from __future__ import annotations

from celery import shared_task

from . import collector


@shared_task(name="apps.portal.tasks.collect_cloudstack")
def collect_cloudstack() -> dict:
    """Read CloudStack into the portal's tables, then prune the events past their retention; a summary of the run
    (skipped when no CloudStack is configured: the retention still applies)."""
    try:
        run = collector.collect()
    except collector.CollectorUnavailable as exc:
        return {"status": "skipped", "reason": str(exc), "events_pruned": collector.prune_events()}
    return {"status": run.status, "duration_ms": run.duration_ms, "changes": run.changes, "error": run.error,
            "events_pruned": collector.prune_events()}
