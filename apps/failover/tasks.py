"""Celery entry points: thin, they call the conductor; and the housekeeping beat's round, which queues them.

Not acks_late: a failover step must not run twice because a broker redelivered its message while the first worker
still works on it; a worker that dies is noticed by the housekeeping beat (stale heartbeat) and rolled back.
Tasks import only the conductor and the job bookkeeping (`jobs`); services import this module, never the reverse.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import conductor, jobs
from .choices import ACTIVE, FailoverStatus, FailoverType
from .models import FailoverJob

logger = logging.getLogger(__name__)


def _conductor_task(name: str, entry: Callable[[str], object]):
    """A thin task: one conductor entry point for one job, under the task name the queues and the logs know."""
    def task(job_id: str) -> None:
        entry(job_id)

    # Named before Celery wraps it, so the task's class, its repr and tracebacks say which task it is.
    task.__name__ = task.__qualname__ = name
    return shared_task(name=f"apps.failover.tasks.{name}", acks_late=False)(task)


run_failover = _conductor_task("run_failover", conductor.run)
resume_after_final_sync = _conductor_task("resume_after_final_sync", conductor.check_final_sync)
end_test_failover = _conductor_task("end_test_failover", conductor.end_test)
cleanup_failed_failover = _conductor_task("cleanup_failed_failover", conductor.retry_cleanup)
power_on_source = _conductor_task("power_on_source", conductor.retry_power_on)


@shared_task(name="apps.failover.tasks.failover_housekeeping")
def failover_housekeeping() -> dict:
    """Every minute (beat): automatic test cleanup, final-sync checks, stale jobs."""
    return housekeeping()


def _auto_end_test(job: FailoverJob) -> bool:
    """A test failover whose duration ran out enters cleanup, unless it changed meanwhile."""
    with transaction.atomic():
        row = FailoverJob.objects.select_for_update().get(pk=job.pk)
        if not row.test_running:
            logger.warning("auto cleanup skipped job=%s reason=%s", job.job_id, f"it is '{row.status}' now")
            return False
        jobs.start_test_end(row, requested_by="auto-cleanup")
        transaction.on_commit(lambda: end_test_failover.apply_async(args=[row.job_id], queue="failover"))
    return True


def housekeeping() -> dict:
    """The beat's round: automatic test cleanup, final-sync checks, stale jobs (worker lost)."""
    now = timezone.now()
    counts = {"auto_cleanup": 0, "final_sync_checked": 0, "stale": 0}
    due = FailoverJob.objects.filter(job_type=FailoverType.TEST, status=FailoverStatus.COMPLETED, ended_at__isnull=True,
                                     auto_cleanup=True, cleanup_due_at__lte=now)
    for job in due:
        if _auto_end_test(job):
            counts["auto_cleanup"] += 1
    for job_id in FailoverJob.objects.filter(status=FailoverStatus.PENDING).exclude(final_sync_job_id="").values_list(
            "job_id", flat=True):
        # A task, not inline: a finished sync makes it run the whole failover.
        resume_after_final_sync.apply_async(args=[job_id], queue="failover")
        counts["final_sync_checked"] += 1
    for job in FailoverJob.objects.filter(status__in=ACTIVE).select_related("vm_context"):
        if not jobs.is_stale(job) or (job.status == FailoverStatus.PENDING and job.final_sync_job_id):
            continue
        counts["stale"] += 1
        if job.status == FailoverStatus.PENDING:
            run_failover.apply_async(args=[job.job_id], queue="failover")  # the queued message was lost
        elif job.status == FailoverStatus.CLEANUP:
            end_test_failover.apply_async(args=[job.job_id], queue="failover")
        elif job.status == FailoverStatus.REVERTING:
            # Whoever was reverting died: the rollback looks before it acts, so running it again is safe.
            cleanup_failed_failover.apply_async(args=[job.job_id], queue="failover")
        else:
            run_failover.apply_async(args=[job.job_id], queue="failover")  # the conductor reaps a stale step
    return counts
