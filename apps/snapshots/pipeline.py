"""The on-demand pipeline (seed 004): policy assignment -> inventory sync -> auto snapshots -> inventory sync.

Over CloudStack the steps are: resolve every assignment against the volumes CloudStack has now (and say which
assignments point at nothing any more), read the inventory (volumes, snapshots), run every enabled policy at once
(a `SnapshotRun` with the trigger `on_demand`, not waiting for the interval), then read the inventory again and check
that each snapshot the run made is in CloudStack. Each step's status is saved as it changes, for the status endpoint.
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import cloud, runner
from .choices import PipelineStatus, RunStatus, RunTrigger, StepStatus
from .jobs import locked_step
from .models import OnDemandRun, SnapshotAssignment, SnapshotPolicy, SnapshotRunVolume


class StepFailed(Exception):
    pass


def _step(job: OnDemandRun, key: str, status: str, message: str = "") -> None:
    with transaction.atomic():
        row = locked_step(job, key, status, message)
        row.save(update_fields=["steps"])
    job.steps = row.steps


def _policy_assign(job: OnDemandRun, state: dict) -> str:
    _, client = cloud.connect()
    volumes = cloud.live_volumes(client)
    vm_ids = {v.get("virtualmachineid") for v in volumes}
    stale, covered = [], set()
    for a in SnapshotAssignment.objects.select_related("policy").filter(policy__enabled=True):
        target = cloud.Target(a.target_type, a.target_id, a.domain_id)
        hits = {v["id"] for v in volumes if target.covers(v)}
        covered |= hits
        if not hits and (a.target_type != "vm" or a.target_id not in vm_ids):
            stale.append(f"{a.target_type} {a.target_name or a.target_id}")
    state["client"], state["volumes"] = client, volumes
    return (f"{len(covered)} volume(s) covered by the enabled policies"
            + (f"; assignments matching nothing in CloudStack: {', '.join(stale)}" if stale else ""))


def _inventory(job: OnDemandRun, state: dict) -> str:
    client = state["client"]
    volumes = cloud.live_volumes(client)
    snapshots = cloud.list_everywhere(client, "listSnapshots")
    state["snapshot_ids"] = {s["id"] for s in snapshots}
    return f"{len(volumes)} volume(s), {len(snapshots)} snapshot(s) in CloudStack"


def _auto_snapshots(job: OnDemandRun, state: dict) -> str:
    policies = list(SnapshotPolicy.objects.filter(enabled=True))
    if not policies:
        return "no enabled policy"
    try:
        run = runner.run_start(trigger=RunTrigger.ON_DEMAND, policies=policies, user=job.triggered_by)
    except Exception as exc:  # noqa: BLE001 -- a scheduled run in progress: the step fails, saying so
        raise StepFailed(str(exc)) from None
    OnDemandRun.objects.filter(pk=job.pk).update(snapshot_run=run)
    run = runner.execute(run, policies)
    state["run"] = run
    text = (f"run {run.pk} {run.status}: {run.snapshots_created} created, {run.snapshots_deleted} deleted by "
            f"retention, {run.failed} failed, {run.quota_blocked} quota-blocked")
    if run.status == RunStatus.FAILED:
        raise StepFailed(text + (f" ({run.error})" if run.error else ""))
    return text


def _inventory_post(job: OnDemandRun, state: dict) -> str:
    text = _inventory(job, state)
    run = state.get("run")
    if run is None:
        return text
    made = set(SnapshotRunVolume.objects.filter(run=run).exclude(snapshot_id="").values_list("snapshot_id",
                                                                                              flat=True))
    missing = made - state["snapshot_ids"]
    if missing:
        raise StepFailed(f"{text}; snapshot(s) the run made are missing from CloudStack: {', '.join(sorted(missing))}")
    return f"{text}; all {len(made)} snapshot(s) of run {run.pk} present"


STEPS = {"policy_assign": _policy_assign, "rvtools_pre": _inventory, "auto_snapshots": _auto_snapshots,
         "rvtools_post": _inventory_post}


def run(job: OnDemandRun) -> OnDemandRun:
    """Run the pipeline's steps in order; the first failing step fails the job and the rest stay pending."""
    OnDemandRun.objects.filter(pk=job.pk).update(status=PipelineStatus.RUNNING, started_at=timezone.now())
    state: dict = {}
    for step in list(job.steps):
        _step(job, step["key"], StepStatus.RUNNING)
        try:
            message = STEPS[step["key"]](job, state)
        except Exception as exc:  # noqa: BLE001 -- a step's failure is the job's, said in words
            _step(job, step["key"], StepStatus.FAILED, str(exc))
            OnDemandRun.objects.filter(pk=job.pk).update(status=PipelineStatus.FAILED, finished_at=timezone.now(),
                                                         error=f"{step['label']}: {exc}")
            job.refresh_from_db()
            return job
        _step(job, step["key"], StepStatus.COMPLETED, message)
    OnDemandRun.objects.filter(pk=job.pk).update(status=PipelineStatus.COMPLETED, finished_at=timezone.now())
    job.refresh_from_db()
    return job
