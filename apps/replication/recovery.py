"""Jobs that outlive their processes: the sweep that takes over jobs whose runner died, and the reconciliation of
handed-over jobs with the agent that copies them (the reaper, and once at every worker start).

Nothing here fails a job the agent is still copying: the agent's own answer (`GET /status/{job}`) decides.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import ApplicationError, NotFound
from apps.enrollment.agent_client import AgentClient, endpoint_for_job

from .choices import ReplicationStatus
from .jobs import claimable, event, lease_seconds, replication_finish, store_figures
from .models import ChangeIdRecord, ReplicationJob

logger = logging.getLogger(__name__)

HANDED_OVER = (ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.REPLICATING)


def stuck_jobs() -> list[ReplicationJob]:
    """Jobs no runner holds that one must take: a provisioning (or half handed-over) job whose runner's lease ran
    out, and a queued job nobody picked up for a lease period (its message was lost with a broker or a worker)."""
    quiet = timezone.now() - timedelta(seconds=lease_seconds())
    rows = ReplicationJob.objects.filter(claimable()).filter(
        ~Q(status=ReplicationStatus.PENDING) | Q(updated_at__lt=quiet))
    return list(rows)


def handed_over(*, stale_only: bool) -> list[ReplicationJob]:
    rows = ReplicationJob.objects.filter(status__in=HANDED_OVER, runner_lease_until__isnull=True)
    if stale_only:
        cutoff = timezone.now() - timedelta(seconds=settings.MP_REPLICATION_HEARTBEAT_TIMEOUT)
        rows = rows.filter(updated_at__lt=cutoff).filter(Q(last_heartbeat_at__isnull=True)
                                                         | Q(last_heartbeat_at__lt=cutoff))
    return list(rows.select_related("vm_context"))


def _keep_figures(agent: AgentClient, job: ReplicationJob) -> None:
    """A copy finished while its last push was lost or not yet sent: its figures come from the agent's progress
    record, so the job does not end with nothing copied on record. Best effort: the status already decided."""
    try:
        store_figures(job, agent.progress(job.job_id))
    except ApplicationError as exc:
        logger.warning("job=%s finished but its figures could not be read from the agent: %s", job.job_id, exc)


def reconcile(job: ReplicationJob, *, stale: bool) -> str:
    """Bring a handed-over job in line with what its agent says; returns what was done (for the logs and tests).

    ``stale``: the job stopped reporting for the heartbeat timeout, so an agent that cannot be reached fails it.
    Otherwise (a restart) an unreachable agent leaves the job as it is, for the reaper to judge later."""
    last = job.last_heartbeat_at or job.updated_at
    try:
        # The job's own agent: another agent being offline leaves this job alone.
        agent = AgentClient(base_url=endpoint_for_job(job.appliance_id).url)
        answer = agent.status(job.job_id)
    except NotFound:
        replication_finish(job=job, status=ReplicationStatus.FAILED,
                           error="the agent no longer knows this job (it restarted, or its job list was lost); "
                                 "retry the job: the copy resumes from the agent's checkpoints")
        return "failed: unknown to the agent"
    except ApplicationError as exc:
        if not stale:
            return "kept: agent unreachable"
        replication_finish(
            job=job, status=ReplicationStatus.FAILED,
            error=f"the agent stopped reporting progress (last heard {last:%Y-%m-%d %H:%M:%S} UTC, timeout "
                  f"{settings.MP_REPLICATION_HEARTBEAT_TIMEOUT}s) and cannot be asked ({exc.message}); retry the "
                  "job to resume the copy")
        return "failed: agent unreachable"
    state = answer.get("status")
    if state in ("pending", "running"):
        ReplicationJob.objects.filter(pk=job.pk).update(last_heartbeat_at=timezone.now(), updated_at=timezone.now())
        if stale:
            event(job, "adopted", f"no report since {last:%Y-%m-%d %H:%M:%S} UTC, but the agent is still copying "
                                  f"({answer.get('current_operation') or state}): kept running", level="warning")
        return "adopted"
    if state == "completed":
        expected = set(job.vm_context.disks.values_list("disk_id", flat=True))
        stored = set(ChangeIdRecord.objects.filter(job=job).values_list("disk_id", flat=True))
        if expected <= stored:
            _keep_figures(agent, job)
            replication_finish(job=job, status=ReplicationStatus.COMPLETED)
            return "completed"
        replication_finish(job=job, status=ReplicationStatus.FAILED,
                           error="the agent finished the copy but its change ids did not reach the control plane "
                                 f"(missing for {', '.join(sorted(expected - stored))}); the next sync copies those "
                                 "disks again from the last stored change id")
        return "failed: change ids missing"
    if state in ("failed", "cancelled"):
        replication_finish(job=job, status=state,
                           error=answer.get("error") or f"the agent reports the job {state}")
        return state
    return f"kept: agent status {state!r}"
