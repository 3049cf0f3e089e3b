"""Platform events that people asked to hear about: a replication job that failed queues a replication_failed
email for every preference that wants it (the worker sends it; the job's finish never waits for SMTP)."""
from __future__ import annotations

import logging

from django.dispatch import receiver

from apps.replication.choices import ReplicationStatus
from apps.replication.signals import replication_finished

from . import services
from .choices import EventType, Severity

logger = logging.getLogger(__name__)


@receiver(replication_finished, dispatch_uid="accounts.notify_replication_failed")
def notify_replication_failed(sender, job, **kwargs) -> None:
    if job.status != ReplicationStatus.FAILED:
        return
    try:
        vm_name = job.vm_context.vm_name
        services.notify(event_type=EventType.REPLICATION_FAILED, severity=Severity.CRITICAL, event_id=job.job_id,
                        subject=f"Replication failed: {vm_name}",
                        body=f"The {job.replication_type} sync {job.job_id} of {vm_name} failed.\n\n"
                             f"{job.error_message or 'No error was recorded.'}\n\n"
                             f"The VM keeps its last good replica; start a new sync once the cause is fixed.")
    except Exception:  # a notification problem never disturbs the replication's finish
        logger.exception("could not queue the replication_failed notification job=%s", job.job_id)
