"""Celery entry points of the scheduler: thin, they load what they need and call a service."""
from __future__ import annotations

from celery import shared_task

from . import services
from .choices import ExecutionTrigger
from .models import SyncSchedule


@shared_task(name="apps.scheduler.tasks.run_schedule", ignore_result=True)
def run_schedule(schedule_id: int) -> str | None:
    """What beat fires for a schedule: start a run (or defer it to the sync window)."""
    schedule = SyncSchedule.objects.filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled:
        return None  # deleted or disabled after beat sent this
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.SCHEDULED,
                                         triggered_by="celery-beat")
    return execution.execution_id if execution else None


@shared_task(name="apps.scheduler.tasks.advance_execution", ignore_result=True)
def advance_execution(execution_id: int) -> None:
    """Queued when one of the run's syncs ended: record it and start the next queued VMs."""
    services.execution_advance(execution_id=execution_id)


@shared_task(name="apps.scheduler.tasks.sweep_executions", ignore_result=True)
def sweep_executions() -> dict:
    """Beat's once-a-minute safety net (see services.execution_sweep)."""
    return services.execution_sweep()
