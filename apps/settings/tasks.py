"""Celery entry points of the settings app: the orphan sweep of recorded CloudStack resources (beat)."""
from __future__ import annotations

from celery import shared_task

from . import volumes


@shared_task(name="apps.settings.tasks.sweep_orphans")
def sweep_orphans() -> dict:
    """Every few minutes (beat): remove recorded CloudStack resources no live job owns; list what is left."""
    return volumes.sweep()
