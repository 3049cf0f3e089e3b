"""Reads of the collected tables worth a name: freshness, owners, tenants."""
from __future__ import annotations

from django.utils import timezone

from . import models
from .choices import CollectionStatus


def freshness() -> dict:
    """When the data was collected and how old it is; the last run's failure, if it failed (CloudStack down)."""
    runs = list(models.Collection.objects.exclude(status=CollectionStatus.RUNNING)[:1])
    good = runs[0] if runs and runs[0].status == CollectionStatus.SUCCEEDED else \
        models.Collection.objects.filter(status=CollectionStatus.SUCCEEDED).first()
    last = runs[0] if runs else None
    at = good.finished_at if good else None
    return {
        "collected_at": at,
        "data_age_seconds": int((timezone.now() - at).total_seconds()) if at else None,
        "collection_duration_ms": good.duration_ms if good else None,
        "stale": bool(last and last.status == CollectionStatus.FAILED) or at is None,
        "last_error": last.error if last and last.status == CollectionStatus.FAILED else None,
    }
