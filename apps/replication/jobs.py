"""A replication job's bookkeeping: its events, its status transitions and its one finish.

Services, tasks and the runner all import this module and it imports none of them, so the job's life is written
once and the modules that start, run and cancel jobs do not import each other in a loop.
"""
from __future__ import annotations

import secrets
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.jobs import record_event, transition
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext

from .choices import ACTIVE, TRANSITIONS, ReplicationStatus
from .models import ReplicationJob
from .signals import replication_finished

JOB_KIND = "replication"


class JobCancelled(Exception):
    """The operator asked to cancel; raised between steps so the runner undoes what the job created."""


def check_cancel(job: ReplicationJob) -> None:
    if ReplicationJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled()


def event(job: ReplicationJob, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(JOB_KIND, job.job_id, step, message, level=level, **data)


# The agent's progress record (seed 002) -> the job's columns.
PROGRESS_FIELDS = {"progress_percent": "progress_percent", "current_operation": "current_operation",
                   "bytes_transferred": "bytes_transferred", "bytes_total": "bytes_total",
                   "throughput_mbps": "throughput_mbps", "eta_seconds": "eta_seconds", "disks": "disk_progress",
                   "full_sync_reason": "full_sync_reason"}


def store_figures(job: ReplicationJob, data: dict) -> ReplicationJob:
    """Write the agent's progress figures (and the heartbeat) onto a job still active; returns the row as stored.
    Both the agent's pushes and a reconciliation that finds the copy finished go through here, so a job completed
    by either path keeps what it copied (the planner's measured bandwidth reads it)."""
    fields = {"last_heartbeat_at": timezone.now()}
    for key, attr in PROGRESS_FIELDS.items():
        if key in data and data[key] is not None:
            fields[attr] = data[key]
    with transaction.atomic():
        row = ReplicationJob.objects.select_for_update().get(pk=job.pk)
        if row.status not in ACTIVE:
            return row
        for attr, value in fields.items():
            setattr(row, attr, value)
        row.save(update_fields=[*fields.keys(), "updated_at"])
    return row


def replication_set_status(job: ReplicationJob, status: str, **updates) -> ReplicationJob:
    return transition(job, status, transitions=TRANSITIONS, **updates)


def replication_finish(*, job: ReplicationJob, status: str, error: str = "") -> ReplicationJob:
    """Move a job to a terminal status once, update the VM context and tell listeners (the scheduler)."""
    now = timezone.now()
    with transaction.atomic():
        row = ReplicationJob.objects.select_for_update().get(pk=job.pk)
        if row.status == status or row.status not in ACTIVE:
            return row
        updates = {"completed_at": now, "error_message": error[:4000]}
        if status == ReplicationStatus.COMPLETED:
            updates.update(progress_percent=100.0, current_operation="Completed", eta_seconds=0)
        else:
            updates.update(current_operation=status.capitalize())
        row = transition(row, status, transitions=TRANSITIONS, **updates)
        context = VMContext.objects.select_for_update().get(pk=row.vm_context_id)
        if status == ReplicationStatus.COMPLETED:
            context.successful_jobs += 1
            context.last_successful_job_id = row.job_id
            context.last_sync_at = now
            context.current_status = VMContextStatus.READY_FOR_FAILOVER
        elif status == ReplicationStatus.FAILED:
            context.failed_jobs += 1
            if context.current_status == VMContextStatus.REPLICATING:
                # A VM that synced before stays failover-ready with its last good change id.
                context.current_status = (VMContextStatus.READY_FOR_FAILOVER if context.last_successful_job_id
                                          else VMContextStatus.FAILED)
        elif context.current_status == VMContextStatus.REPLICATING:
            context.current_status = (VMContextStatus.READY_FOR_FAILOVER if context.last_successful_job_id
                                      else VMContextStatus.DISCOVERED)
        context.save(update_fields=["successful_jobs", "failed_jobs", "last_successful_job_id", "last_sync_at",
                                    "current_status", "updated_at"])
        event(row, "finished", f"job {status}" + (f": {error}" if error else ""),
              level="error" if status == ReplicationStatus.FAILED else "info")
        transaction.on_commit(lambda: replication_finished.send(sender=ReplicationJob, job=row))
    return row


def lease_seconds() -> float:
    return float(settings.MP_REPLICATION_RUNNER_LEASE)


def claimable() -> Q:
    """Jobs a runner may take: queued ones nobody holds, and half-provisioned ones whose runner's lease ran out
    (its worker died). A job handed to the agent holds no lease and is the reaper's, not the runner's."""
    now = timezone.now()
    free = Q(runner_lease_until__isnull=True)
    expired = Q(runner_lease_until__lt=now)
    return (Q(status=ReplicationStatus.PENDING) & (free | expired)
            | Q(status=ReplicationStatus.PROVISIONING) & (free | expired)
            | Q(status=ReplicationStatus.READY_FOR_SYNC) & expired)


def claim(job: ReplicationJob) -> str | None:
    """Take the job's runner lease (a compare-and-set on the row); None when a live runner holds it."""
    token = secrets.token_hex(8)
    taken = ReplicationJob.objects.filter(claimable(), pk=job.pk).update(
        runner_token=token, runner_lease_until=timezone.now() + timedelta(seconds=lease_seconds()))
    return token if taken else None


def release_lease(job: ReplicationJob, token: str) -> None:
    ReplicationJob.objects.filter(pk=job.pk, runner_token=token).update(runner_token="", runner_lease_until=None)


class LeaseKeeper:
    """Renews a runner's lease from a thread while a step (a slow CloudStack job) blocks the runner."""

    def __init__(self, job: ReplicationJob, token: str):
        self.job, self.token = job, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{job.job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(lease_seconds() / 3):
                close_old_connections()
                ReplicationJob.objects.filter(pk=self.job.pk, runner_token=self.token).update(
                    runner_lease_until=timezone.now() + timedelta(seconds=lease_seconds()))
        finally:
            connection.close()
