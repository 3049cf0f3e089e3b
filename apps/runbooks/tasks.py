"""Celery entry point: thin, the runner runs the approved execution."""
from __future__ import annotations

from celery import shared_task

from . import runner


@shared_task(name="apps.runbooks.tasks.run_execution", ignore_result=True)
def run_execution(execution_id: str) -> None:
    runner.execute(execution_id)
