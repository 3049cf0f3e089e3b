"""Celery entry point of the copilot: the history's retention (beat, hourly)."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="apps.copilot.tasks.prune_history", ignore_result=True)
def prune_history() -> int:
    return services.prune_history()
