"""Step `finish`: the run completed. A test VM runs until the test is ended (automatic cleanup if asked); a live
failover deletes its snapshots (no longer a way back: the new VM owns the data), releases the VM from the job's
CloudStack resources and marks the VM context failed_over.

It has nothing to undo: a completed live failover is final, and a completed test is ended by undoing the steps before
it (`end_test`).
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.utils import iso
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.settings import cloudstack as cs
from apps.settings.choices import CloudResourceKind, CloudResourceState

from .. import bootcheck, notifications
from ..choices import FailoverStatus, FailoverType, SnapshotState
from ..jobs import context_status, event, set_status
from ..models import FailoverJob
from .base import Context, Step, mark_resource


def finish(job: FailoverJob, client: cs.CloudStackClient) -> None:
    now = timezone.now()
    if job.job_type == FailoverType.TEST:
        due = now + timedelta(seconds=job.test_duration_seconds) if job.auto_cleanup and job.test_duration_seconds else None
        booted = bootcheck.summary(job.boot_verification)
        set_status(job, FailoverStatus.COMPLETED, completed_at=now, cleanup_due_at=due,
                   current_step=("Test VM running" + (f"; {booted}" if booted else "")
                                 + (f"; automatic cleanup at {iso(due)}" if due else ""))[:255])
        event(job, "completed", f"test failover completed: VM {job.destination_vm_id} is running"
                                + (f" until {iso(due)}" if due else ""))
        notifications.notify(job, "failover.completed", f"Test VM {job.destination_vm_id} is running")
        return
    # Live: the cut-over is done; its snapshots are no longer a way back (the new VM now owns the data).
    for fv in job.volumes.filter(snapshot_state=SnapshotState.CREATED):
        try:
            client.delete_snapshot(fv.snapshot_id)
        except cs.CloudStackError as exc:
            event(job, "snapshot", f"could not delete snapshot {fv.snapshot_id}: {exc} (left for the orphan sweep)",
                  level="warning")
            continue
        fv.snapshot_state = SnapshotState.DELETED
        fv.save(update_fields=["snapshot_state", "updated_at"])
        mark_resource(job, CloudResourceKind.SNAPSHOT, fv.snapshot_id, CloudResourceState.REMOVED)
    mark_resource(job, CloudResourceKind.VM, job.destination_vm_id, CloudResourceState.RELEASED)
    with transaction.atomic():
        context = VMContext.objects.select_for_update().get(pk=job.vm_context_id)
        context_status(context, VMContextStatus.FAILED_OVER)
        set_status(job, FailoverStatus.COMPLETED, completed_at=now,
                   current_step=(f"VM {job.destination_vm_id} runs in CloudStack"
                                 + (f"; {bootcheck.summary(job.boot_verification)}" if job.boot_verification else "")
                                 + ("; the source stays powered off" if job.source_powered_off_at else ""))[:255])
    event(job, "completed", f"live failover completed: VM {job.destination_vm_id} is running; VM context failed_over")
    notifications.notify(job, "failover.completed", f"VM {job.destination_vm_id} runs in CloudStack")


class Finish(Step):
    name = "finish"
    requires = ("destination_vm_id", "FailoverVolume.snapshot_state")
    records = ("completed_at", "cleanup_due_at", "FailoverVolume.snapshot_state", "CloudResource.vm",
               "VMContext.current_status")
    undoes = "nothing (a live failover is final; a test is ended by undoing the steps before)"

    def run(self, ctx: Context) -> None:
        if ctx.job.status == FailoverStatus.COMPLETED:
            return  # finished by an earlier run
        finish(ctx.job, ctx.cloudstack())
