"""The failover conductor: runs a job's steps in order and, when a run fails or is cancelled, walks them back.

    pending       live only: power the source off (`power_off_source`), start the final incremental sync
                  (`final_sync`) and return; the sync's finish signal (or the housekeeping beat) runs the job again
    validating    `validate`: readiness checks again (unless skip_validation), then the plan
    snapshotting  `snapshot`: per replica volume, stop its NBD export, detach it from the control plane, snapshot it
                  `convert`: attach them again, convert the guest with virt-v2v-in-place, detach them
    creating_vm   `create_vm`: deployVirtualMachine, stopped, on the mapped networks
    switching_volume  `switch_volumes`: the boot replica becomes the VM's root disk, data replicas attached
    powering_on   `power_on`: startVirtualMachine
                  `verify_boot`: wait for the guest to answer on a TCP port
    completed     `finish`: test: the VM runs until the test is ended; live: snapshots deleted, context failed_over

Each step writes down what it does (its `records`: job fields, FailoverVolume and CloudResource rows) before the next
one starts; those rows are the record of the run. A failure, a cancel or a stale worker ends in `fail`, which walks the
job's steps backwards and calls each one's `undo`: each undoes what its records show, whatever step failed.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.core.utils import iso
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.models import ReplicationJob
from apps.settings import cloudstack as cs

from . import conf
from .choices import CANCELLABLE, CleanupStatus, FailoverStatus
from .jobs import (
    Cancelled,
    Outcome,
    StepFailed,
    check_cancel,
    claim,
    conclude_cleanup,
    conclude_failure,
    event,
    is_stale,
    load,
    oma,
    reporter,
    set_status,
    step_done,
    touch,
)
from .models import FailoverJob
from .steps import POWER_OFF_SOURCE, SNAPSHOT, VM_STEPS, WAIT, Context, Step, steps_for

logger = logging.getLogger(__name__)


# -- running -------------------------------------------------------------------------------------------


def run(job_id: str) -> None:
    """Run (or continue) a failover job. Returns quietly when another worker owns it or it ended."""
    job = load(job_id)
    if job is None:
        return
    if job.status == FailoverStatus.PENDING:
        _run_pending(job)
    elif job.status in CANCELLABLE and is_stale(job):
        fail(job, None, f"The worker running this failover stopped reporting during '{job.status}' "
                        f"(last heartbeat {iso(job.heartbeat_at or job.updated_at)})", "INTERNAL_ERROR")


def _run_pending(job: FailoverJob) -> None:
    ctx = Context(job)
    try:
        check_cancel(job)
        if job.ossea_config is None:
            raise StepFailed("The CloudStack configuration of this job was deleted", "OSSEA_NOT_CONFIGURED")
        _run_steps(ctx, steps_for(job))
    except Cancelled:
        fail(job, ctx.client, "Cancelled by the operator", "CANCELLED")
    except StepFailed as exc:
        fail(job, ctx.client, exc.message, exc.error_code)
    except cs.CloudStackError as exc:
        fail(job, ctx.client, f"CloudStack: {exc}", ctx.error_code)
    except ApplicationError as exc:
        fail(job, ctx.client, exc.message, exc.error_code or "INTERNAL_ERROR")
    except Exception as exc:  # a bug must still end the job with a reason and roll back, never leave it running
        logger.exception("failover runner crashed job=%s", job.job_id)
        fail(job, ctx.client, f"Internal error: {type(exc).__name__}: {exc}", "INTERNAL_ERROR")


def _run_steps(ctx: Context, steps: tuple[Step, ...]) -> None:
    for step in steps:
        if not _enter(ctx, step):
            return
        result = step.run(ctx)
        for receiver, error in step_done.send_robust(sender=FailoverJob, job=ctx.job, step=step.name):
            if isinstance(error, Exception):
                logger.error("step_done receiver %s failed job=%s step=%s: %s", receiver, ctx.job.job_id, step.name,
                             error)
        if result == WAIT:
            return


def _enter(ctx: Context, step: Step) -> bool:
    """Put the job in the step's status; False when another worker claimed the job first."""
    job = ctx.job
    ctx.again = step.status is not None and job.status == step.status
    if step.status is None or ctx.again:
        return True
    if job.status == FailoverStatus.PENDING:
        # The first step past the queue (and a live failover's prelude): exactly one worker gets the job.
        return claim(job, FailoverStatus.PENDING, step.status, started_at=job.started_at or timezone.now(),
                     current_step=step.current_step(ctx))
    check_cancel(job)
    set_status(job, step.status, current_step=step.current_step(ctx))
    return True


def check_final_sync(job_id: str) -> None:
    """Called when a replication finished (signal) and by the housekeeping beat: go on, wait, or give up."""
    job = load(job_id)
    if job is None or job.status != FailoverStatus.PENDING or not job.final_sync_job_id:
        return
    sync = ReplicationJob.objects.filter(job_id=job.final_sync_job_id).first()
    if sync is not None and sync.status in REPLICATION_ACTIVE:
        started = job.final_sync_started_at or job.created_at
        if started < timezone.now() - timedelta(seconds=conf.final_sync_timeout()):
            fail(job, None, f"The final sync {sync.job_id} did not finish within {conf.final_sync_timeout()} s "
                            f"(it is '{sync.status}')", "FINAL_SYNC_FAILED")
        return
    _run_pending(job)


# -- walking back --------------------------------------------------------------------------------------


def undo(ctx: Context, steps: tuple[Step, ...], outcome: Outcome, *, failure: str, cloudstack: bool = True) -> None:
    """Call the undo of `steps`, last step first.

    The CloudStack undos (only if `cloudstack`) come first and stop at the first problem: a VM that may still hold
    the volumes must not have them reverted or reattached under it; cleanup-failed tries again. The others (the
    source VM's power) run after them whatever happened.
    """
    in_cloudstack = [step for step in reversed(steps) if step.in_cloudstack]
    if cloudstack and in_cloudstack:
        try:
            ctx.oma = ctx.oma or oma(ctx.job, ctx.cloudstack())
            for step in in_cloudstack:
                if not outcome.complete:
                    break
                step.undo(ctx, outcome)
        except cs.CloudStackError as exc:
            outcome.failed(f"{failure}: {exc}")
    for step in reversed(steps):
        if not step.in_cloudstack:
            step.undo(ctx, outcome)


def fail(job: FailoverJob, client: cs.CloudStackClient | None, message: str, error_code: str) -> None:
    """End a run that failed: roll back what it did (if anything), record it, tell whoever asked.

    CloudStack first (the failover VM goes), then the source VM is powered back on if this failover powered it off.
    """
    job.refresh_from_db()
    if job.status not in CANCELLABLE:
        return  # already ended or being cleaned up by someone else
    event(job, "failed", message, level="error", error_code=error_code)
    outcome = Outcome(report=reporter(job, "rollback"))
    steps = steps_for(job)
    # A stopped export alone is no change to undo: it restarts with the next sync.
    cloud_changed = any(step.in_cloudstack and step.recorded(job) for step in steps)
    rolled = cloud_changed or job.source_power_on_owed or job.source_power_uncertain
    if rolled:
        set_status(job, FailoverStatus.REVERTING, current_step="Rolling back", error_message=message,
                   error_code=error_code, cleanup_status=CleanupStatus.IN_PROGRESS)
    undo(Context(job, client=client), steps, outcome, failure="rollback could not run", cloudstack=cloud_changed)
    conclude_failure(job, message, error_code, outcome, rolled)


def end_test(job_id: str) -> None:
    """End a test failover (status cleanup): tear the test VM down, then revert and reattach the volumes."""
    job = load(job_id)
    if job is None or job.status not in (FailoverStatus.CLEANUP, FailoverStatus.REVERTING):
        return
    outcome = Outcome(report=reporter(job, "cleanup"))
    ctx = Context(job)
    try:
        ctx.oma = oma(job, ctx.cloudstack())
        if job.status == FailoverStatus.CLEANUP:
            touch(job, f"Stopping and destroying test VM {job.destination_vm_id}")
            undo(ctx, VM_STEPS, outcome, failure="cleanup could not run")
            if outcome.complete:
                set_status(job, FailoverStatus.REVERTING,
                           current_step="Reverting the snapshots and reattaching the volumes to the control plane")
        if job.status == FailoverStatus.REVERTING:
            undo(ctx, (SNAPSHOT,), outcome, failure="cleanup could not run")
    except cs.CloudStackError as exc:
        outcome.failed(f"cleanup could not run: {exc}")
    conclude_cleanup(job, outcome, action="test cleanup")


def retry_cleanup(job_id: str) -> None:
    """cleanup-failed: roll back again what an earlier rollback or cleanup left behind (status reverting)."""
    _retry(job_id, None, "cleanup could not run", "cleanup of failed execution", "cleanup")


def retry_power_on(job_id: str) -> None:
    """POST /failover/rollback of a failed job whose rollback could not power the source back on: only that."""
    _retry(job_id, (POWER_OFF_SOURCE,), "power-on could not run", "power-on of the source VM", "rollback")


def _retry(job_id: str, steps: tuple[Step, ...] | None, failure: str, action: str, step_name: str) -> None:
    """Undo `steps` (None: all of the job's) again for a job a service put back in reverting, and conclude."""
    job = load(job_id)
    if job is None or job.status != FailoverStatus.REVERTING:
        return
    outcome = Outcome(report=reporter(job, step_name))
    undo(Context(job), steps or steps_for(job), outcome, failure=failure)
    conclude_cleanup(job, outcome, action=action)
