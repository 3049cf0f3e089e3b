"""Advancing a schedule run: record the syncs that ended, start queued VMs up to the limit, finish the run.

Called for a run when a replication ends (`replication_finished` queues `advance_execution`), by the beat sweep once a
minute, and by the run's own start and cancel (`executions.py`). Every entry point holds the run's row lock.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Concat
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict
from apps.core.jobs import transition
from apps.replication.choices import ACTIVE as ACTIVE_JOB
from apps.replication.choices import ReplicationStatus, ReplicationType
from apps.replication.models import ReplicationJob
from apps.replication.services import replication_retry, replication_start

from .. import timing
from ..choices import (
    EXECUTION_TRANSITIONS,
    ExecutionStatus,
    ExecutionVMStatus,
    RunningVMPolicy,
)
from ..jobs import event
from ..models import ExecutionVM, ScheduleExecution, SyncSchedule

logger = logging.getLogger(__name__)

S = ExecutionVMStatus


def lock_execution(execution_id: int, now: datetime) -> ScheduleExecution | None:
    # Write first: on SQLite this takes the database write lock at once, so two advancers can never both count
    # "2 running" and both start a third; on MariaDB the UPDATE row-locks like SELECT ... FOR UPDATE.
    if not ScheduleExecution.objects.filter(pk=execution_id).update(updated_at=now):
        return None
    return ScheduleExecution.objects.select_for_update().select_related("schedule").get(pk=execution_id)


def window_open(execution: ScheduleExecution, schedule: SyncSchedule, now: datetime) -> bool:
    return execution.ignore_window or timing.in_window(schedule.window_start, schedule.window_end,
                                                       schedule.timezone, now)


BUSY_PREFIX, BUSY_SUFFIX = "already syncing: replication job ", " is active"


def _busy_reason(job_id: str) -> str:
    return f"{BUSY_PREFIX}{job_id}{BUSY_SUFFIX}"


def skip_busy(execution: ScheduleExecution, now: datetime) -> int:
    """Mark every VM of the run that already has an active job as skipped, with that job's id, in one UPDATE."""
    busy = ReplicationJob.objects.filter(vm_context=OuterRef("vm_context_id"), status__in=ACTIVE_JOB)
    return execution.vms.filter(Exists(busy), status=S.QUEUED).update(
        status=S.SKIPPED, finished_at=now,
        reason=Concat(Value(BUSY_PREFIX), Subquery(busy.values("job_id")[:1]), Value(BUSY_SUFFIX),
                      output_field=CharField()))


def advance_locked(execution: ScheduleExecution, schedule: SyncSchedule | None, now: datetime) -> None:
    reconcile(execution, schedule, now)
    if execution.status == ExecutionStatus.RUNNING and schedule is not None:
        _fill(execution, schedule, now)
    counts = refresh_counters(execution)
    finish_if_done(execution, counts, now)


def reconcile(execution: ScheduleExecution, schedule: SyncSchedule | None, now: datetime) -> None:
    """Record the outcome of every VM whose job has ended; a failed one is queued again while retries remain."""
    ended = (execution.vms.filter(status=S.RUNNING).exclude(replication_job__status__in=ACTIVE_JOB)
             .select_related("replication_job"))
    for item in ended:
        job = item.replication_job
        item.finished_at = now
        item.bytes_transferred = job.bytes_transferred if job else 0
        if job is None:
            item.status, item.reason = S.FAILED, "its replication job was deleted"
        elif job.status == ReplicationStatus.COMPLETED:
            item.status, item.reason = S.SUCCEEDED, ""
        elif job.status == ReplicationStatus.CANCELLED:
            item.status = S.CANCELLED
            item.reason = f"replication job {job.job_id} was cancelled" + (f": {job.error_message}"
                                                                             if job.error_message else "")
        else:
            error = job.error_message or "replication failed"
            retries_left = (execution.status == ExecutionStatus.RUNNING and schedule is not None
                            and item.attempts <= schedule.max_retries)
            if retries_left:
                item.status, item.finished_at = S.QUEUED, None
                item.not_before = now + timedelta(seconds=schedule.retry_delay_seconds)
                item.reason = (f"attempt {item.attempts} failed ({error}); retry {item.attempts} of "
                               f"{schedule.max_retries} from {item.not_before:%H:%M:%S} UTC")
            else:
                item.status = S.FAILED
                item.reason = (f"replication job {job.job_id} failed"
                               + (f" after {item.attempts} attempts" if item.attempts > 1 else "") + f": {error}")
        item.save(update_fields=["status", "reason", "finished_at", "not_before", "bytes_transferred"])


def _fill(execution: ScheduleExecution, schedule: SyncSchedule, now: datetime) -> None:
    """Start queued VMs in order until the run has `max_concurrent_jobs` syncs going."""
    if not window_open(execution, schedule, now):
        closed = execution.vms.filter(status=S.QUEUED).update(
            status=S.SKIPPED, finished_at=now, reason="the sync window closed before its turn; the next run syncs it")
        if closed:
            event(execution, "window_closed", f"sync window closed: {closed} queued VM(s) skipped", level="warning")
        return
    # The limit is read live, so an operator can throttle a run that is already going.
    free = schedule.max_concurrent_jobs - execution.vms.filter(status=S.RUNNING).count()
    cursor = -1
    while free > 0:
        batch = list(execution.vms.filter(status=S.QUEUED, position__gt=cursor)
                     .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
                     .select_related("vm_context", "replication_job")
                     .annotate(member_schedule_id=F("vm_context__group_membership__group__schedule_id"))
                     .order_by("position")[:max(2 * free, 20)])
        if not batch:
            break
        # One query per batch tells which VMs already sync, instead of one failed start per busy VM.
        busy = dict(ReplicationJob.objects.filter(vm_context_id__in=[i.vm_context_id for i in batch if i.vm_context_id],
                                                  status__in=ACTIVE_JOB).values_list("vm_context_id", "job_id"))
        for item in batch:
            cursor = item.position
            if _start(execution, schedule, item, busy.get(item.vm_context_id), now):
                free -= 1
                if free == 0:
                    break


def _start(execution: ScheduleExecution, schedule: SyncSchedule, item: ExecutionVM, busy_job_id: str | None,
           now: datetime) -> bool:
    """Start (or retry) one VM's sync; True when a job now runs for it, otherwise the item says why not."""

    def close(status: str, reason: str) -> bool:
        item.status, item.reason, item.finished_at = status, reason, now
        item.save(update_fields=["status", "reason", "finished_at"])
        return False

    if item.vm_context is None:
        return close(S.SKIPPED, "the VM was removed from the inventory")
    if item.member_schedule_id != schedule.pk:
        return close(S.SKIPPED, "the VM left this schedule's machine groups before its turn")
    wait = schedule.running_vm_policy == RunningVMPolicy.WAIT
    if busy_job_id:
        if not wait:
            return close(S.SKIPPED, _busy_reason(busy_job_id))
        reason = f"waiting for replication job {busy_job_id} to finish"
        if item.reason != reason:
            item.reason = reason
            item.save(update_fields=["reason"])
        return False
    requested_by = f"schedule:{schedule.name}"[:150]
    retry = item.replication_job is not None and item.replication_job.status == ReplicationStatus.FAILED
    try:
        # A savepoint per VM: one VM that cannot start never undoes the others of the run.
        with transaction.atomic():
            if retry:
                # Retrying the same job resumes its disks from the datamover checkpoints.
                job = replication_retry(job=item.replication_job, requested_by=requested_by)
            else:
                kind = ReplicationType.INCREMENTAL if item.vm_context.last_successful_job_id else ReplicationType.INITIAL
                job = replication_start(vm_context=item.vm_context, replication_type=kind, requested_by=requested_by,
                                        schedule_execution_id=execution.pk)
    except Conflict as exc:
        if exc.error_code != "ACTIVE_JOBS":
            return close(S.SKIPPED, exc.message)  # failed over, in a test failover: replication says why
        holder = (ReplicationJob.objects.filter(vm_context=item.vm_context, status__in=ACTIVE_JOB)
                  .values_list("job_id", flat=True).first())
        if holder is None:
            # replication_start reports any unique clash as ACTIVE_JOBS; with no active job it was a passing one
            # (two job ids minted in the same second by concurrent runs): the VM stays queued for the next advance.
            logger.warning("start of vm=%s clashed without an active job; retrying later: %s", item.vm_name,
                           exc.message)
            return False
        if wait:
            return False  # lost a race with another start for this VM; wait for that job like any busy VM
        return close(S.SKIPPED, _busy_reason(holder))
    except ApplicationError as exc:
        return close(S.FAILED, f"could not start a sync: {exc.message}")
    except Exception as exc:  # one VM's unexpected error must not stall the whole run
        logger.exception("schedule run could not start vm=%s execution=%s", item.vm_name, execution.execution_id)
        return close(S.FAILED, f"could not start a sync: {type(exc).__name__}: {exc}")
    item.status, item.replication_job, item.not_before = S.RUNNING, job, None
    item.attempts += 1
    item.started_at = item.started_at or now
    if not retry:
        item.reason = ""
    item.save(update_fields=["status", "replication_job", "not_before", "attempts", "started_at", "reason"])
    return True


def refresh_counters(execution: ScheduleExecution) -> dict:
    counts = execution.vms.aggregate(
        considered=Count("id"), started=Count("id", filter=Q(replication_job__isnull=False)),
        queued=Count("id", filter=Q(status=S.QUEUED)), running=Count("id", filter=Q(status=S.RUNNING)),
        succeeded=Count("id", filter=Q(status=S.SUCCEEDED)), failed=Count("id", filter=Q(status=S.FAILED)),
        skipped=Count("id", filter=Q(status=S.SKIPPED)), cancelled=Count("id", filter=Q(status=S.CANCELLED)),
        bytes=Sum("bytes_transferred"))
    counts["bytes"] = counts["bytes"] or 0
    fields = {"vms_considered": "considered", "vms_started": "started", "vms_queued": "queued",
              "vms_running": "running", "vms_succeeded": "succeeded", "vms_failed": "failed",
              "vms_skipped": "skipped", "vms_cancelled": "cancelled", "bytes_transferred": "bytes"}
    for attr, key in fields.items():
        setattr(execution, attr, counts[key])
    execution.save(update_fields=[*fields, "updated_at"])
    return counts


def _summary(counts: dict) -> str:
    return (f"{counts['succeeded']} succeeded, {counts['failed']} failed, {counts['skipped']} skipped, "
            f"{counts['cancelled']} cancelled of {counts['considered']} VM(s); {counts['bytes']} bytes moved")


def finish_if_done(execution: ScheduleExecution, counts: dict, now: datetime) -> None:
    if counts["queued"] or counts["running"]:
        return
    if execution.status == ExecutionStatus.RUNNING:
        if counts["failed"] and not counts["succeeded"]:
            status = ExecutionStatus.FAILED
        elif counts["failed"]:
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.COMPLETED
        transition(execution, status, transitions=EXECUTION_TRANSITIONS, completed_at=now, summary=_summary(counts))
        event(execution, "finished", f"execution {status}: {execution.summary}",
              level="warning" if counts["failed"] else "info")
    elif execution.status == ExecutionStatus.CANCELLED and execution.completed_at is None:
        # A cancelled run is over once the syncs it let finish have ended.
        ScheduleExecution.objects.filter(pk=execution.pk).update(completed_at=now, summary=_summary(counts))
        execution.completed_at, execution.summary = now, _summary(counts)


@transaction.atomic
def execution_advance(*, execution_id: int, now: datetime | None = None) -> ScheduleExecution | None:
    """Record ended syncs of a run and start queued VMs into the free slots.

    Any worker may call it at any time, as often as it likes: the run's row lock makes callers take turns, so the
    concurrency limit holds even when several jobs finish at once.
    """
    now = now or timezone.now()
    execution = lock_execution(execution_id, now)
    if execution is None or execution.status == ExecutionStatus.DEFERRED:
        return execution
    if execution.status != ExecutionStatus.RUNNING and not execution.vms.filter(status=S.RUNNING).exists():
        return execution
    advance_locked(execution, execution.schedule, now)
    return execution
