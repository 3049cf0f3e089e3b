"""Step `final_sync` (live failover's prelude): one last incremental replication, then the failover goes on.

The step starts the sync and returns WAIT; the sync's finish signal (or the housekeeping beat) runs the job again, and
the step finds the recorded sync and only looks at how it ended. Its undo does nothing: the sync is an ordinary
incremental that the next replication or failover builds on.
"""
from __future__ import annotations

from django.utils import timezone

from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.choices import ReplicationStatus, ReplicationType
from apps.replication.models import ReplicationJob
from apps.replication.services import replication_start

from ..jobs import StepFailed, check_cancel, event, touch
from ..models import FailoverJob
from .base import WAIT, Context, Step


class FinalSync(Step):
    name = "final_sync"
    requires = ("vm_context", "ossea_config", "final_sync")
    records = ("final_sync_job_id", "final_sync_started_at")
    undoes = "nothing (the sync is an ordinary incremental)"

    def run(self, ctx: Context) -> str | None:
        job = ctx.job
        if not job.final_sync:
            return None
        if not job.final_sync_job_id:
            check_cancel(job)
            touch(job, "Starting the final incremental sync")
            sync = replication_start(vm_context=job.vm_context, replication_type=ReplicationType.INCREMENTAL,
                                     ossea_config=job.ossea_config, requested_by=job.job_id)
            now = timezone.now()
            FailoverJob.objects.filter(pk=job.pk).update(final_sync_job_id=sync.job_id, final_sync_started_at=now,
                                                         current_step=f"Waiting for the final sync {sync.job_id}",
                                                         heartbeat_at=now)
            event(job, "final_sync", f"final incremental sync {sync.job_id} started", replication_job_id=sync.job_id)
            job.refresh_from_db()
        sync = ReplicationJob.objects.filter(job_id=job.final_sync_job_id).first()
        if sync is None:
            raise StepFailed(f"The final sync job {job.final_sync_job_id} disappeared", "FINAL_SYNC_FAILED")
        if sync.status in REPLICATION_ACTIVE:
            return WAIT
        if sync.status != ReplicationStatus.COMPLETED:
            raise StepFailed(f"The final sync {sync.job_id} ended '{sync.status}'"
                             + (f": {sync.error_message}" if sync.error_message else ""), "FINAL_SYNC_FAILED")
        event(job, "final_sync", f"final sync {sync.job_id} completed")
        return None
