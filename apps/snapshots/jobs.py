"""The bookkeeping of snapshot runs and restore jobs: events, counters, step progress. Imports no runner."""
from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.jobs import record_event
from apps.core.jobs import transition as core_transition

from .choices import RESTORE_TRANSITIONS, StepStatus
from .models import RestoreJob, SnapshotRun

RUN_KIND, RESTORE_KIND = "snapshot_run", "restore"


def run_event(run: SnapshotRun, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(RUN_KIND, str(run.pk), step, message, level=level, **data)


def bump(run: SnapshotRun, **counters: int) -> None:
    """Add to a run's counters in the database (and beat its heartbeat), then read them back into `run`."""
    SnapshotRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(),
                                                 **{k: F(k) + v for k, v in counters.items()})
    run.refresh_from_db()


def restore_event(job: RestoreJob, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(RESTORE_KIND, job.job_id, step, message, level=level, **data)


class Cancelled(Exception):
    """The operator asked the restore to stop; the runner rolls back and ends it CANCELED."""


def check_cancel(job: RestoreJob) -> None:
    reason = RestoreJob.objects.filter(pk=job.pk, cancel_requested=True).values_list("cancel_reason", flat=True).first()
    if reason is not None:
        raise Cancelled(reason or "cancelled by the operator")


def locked_step(job, key: str, status: str, message: str = "", *, stamp: bool = False):
    """The job's row, locked (call inside `transaction.atomic`), with step `key` set to `status` (and `message`).

    Restore jobs and on-demand pipeline runs keep their steps the same way, as a JSON list of dicts; `stamp` also
    records when the step started or finished (restore jobs show it, pipeline runs do not)."""
    row = type(job).objects.select_for_update().get(pk=job.pk)
    for step in row.steps:
        if step["key"] == key:
            step["status"] = status
            if message:
                step["message"] = message
            if stamp:
                step["started_at" if status == StepStatus.RUNNING else "finished_at"] = timezone.now().isoformat()
    return row


def set_step(job: RestoreJob, key: str, status: str, message: str = "") -> None:
    """One step's status, the job's current step and its progress (finished steps over all), saved at once."""
    with transaction.atomic():
        row = locked_step(job, key, status, message, stamp=True)
        done = sum(s["status"] in (StepStatus.COMPLETED, StepStatus.SKIPPED) for s in row.steps)
        row.progress_pct = round(100.0 * done / max(1, len(row.steps)), 1)
        row.current_step = key
        if status == StepStatus.FAILED:
            row.failed_step = key
        row.save(update_fields=["steps", "progress_pct", "current_step", "failed_step", "updated_at"])
    job.steps, job.progress_pct, job.current_step, job.failed_step = (row.steps, row.progress_pct,
                                                                      row.current_step, row.failed_step)


def transition(job: RestoreJob, status: str, **updates) -> RestoreJob:
    return core_transition(job, status, transitions=RESTORE_TRANSITIONS, **updates)
