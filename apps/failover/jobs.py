"""A failover job's bookkeeping: events, heartbeat, guarded status changes, claims, cancel checks, and how a run ends.

Services, tasks, the conductor and every step import this module; it imports none of them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import django.dispatch
from django.db import transaction
from django.utils import timezone

from apps.core.jobs import record_event, transition
from apps.core.utils import iso
from apps.inventory.choices import TRANSITIONS as CONTEXT_TRANSITIONS
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.settings import cloudstack as cs
from apps.settings import volumes

from . import conf, notifications
from .choices import PROGRESS, TRANSITIONS, CleanupStatus, FailoverStatus, FailoverType
from .models import FailoverJob

JOB_KIND = "failover"
# Sent by the conductor after each step of a run returned (again when a resumed run passes a recorded step);
# kwargs: job, step (the step's name). Higher apps hang their work on it (apps/waves: the after-power-off and
# after-boot hooks); a receiver's error never stops the failover (send_robust).
step_done = django.dispatch.Signal()


class StepFailed(Exception):
    """A step cannot go on: `message` and `error_code` end the job (and its rollback runs)."""

    def __init__(self, message: str, error_code: str = "INTERNAL_ERROR"):
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class Cancelled(Exception):
    """The operator asked the job to stop (`cancel_requested`): it stops between two steps and rolls back."""


# -- bookkeeping ------------------------------------------------------------------------------------


def load(job_id: str) -> FailoverJob | None:
    """The job with what every run reads (its VM context and CloudStack configuration), or None."""
    return FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()


def event(job: FailoverJob, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(JOB_KIND, job.job_id, step, message, level=level, **data)


def touch(job: FailoverJob, step_text: str, *, progress: float | None = None) -> None:
    """The job's current step and heartbeat (the reaper fails jobs whose heartbeat stops)."""
    now = timezone.now()
    fields = {"current_step": step_text[:255], "heartbeat_at": now, "updated_at": now}
    if progress is not None:
        fields["progress"] = round(progress, 1)
    FailoverJob.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def set_status(job: FailoverJob, status: str, **updates) -> FailoverJob:
    updates.setdefault("heartbeat_at", timezone.now())
    if status in PROGRESS and "progress" not in updates:
        updates["progress"] = PROGRESS[status]
    return transition(job, status, transitions=TRANSITIONS, **updates)


def claim(job: FailoverJob, expected: str, new: str, **updates) -> bool:
    """Move the job from `expected` to `new` only if nobody moved it meanwhile: one worker runs each step."""
    with transaction.atomic():
        row = FailoverJob.objects.select_for_update().get(pk=job.pk)
        if row.status != expected:
            return False
        set_status(row, new, **updates)
    job.refresh_from_db()
    return True


def check_cancel(job: FailoverJob) -> None:
    if FailoverJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise Cancelled()


def context_status(vm_context: VMContext, status: str) -> None:
    if vm_context.current_status != status:
        transition(vm_context, status, transitions=CONTEXT_TRANSITIONS, field="current_status")


def oma(job: FailoverJob, client: cs.CloudStackClient) -> str:
    """The control-plane VM the replica volumes belong on (as planned, else asked)."""
    return job.plan.get("oma_vm_id") or volumes.oma_vm_id(job.ossea_config, client)


def is_stale(job: FailoverJob) -> bool:
    last = job.heartbeat_at or job.updated_at
    limit = conf.stale_seconds()
    if job.status == FailoverStatus.PENDING and job.power_off_source:
        limit = max(limit, job.shutdown_timeout_seconds + 600)  # a guest shutdown may take that long
    return last is None or last < timezone.now() - timedelta(seconds=limit)


def start_test_end(job: FailoverJob, *, requested_by: str) -> None:
    """A running test failover enters cleanup; the caller holds the row's lock and queues the cleanup."""
    set_status(job, FailoverStatus.CLEANUP, cleanup_status=CleanupStatus.IN_PROGRESS, current_step="Cleanup queued")
    event(job, "cleanup", "test failover cleanup requested", requested_by=requested_by)


# -- what an undo did -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an undo did and could not do; each line is also reported as it happens (a job event).

    `problems` are CloudStack leftovers (the job needs cleanup-failed); `left` is what the operator must see to outside
    CloudStack (a source VM that could not be powered back on), which does not hold the VM back.
    """

    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    report: Callable[[str, bool], None] | None = None

    @property
    def complete(self) -> bool:
        return not self.problems

    def did(self, line: str) -> None:
        self.done.append(line)
        if self.report:
            self.report(line, True)

    def failed(self, line: str) -> None:
        self.problems.append(line)
        if self.report:
            self.report(line, False)

    def leave(self, line: str) -> None:
        self.left.append(line)
        if self.report:
            self.report(line, False)


def reporter(job: FailoverJob, step: str) -> Callable[[str, bool], None]:
    """Each undo line becomes a job event when it happens."""
    def report(line: str, ok: bool) -> None:
        event(job, step, line, level="info" if ok else "error")
        touch(job, line)
    return report


def _log_entry(action: str, outcome: Outcome) -> dict:
    return {"at": iso(timezone.now()), "action": action, "done": outcome.done, "problems": outcome.problems,
            "left": outcome.left}


def summary(outcome: Outcome) -> str:
    parts = []
    if outcome.done:
        parts.append("rolled back: " + "; ".join(outcome.done))
    if outcome.problems:
        parts.append("NOT undone (run cleanup-failed): " + "; ".join(outcome.problems))
    if outcome.left:
        parts.append("NOT undone, left to the operator: " + "; ".join(outcome.left))
    return (" - " + " - ".join(parts)) if parts else ""


def _source_step(job: FailoverJob, outcome: Outcome) -> str:
    """The source VM's part of the current step once a rollback or cleanup ended."""
    if outcome.left and job.source_power_left_to_operator:
        return "; the source VM's power state is unknown: check it in vCenter"
    if outcome.left:
        return "; the source VM may still be powered off" if job.source_power_uncertain else \
            "; the source VM is still powered off"
    return "; the source VM is powered on again" if job.source_powered_on_at else ""


# -- how a run ends when it did not complete ----------------------------------------------------------


def conclude_failure(job: FailoverJob, message: str, error_code: str, outcome: Outcome, rolled: bool) -> None:
    """A failed run, after its rollback (if it had anything to undo): status, message, log, VM context, notice."""
    now = timezone.now()
    note = ""
    if job.source_powered_off_at is not None and not job.source_powered_off_by_platform:
        note = " The source VM was already powered off before this failover and stays off."
    with transaction.atomic():
        set_status(job, FailoverStatus.FAILED, completed_at=now, error_message=(message + summary(outcome) + note)[:8000],
                   error_code=error_code, needs_cleanup=not outcome.complete,
                   cleanup_status=(CleanupStatus.FAILED if not outcome.complete else
                                   CleanupStatus.COMPLETED if rolled else CleanupStatus.NONE),
                   rollback_log=[*job.rollback_log, _log_entry("rollback", outcome)] if rolled else job.rollback_log,
                   current_step=("Failed" + (" and rolled back" if rolled and outcome.complete else
                                             "; rollback incomplete" if rolled else "")
                                 + _source_step(job, outcome))[:255])
        if outcome.complete and job.job_type == FailoverType.TEST:
            context = VMContext.objects.select_for_update().get(pk=job.vm_context_id)
            if context.current_status == VMContextStatus.TEST_FAILOVER:
                context_status(context, VMContextStatus.READY_FOR_FAILOVER)
    if note:
        event(job, "source", note.strip(), level="warning")
    notifications.notify(job, "failover.failed", message + summary(outcome) + note)


def conclude_cleanup(job: FailoverJob, outcome: Outcome, *, action: str) -> None:
    """A test's end, a cleanup-failed or a power-on retry ended: completed, failed again, or failed and cleaned up."""
    job.refresh_from_db()
    now = timezone.now()
    log = [*job.rollback_log, _log_entry(action, outcome)]
    if not outcome.complete:
        set_status(job, FailoverStatus.FAILED, cleanup_status=CleanupStatus.FAILED, needs_cleanup=True,
                   rollback_log=log, error_code=job.error_code or "CLEANUP_FAILED",
                   error_message=(job.error_message or f"The {action} is incomplete") + summary(outcome),
                   current_step=f"{action.capitalize()} incomplete: run cleanup-failed")
        notifications.notify(job, "failover.cleanup_failed", f"{action.capitalize()} incomplete" + summary(outcome))
        return
    # A test that ran (its VM had started) ends as completed; a run that had failed stays failed.
    ended_ok = job.job_type == FailoverType.TEST and job.completed_at is not None and job.error_code in ("",
                                                                                                        "CLEANUP_FAILED")
    # A failed run's message keeps the history: what this round did is added to it.
    text = summary(outcome)
    message = job.error_message if ended_ok or not text else (job.error_message + f" - {action}" + text)[:8000]
    with transaction.atomic():
        set_status(job, FailoverStatus.COMPLETED if ended_ok else FailoverStatus.FAILED,
                   cleanup_status=CleanupStatus.COMPLETED, needs_cleanup=False, rollback_log=log,
                   ended_at=now if job.job_type == FailoverType.TEST else job.ended_at,
                   progress=100.0 if ended_ok else job.progress, error_message=message,
                   current_step="Test failover ended; the volumes are back on the control plane" if ended_ok
                   else "Cleaned up; the volumes are back on the control plane" + _source_step(job, outcome))
        context = VMContext.objects.select_for_update().get(pk=job.vm_context_id)
        if context.current_status == VMContextStatus.TEST_FAILOVER:
            context_status(context, VMContextStatus.READY_FOR_FAILOVER)
    ended = f"{action} completed" if not outcome.left else f"{action} ended; something is left to the operator"
    event(job, "cleanup", ended, level="warning" if outcome.left else "info")
    notifications.notify(job, "failover.test_ended" if ended_ok else "failover.cleaned_up",
                         ended[0].upper() + ended[1:] + summary(outcome))
