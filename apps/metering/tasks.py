"""Celery entry point: beat calls it every minute; the sampler takes a round when the configured interval passed."""
from __future__ import annotations

from celery import shared_task

from . import sampler


@shared_task(name="apps.metering.tasks.sample_usage", ignore_result=True)
def sample_usage() -> bool:
    return sampler.sample()
