"""Celery entry points: thin, they load the row and call a runner or a service."""
from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.enrollment.agent_client import AgentClient, endpoint_for_job

from . import recovery, runner
from .choices import ReplicationStatus
from .jobs import claimable, event, lease_seconds, replication_finish
from .models import ReplicationJob

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a task whose worker process dies is delivered again where the broker
# can (Redis, AMQP); the claim in runner.run makes a second delivery harmless, and the sweep in reap_stale_jobs
# takes the job over where the broker cannot (the SQLite broker of the lab keeps a lost message hidden).
@shared_task(name="apps.replication.tasks.run_replication", acks_late=True, reject_on_worker_lost=True)
def run_replication(job_id: str) -> None:
    runner.run(job_id)


def enqueue_run(job: ReplicationJob, reason: str) -> None:
    run_replication.apply_async(args=[job.job_id], queue="replication")
    event(job, "sweep", reason)


@shared_task(name="apps.replication.tasks.cancel_replication")
def cancel_replication(job_id: str) -> None:
    job = ReplicationJob.objects.filter(job_id=job_id).select_related("vm_context").first()
    if job is None:
        return
    if ReplicationJob.objects.filter(claimable(), pk=job.pk).exists():
        # No live runner holds the job (its worker died, or it is still queued): a runner takes it, sees the
        # cancel flag before its next step and undoes what the job created.
        enqueue_run(job, "cancel of a job no runner holds: a runner takes it over to undo it")
        return
    if job.status not in recovery.HANDED_OVER or job.runner_lease_until is not None:
        return  # a live runner sees the flag itself
    try:
        AgentClient(base_url=endpoint_for_job(job.appliance_id).url).cleanup(job_id, "cleanup_all")
    except ApplicationError as exc:
        event(job, "cancel", f"agent cleanup failed: {exc.message}", level="warning")
    replication_finish(job=job, status=ReplicationStatus.CANCELLED, error="cancelled by the operator")


@shared_task(name="apps.replication.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Take over jobs whose runner died, and settle silent handed-over jobs with their agent: adopted while it
    still copies, finished as it says, failed only when it cannot be asked. Returns how many jobs it acted on."""
    count = 0
    for job in recovery.stuck_jobs():
        enqueue_run(job, f"job left {job.status} with no live runner: queued again to continue")
        ReplicationJob.objects.filter(pk=job.pk).update(updated_at=timezone.now())  # once per lease period
        count += 1
    for job in recovery.handed_over(stale_only=True):
        outcome = recovery.reconcile(job, stale=True)
        logger.info("reaper job=%s %s", job.job_id, outcome)
        count += 1
    return count


@shared_task(name="apps.replication.tasks.reconcile_in_flight")
def reconcile_in_flight() -> int:
    """After a restart: every handed-over job is checked with its agent at once, not after the heartbeat timeout;
    jobs whose runner died are taken over once their lease has run out."""
    jobs = recovery.handed_over(stale_only=False)
    for job in jobs:
        logger.info("restart reconcile job=%s %s", job.job_id, recovery.reconcile(job, stale=False))
    reap_stale_jobs.apply_async(countdown=lease_seconds() + 1)
    return len(jobs)


@worker_ready.connect(dispatch_uid="replication.reconcile_after_restart")
def _reconcile_after_restart(sender=None, **kwargs) -> None:
    reconcile_in_flight.apply_async(queue="replication")
