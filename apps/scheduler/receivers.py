"""Signal receivers: a finished replication job frees a slot in its run; migrate installs the beat sweep."""
from __future__ import annotations

import logging

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from apps.replication.signals import replication_finished

from . import selectors, services

logger = logging.getLogger(__name__)


@receiver(replication_finished, dispatch_uid="scheduler.advance_on_replication_finished")
def advance_on_replication_finished(sender, job, **kwargs) -> None:
    """Only queue work here; the run's own writes happen in the advance task, on a worker."""
    try:
        runs = set(selectors.runs_waiting_for_vm(job.vm_context_id))
        if job.schedule_execution_id:
            runs.add(job.schedule_execution_id)
        for execution_id in runs:
            services.queue_advance(execution_id)
    except Exception:  # never break the replication finish; the beat sweep advances runs anyway
        logger.exception("could not queue the scheduler advance for job=%s", getattr(job, "job_id", job))


SWEEP_NAME = "scheduler:sweep-executions"
SWEEP_TASK = "apps.scheduler.tasks.sweep_executions"
SWEEP_EVERY_SECONDS = 60


@receiver(post_migrate, dispatch_uid="scheduler.ensure_sweep_entry")
def ensure_sweep_entry(sender, **kwargs) -> None:
    """After every migrate, make sure beat has the scheduler's sweep (created once; operators may retune it)."""
    if getattr(sender, "label", None) != "scheduler":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=SWEEP_NAME).exists():
        return
    spec = {"every": SWEEP_EVERY_SECONDS, "period": IntervalSchedule.SECONDS}
    every = IntervalSchedule.objects.filter(**spec).first() or IntervalSchedule.objects.create(**spec)
    PeriodicTask.objects.create(
        name=SWEEP_NAME, task=SWEEP_TASK, interval=every, queue="scheduler", expire_seconds=SWEEP_EVERY_SECONDS,
        description="Starts deferred schedule runs when their window opens and advances every open run "
                    "(a lost finish message, a worker restart, a retry delay that passed).")
