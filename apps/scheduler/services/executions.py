"""Schedule runs: create one over the groups' VMs, start syncs up to the limit, and advance as syncs finish.

A run never waits inside a worker. It starts what its limit allows and returns; when a replication job ends,
`replication_finished` queues `advance_execution`, which records the outcome and starts the next queued VMs. The
beat sweep does the same for every open run once a minute, so a lost message only delays a run.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Concat
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict, NotFound
from apps.core.jobs import timestamp_id, transition
from apps.core.utils import is_pk
from apps.inventory.models import VMContext
from apps.replication.choices import ACTIVE as ACTIVE_JOB
from apps.replication.choices import ReplicationStatus, ReplicationType
from apps.replication.models import ReplicationJob
from apps.replication.services import replication_cancel, replication_retry, replication_start

from .. import timing
from ..choices import (
    CANCELLABLE_EXECUTION,
    EXECUTION_TRANSITIONS,
    TERMINAL_EXECUTION,
    ExecutionStatus,
    ExecutionTrigger,
    ExecutionVMStatus,
    RunningVMPolicy,
)
from ..jobs import cancel_deferred, event
from ..models import ExecutionVM, MachineGroup, ScheduleExecution, SyncSchedule, VMGroupMembership
from .schedules import restore_beat_entries

logger = logging.getLogger(__name__)

S = ExecutionVMStatus


def execution_get(identifier) -> ScheduleExecution:
    """A run by numeric id or by its public execution id (exec-YYYYMMDD-HHMMSS)."""
    runs = ScheduleExecution.objects.select_related("schedule")
    key = str(identifier)
    execution = runs.filter(pk=key).first() if is_pk(key) else runs.filter(execution_id=key).first()
    if execution is None:
        raise NotFound(f"Execution '{identifier}' not found", error_code="EXECUTION_NOT_FOUND")
    return execution


def _lock(execution_id: int, now: datetime) -> ScheduleExecution | None:
    # Write first: on SQLite this takes the database write lock at once, so two advancers can never both count
    # "2 running" and both start a third; on MariaDB the UPDATE row-locks like SELECT ... FOR UPDATE.
    if not ScheduleExecution.objects.filter(pk=execution_id).update(updated_at=now):
        return None
    return ScheduleExecution.objects.select_for_update().select_related("schedule").get(pk=execution_id)


def _window_open(execution: ScheduleExecution, schedule: SyncSchedule, now: datetime) -> bool:
    return execution.ignore_window or timing.in_window(schedule.window_start, schedule.window_end,
                                                       schedule.timezone, now)


@transaction.atomic
def execution_start(*, schedule: SyncSchedule, trigger: str, triggered_by: str = "", ignore_window: bool = False,
                    now: datetime | None = None) -> ScheduleExecution | None:
    """Start a run of `schedule`, or record it deferred while its sync window is closed.

    Beat's trigger quietly returns None for a disabled schedule or while the previous run is still active;
    an operator's trigger gets a 409 for those instead.
    """
    now = now or timezone.now()
    manual = trigger == ExecutionTrigger.MANUAL
    # Write first (see _lock): concurrent triggers of one schedule take turns here.
    if not SyncSchedule.objects.filter(pk=schedule.pk).update(last_triggered_at=now):
        raise NotFound(f"Schedule {schedule.pk} not found", error_code="SCHEDULE_NOT_FOUND")
    schedule = SyncSchedule.objects.select_for_update().get(pk=schedule.pk)
    if not schedule.enabled:
        if manual:
            raise Conflict(f"Schedule '{schedule.name}' is disabled; enable it before running it",
                           error_code="SCHEDULE_DISABLED")
        logger.info("schedule run skipped: disabled schedule=%s", schedule.pk)
        return None
    active = schedule.executions.filter(status__in=[ExecutionStatus.DEFERRED, ExecutionStatus.RUNNING]).first()
    if active is not None:
        if manual:
            raise Conflict(f"Schedule '{schedule.name}' already has an active execution {active.execution_id} "
                           f"({active.status})", error_code="EXECUTION_ACTIVE",
                           details={"execution_id": active.execution_id, "status": active.status})
        logger.info("schedule run skipped: previous run still active schedule=%s execution=%s",
                    schedule.pk, active.execution_id)
        return None
    open_now = ignore_window or timing.in_window(schedule.window_start, schedule.window_end, schedule.timezone, now)
    execution = _create_execution(schedule=schedule, schedule_name=schedule.name, trigger=trigger,
                                  triggered_by=triggered_by[:150], ignore_window=ignore_window,
                                  status=ExecutionStatus.RUNNING if open_now else ExecutionStatus.DEFERRED)
    if not open_now:
        execution.deferred_until = timing.next_window_open(schedule.window_start, schedule.window_end,
                                                           schedule.timezone, now)
        execution.summary = (f"Deferred: outside the sync window {schedule.window_start:%H:%M}-"
                             f"{schedule.window_end:%H:%M} {schedule.timezone}; starts when it opens "
                             f"({execution.deferred_until:%Y-%m-%d %H:%M} UTC)")
        execution.save(update_fields=["deferred_until", "summary", "updated_at"])
        event(execution, "deferred", execution.summary, trigger=trigger)
        return execution
    _begin(execution, schedule, now)
    return execution


def _create_execution(**fields) -> ScheduleExecution:
    """Insert the run under a fresh public id. Beat fires every schedule sharing a cron minute in the same second,
    and workers start them concurrently: an id another run took meanwhile gets a suffix instead of failing the run."""
    execution_id = timestamp_id("exec", ScheduleExecution, "execution_id")
    for attempt in range(5):
        try:
            with transaction.atomic():
                return ScheduleExecution.objects.create(execution_id=execution_id, **fields)
        except IntegrityError:
            if attempt == 4:
                raise
            execution_id = f"{timestamp_id('exec', ScheduleExecution, 'execution_id')}-{secrets.token_hex(2)}"
    raise AssertionError("unreachable")


def _begin(execution: ScheduleExecution, schedule: SyncSchedule, now: datetime) -> None:
    """Snapshot the groups' VMs into the run, skip the ones already syncing, start the first ones."""
    considered = _snapshot_vms(execution, schedule)
    skipped = _skip_busy(execution, now) if schedule.running_vm_policy == RunningVMPolicy.SKIP else 0
    execution.started_at = now
    execution.save(update_fields=["started_at", "updated_at"])
    event(execution, "started", f"{considered} VM(s) considered, {skipped} skipped as already syncing, up to "
                                f"{schedule.max_concurrent_jobs} at a time", trigger=execution.trigger,
          triggered_by=execution.triggered_by)
    _advance_locked(execution, schedule, now)


def _snapshot_vms(execution: ScheduleExecution, schedule: SyncSchedule) -> int:
    """Copy the schedule's group members into the run in one INSERT ... SELECT, numbered in start order.

    One statement whatever the group size: a 5,000-VM group costs the database a moment and Python nothing
    (the ORM's bulk_create spent ~0.1 ms of Python per VM building rows). Window functions need SQLite 3.25+ /
    MariaDB 10.2+.
    """
    qn = connection.ops.quote_name
    item, member, group, vm = (ExecutionVM._meta, VMGroupMembership._meta, MachineGroup._meta, VMContext._meta)
    columns = ", ".join(qn(item.get_field(name).column) for name in (
        "execution", "vm_context", "vm_name", "group", "group_name", "position", "status", "reason", "attempts",
        "bytes_transferred"))
    m_vm, m_group = qn(member.get_field("vm_context").column), qn(member.get_field("group").column)
    g_schedule = qn(group.get_field("schedule").column)
    sql = (
        f"INSERT INTO {qn(item.db_table)} ({columns}) "
        f"SELECT %s, m.{m_vm}, v.{qn('vm_name')}, g.{qn('id')}, g.{qn('name')}, "
        f"ROW_NUMBER() OVER (ORDER BY g.{qn('priority')}, g.{qn('name')}, v.{qn('vm_name')}) - 1, %s, '', 0, 0 "
        f"FROM {qn(member.db_table)} m "
        f"JOIN {qn(group.db_table)} g ON g.{qn('id')} = m.{m_group} "
        f"JOIN {qn(vm.db_table)} v ON v.{qn('id')} = m.{m_vm} "
        f"WHERE g.{g_schedule} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [execution.pk, S.QUEUED, schedule.pk])
        return cursor.rowcount


BUSY_PREFIX, BUSY_SUFFIX = "already syncing: replication job ", " is active"


def _busy_reason(job_id: str) -> str:
    return f"{BUSY_PREFIX}{job_id}{BUSY_SUFFIX}"


def _skip_busy(execution: ScheduleExecution, now: datetime) -> int:
    """Mark every VM of the run that already has an active job as skipped, with that job's id, in one UPDATE."""
    busy = ReplicationJob.objects.filter(vm_context=OuterRef("vm_context_id"), status__in=ACTIVE_JOB)
    return execution.vms.filter(Exists(busy), status=S.QUEUED).update(
        status=S.SKIPPED, finished_at=now,
        reason=Concat(Value(BUSY_PREFIX), Subquery(busy.values("job_id")[:1]), Value(BUSY_SUFFIX),
                      output_field=CharField()))


def _advance_locked(execution: ScheduleExecution, schedule: SyncSchedule | None, now: datetime) -> None:
    _reconcile(execution, schedule, now)
    if execution.status == ExecutionStatus.RUNNING and schedule is not None:
        _fill(execution, schedule, now)
    counts = _refresh_counters(execution)
    _finish_if_done(execution, counts, now)


def _reconcile(execution: ScheduleExecution, schedule: SyncSchedule | None, now: datetime) -> None:
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
    if not _window_open(execution, schedule, now):
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


def _refresh_counters(execution: ScheduleExecution) -> dict:
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


def _finish_if_done(execution: ScheduleExecution, counts: dict, now: datetime) -> None:
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
    execution = _lock(execution_id, now)
    if execution is None or execution.status == ExecutionStatus.DEFERRED:
        return execution
    if execution.status != ExecutionStatus.RUNNING and not execution.vms.filter(status=S.RUNNING).exists():
        return execution
    _advance_locked(execution, execution.schedule, now)
    return execution


@transaction.atomic
def execution_resume_deferred(*, execution_id: int, now: datetime | None = None) -> ScheduleExecution | None:
    """Start a deferred run once its window is open (cancel it if its schedule was disabled meanwhile)."""
    now = now or timezone.now()
    execution = _lock(execution_id, now)
    if execution is None or execution.status != ExecutionStatus.DEFERRED:
        return execution
    schedule = execution.schedule
    if schedule is None or not schedule.enabled:
        return cancel_deferred(execution=execution, why="its schedule was disabled or deleted")
    if not timing.in_window(schedule.window_start, schedule.window_end, schedule.timezone, now):
        # The window may have been edited meanwhile; keep the promised start time honest.
        opens = timing.next_window_open(schedule.window_start, schedule.window_end, schedule.timezone, now)
        if opens != execution.deferred_until:
            ScheduleExecution.objects.filter(pk=execution.pk).update(deferred_until=opens)
            execution.deferred_until = opens
        return execution
    transition(execution, ExecutionStatus.RUNNING, transitions=EXECUTION_TRANSITIONS,
               summary=f"Started when the sync window opened (deferred at {execution.created_at:%H:%M} UTC)")
    _begin(execution, schedule, now)
    return execution


@transaction.atomic
def execution_cancel(*, execution: ScheduleExecution, cancelled_by: str = "",
                     cancel_running: bool = False) -> ScheduleExecution:
    """Stop a run: queued VMs are cancelled; syncs already going finish unless `cancel_running` cancels them too."""
    now = timezone.now()
    execution = _lock(execution.pk, now)
    if execution.status not in CANCELLABLE_EXECUTION:
        raise Conflict(f"Execution {execution.execution_id} is {execution.status} and cannot be cancelled",
                       error_code="INVALID_STATE")
    who = f" by {cancelled_by}" if cancelled_by else ""
    if execution.status == ExecutionStatus.DEFERRED:
        return cancel_deferred(execution=execution, why=f"cancelled{who}")
    cancelled = execution.vms.filter(status=S.QUEUED).update(status=S.CANCELLED, finished_at=now,
                                                             reason=f"the execution was cancelled{who}")
    transition(execution, ExecutionStatus.CANCELLED, transitions=EXECUTION_TRANSITIONS)
    if cancel_running:
        for item in execution.vms.filter(status=S.RUNNING, replication_job__status__in=ACTIVE_JOB).select_related(
                "replication_job"):
            try:
                with transaction.atomic():
                    replication_cancel(job=item.replication_job, requested_by=cancelled_by or "scheduler")
            except ApplicationError as exc:
                logger.warning("could not cancel job=%s: %s", item.replication_job.job_id, exc.message)
    # Jobs that were still pending are cancelled at once; record them now rather than on the next advance.
    _reconcile(execution, execution.schedule, now)
    counts = _refresh_counters(execution)
    _finish_if_done(execution, counts, now)
    event(execution, "cancelled", f"execution cancelled{who}: {cancelled} queued VM(s) cancelled, "
                                  f"{counts['running']} sync(s) still running", cancel_running=cancel_running)
    return execution


def execution_sweep(*, now: datetime | None = None) -> dict:
    """Beat's safety net, once a minute: start deferred runs whose window opened, and advance every run with
    open VMs (a lost finish message, a worker restart, a retry whose delay has passed)."""
    now = now or timezone.now()
    resumed = advanced = failed = 0
    restored = restore_beat_entries()
    for pk in list(ScheduleExecution.objects.filter(status=ExecutionStatus.DEFERRED).values_list("pk", flat=True)):
        try:
            execution = execution_resume_deferred(execution_id=pk, now=now)
            resumed += bool(execution and execution.status != ExecutionStatus.DEFERRED)
        except Exception:  # one broken run must not stop the sweep of the others
            failed += 1
            logger.exception("sweep could not resume execution pk=%s", pk)
    open_runs = (ScheduleExecution.objects.filter(Q(status=ExecutionStatus.RUNNING)
                                                  | Q(status=ExecutionStatus.CANCELLED, vms__status=S.RUNNING))
                 .values_list("pk", flat=True).distinct())
    for pk in list(open_runs):
        try:
            execution_advance(execution_id=pk, now=now)
            advanced += 1
        except Exception:  # same as above
            failed += 1
            logger.exception("sweep could not advance execution pk=%s", pk)
    pruned = execution_prune(now=now)
    if resumed or failed or restored or pruned:
        logger.info("scheduler sweep resumed=%s advanced=%s failed=%s restored_beat_entries=%s pruned=%s", resumed,
                    advanced, failed, restored, pruned)
    return {"resumed": resumed, "advanced": advanced, "failed": failed, "restored_beat_entries": restored,
            "pruned": pruned}


# Rows deleted per sweep: a first sweep over years of history must not hold long locks.
PRUNE_BATCH = 500


def execution_prune(*, now: datetime | None = None, retention_days: int | None = None, keep: int | None = None,
                    batch: int = PRUNE_BATCH) -> int:
    """Delete finished runs (and their VM rows) older than the retention, keeping each schedule's newest ``keep``.

    Runs are grouped by ``schedule_name``, which outlives a deleted schedule, so the history an operator reads
    for a schedule never empties. Replication jobs the runs started are not touched. Returns how many runs went.
    """
    now = now or timezone.now()
    days = settings.MP_SCHEDULER_EXECUTION_RETENTION_DAYS if retention_days is None else retention_days
    keep = settings.MP_SCHEDULER_KEEP_EXECUTIONS if keep is None else keep
    if days <= 0:
        return 0
    old = ScheduleExecution.objects.filter(status__in=TERMINAL_EXECUTION, completed_at__lt=now - timedelta(days=days))
    kept: list[int] = []
    if keep > 0:
        for name in old.values_list("schedule_name", flat=True).distinct():
            kept += ScheduleExecution.objects.filter(schedule_name=name).order_by("-created_at", "-id").values_list(
                "pk", flat=True)[:keep]
    doomed = list(old.exclude(pk__in=kept).order_by("completed_at", "id").values_list("pk", flat=True)[:batch])
    if not doomed:
        return 0
    with transaction.atomic():
        ScheduleExecution.objects.filter(pk__in=doomed).delete()
    logger.info("pruned %s schedule run(s) finished more than %s day(s) ago", len(doomed), days)
    return len(doomed)
