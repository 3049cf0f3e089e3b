"""Celery entry points: thin, the runner runs the approved execution; escalation tells the admins of overdue ones."""
from __future__ import annotations

from celery import shared_task

from . import escalation, runner


@shared_task(name="apps.runbooks.tasks.run_execution", ignore_result=True)
def run_execution(execution_id: str) -> None:
    runner.execute(execution_id)


@shared_task(name="apps.runbooks.tasks.escalate_overdue", ignore_result=True)
def escalate_overdue() -> int:
    return len(escalation.escalate_overdue())
