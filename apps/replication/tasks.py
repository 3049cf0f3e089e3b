"""Celery entry points: thin, they load the row and call a runner or a service."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.enrollment.agent_client import AgentClient

from . import runner
from .choices import ReplicationStatus
from .jobs import event, replication_finish
from .models import ReplicationJob

logger = logging.getLogger(__name__)


@shared_task(name="apps.replication.tasks.run_replication", acks_late=True)
def run_replication(job_id: str) -> None:
    runner.run(job_id)


@shared_task(name="apps.replication.tasks.cancel_replication")
def cancel_replication(job_id: str) -> None:
    job = ReplicationJob.objects.filter(job_id=job_id).select_related("vm_context").first()
    if job is None or job.status not in (ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.REPLICATING):
        return  # pending/provisioning jobs see the flag themselves
    try:
        AgentClient().cleanup(job_id, "cleanup_all")
    except ApplicationError as exc:
        event(job, "cancel", f"agent cleanup failed: {exc.message}", level="warning")
    replication_finish(job=job, status=ReplicationStatus.CANCELLED, error="cancelled by the operator")


@shared_task(name="apps.replication.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Fail running jobs whose agent stopped reporting; their retry resumes from the copy checkpoints."""
    cutoff = timezone.now() - timedelta(seconds=settings.MP_REPLICATION_HEARTBEAT_TIMEOUT)
    stale = ReplicationJob.objects.filter(status__in=[ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.REPLICATING],
                                          updated_at__lt=cutoff)
    count = 0
    for job in stale:
        last = job.last_heartbeat_at or job.updated_at
        if last and last >= cutoff:
            continue
        replication_finish(
            job=job, status=ReplicationStatus.FAILED,
            error=f"the agent stopped reporting progress (last heard {last:%Y-%m-%d %H:%M:%S} UTC, timeout "
                  f"{settings.MP_REPLICATION_HEARTBEAT_TIMEOUT}s); retry the job to resume the copy")
        count += 1
    return count
