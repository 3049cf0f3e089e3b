"""A schedule run's bookkeeping: its events, the queueing of its next advance, and the cancel of a deferred run.

The execution services, the schedule services and the tasks import this module, and it imports none of them.
"""
from __future__ import annotations

from celery import current_app
from django.db import transaction
from django.utils import timezone

from apps.core.jobs import record_event, transition

from .choices import EXECUTION_TRANSITIONS, ExecutionStatus
from .models import ScheduleExecution

JOB_KIND = "schedule_execution"
SCHEDULER_QUEUE = "scheduler"
ADVANCE_TASK = "apps.scheduler.tasks.advance_execution"


def event(execution: ScheduleExecution, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(JOB_KIND, execution.execution_id, step, message, level=level, **data)


def queue_advance(execution_id: int) -> None:
    """Have a worker advance a run once the current transaction commits.

    robust: a broker hiccup must not break the replication finish that triggered this; the sweep catches up.
    """
    # By name: the task module runs these services, so importing it here would close a loop.
    advance = current_app.signature(ADVANCE_TASK, args=[execution_id], queue=SCHEDULER_QUEUE)
    transaction.on_commit(advance.apply_async, robust=True)


def cancel_deferred(*, execution: ScheduleExecution, why: str) -> ScheduleExecution:
    now = timezone.now()
    transition(execution, ExecutionStatus.CANCELLED, transitions=EXECUTION_TRANSITIONS, completed_at=now,
               summary=f"Cancelled before it started: {why}")
    event(execution, "cancelled", execution.summary)
    return execution
