"""A snapshot run: every volume the chosen policies cover gets a CloudStack snapshot, then retention prunes.

The volumes are grouped by tenant into batches (MP_SNAPSHOT_BATCH_SIZE volumes at most); each volume's outcome is a
row (`SnapshotRunVolume`) written as it happens, so progress is live and a run that stops part-way says what it did.
Each snapshot is recorded before CloudStack's job is waited on (write-ahead: `apps.settings.volumes.write_ahead`), so
a worker that dies mid-wait leaves a record the orphan sweep can act on. Retention deletes only policy snapshots
(`PolicySnapshot`), and only once the volume's new snapshot exists: a failing cloud never thins the protection.
CloudStack unreachable (or refusing our keys) ends the run at once: the rest of its volumes are `not_run`.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import Conflict
from apps.settings import cloudstack as cs
from apps.settings import volumes as cloud_volumes
from apps.settings.choices import CloudResourceKind

from . import cloud
from .choices import PIPELINE_ACTIVE, PipelineStatus, RunStatus, RunTrigger, SnapshotState, VolumeOutcome
from .jobs import bump, run_event
from .models import OnDemandRun, PolicySnapshot, SnapshotAssignment, SnapshotPolicy, SnapshotRun, SnapshotRunVolume

logger = logging.getLogger(__name__)
# The cloud itself is gone or refuses us: every further call would fail the same way.
_FATAL = (cs.CloudStackUnreachableError, cs.CloudStackAuthError, cs.CloudStackBadResponseError)


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.MP_SNAPSHOT_RUN_STALE)


def reap_stale() -> int:
    """Runs and pipelines whose worker stopped beating: failed, saying so (their policies become due again)."""
    now = timezone.now()
    count = SnapshotRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=_stale_before()).update(
        status=RunStatus.FAILED, finished_at=now, current_batch=None,
        error="interrupted: the worker running it stopped reporting")
    # A pipeline's own work is its run (reaped above by heartbeat): one still active long after it started, with no
    # run going, lost its worker (or never had one).
    stale = OnDemandRun.objects.filter(status__in=PIPELINE_ACTIVE, created_at__lt=_stale_before()).filter(
        Q(snapshot_run__isnull=True) | ~Q(snapshot_run__status=RunStatus.RUNNING))
    count += stale.update(status=PipelineStatus.FAILED, finished_at=now,
                          error="interrupted: no worker took it up or it stopped")
    return count


def run_start(*, trigger: str, policies: list[SnapshotPolicy], user: str = "") -> SnapshotRun:
    """A new running run for these policies; 409 while another one runs (one run at a time)."""
    with transaction.atomic():
        # Locking the policies serializes two starters (beat and the pipeline) on every database.
        list(SnapshotPolicy.objects.select_for_update().filter(pk__in=[p.pk for p in policies]))
        if SnapshotRun.objects.filter(status=RunStatus.RUNNING).exists():
            raise Conflict("A snapshot run is already running")
        run = SnapshotRun.objects.create(trigger=trigger, triggered_by=user,
                                         policy_names=[p.name for p in policies])
        SnapshotPolicy.objects.filter(pk__in=[p.pk for p in policies]).update(last_run_at=run.started_at)
    run_event(run, "start", f"{trigger} run of {len(policies)} polic{'y' if len(policies) == 1 else 'ies'}")
    return run


def run_due_policies() -> SnapshotRun | None:
    """Beat's pass: reap what stopped, then run the policies whose interval has passed (none: nothing)."""
    reap_stale()
    due = [p for p in SnapshotPolicy.objects.filter(enabled=True) if p.is_due()]
    if not due:
        return None
    try:
        run = run_start(trigger=RunTrigger.SCHEDULED, policies=due, user="celery-beat")
    except Conflict:
        return None  # the running one goes on; these stay due for the next pass
    return execute(run, due)


def plan_volumes(run: SnapshotRun, policies: list[SnapshotPolicy], volumes: list[dict]) -> int:
    """One row per (policy, covered volume), batched by tenant; the number of batches."""
    rows = []
    for policy in policies:
        targets = [cloud.Target(a.target_type, a.target_id, a.domain_id)
                   for a in SnapshotAssignment.objects.filter(policy=policy)]
        for volume in volumes:
            if any(t.covers(volume) for t in targets):
                rows.append((cloud.tenant_name(volume), policy, volume))
    rows.sort(key=lambda r: (r[0], r[1].name, r[2].get("name", ""), r[2]["id"]))
    size = max(1, settings.MP_SNAPSHOT_BATCH_SIZE)
    batch, made = 0, []
    for _tenant, group in groupby(rows, key=lambda r: r[0]):
        group = list(group)
        for start in range(0, len(group), size):
            batch += 1
            for tenant, policy, volume in group[start:start + size]:
                made.append(SnapshotRunVolume(
                    run=run, batch_number=batch, policy=policy, policy_name=policy.name, volume_id=volume["id"],
                    volume_name=volume.get("name", ""), vm_id=volume.get("virtualmachineid") or "",
                    vm_name=volume.get("vmname") or "", tenant_name=tenant, size_gb=cloud.size_gb(volume)))
    SnapshotRunVolume.objects.bulk_create(made)
    SnapshotRun.objects.filter(pk=run.pk).update(total_volumes=len(made), total_batches=batch)
    run.refresh_from_db()
    return batch


def execute(run: SnapshotRun, policies: list[SnapshotPolicy]) -> SnapshotRun:
    """Run the policies over what CloudStack has now; the run finished (completed, partial or failed)."""
    try:
        config, client = cloud.connect()
        volumes = cloud.live_volumes(client)
    except Exception as exc:  # noqa: BLE001 -- any failure before the first snapshot ends the run, said in words
        return finish(run, error=f"Could not read CloudStack's volumes: {exc}")
    by_id = {v["id"]: v for v in volumes}
    plan_volumes(run, policies, volumes)
    run_event(run, "plan", f"{run.total_volumes} volume(s) in {run.total_batches} batch(es) for "
                           f"{', '.join(p.name for p in policies) or 'no policy'}")
    for batch in range(1, run.total_batches + 1):
        SnapshotRun.objects.filter(pk=run.pk).update(current_batch=batch)
        for row in SnapshotRunVolume.objects.filter(run=run, batch_number=batch, status=VolumeOutcome.PENDING):
            try:
                snapshot_volume(run, row, by_id[row.volume_id], config, client)
            except _FATAL as exc:
                _outcome(row, VolumeOutcome.FAILED, error=f"CloudStack failed while snapshotting it: {exc}")
                bump(run, failed=1)
                left = SnapshotRunVolume.objects.filter(run=run, status=VolumeOutcome.PENDING)
                count = left.update(status=VolumeOutcome.NOT_RUN, error="the run stopped: CloudStack failed")
                return finish(run, error=f"CloudStack failed after {run.snapshots_created} snapshot(s); "
                                         f"{count} volume(s) not run: {exc}")
        SnapshotRun.objects.filter(pk=run.pk).update(completed_batches=batch)
        _estimate(run)
    return finish(run)


def snapshot_volume(run: SnapshotRun, row: SnapshotRunVolume, volume: dict, config, client) -> None:
    """One volume: its snapshot (recorded write-ahead), then retention. Raises only what ends the run."""
    if volume.get("state") != "Ready":
        _outcome(row, VolumeOutcome.SKIPPED, error=f"volume is {volume.get('state')}, not Ready")
        bump(run, skipped=1)
        return
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    name = f"{row.policy_name}-{row.volume_name or row.volume_id}-{stamp}"[:255]

    def then(jobid: str, snapshot_id: str) -> None:
        PolicySnapshot.objects.create(policy=row.policy, policy_name=row.policy_name, run=run,
                                      volume_id=row.volume_id, snapshot_id=snapshot_id)
        SnapshotRunVolume.objects.filter(pk=row.pk).update(snapshot_id=snapshot_id, cloudstack_job_id=jobid)

    submitted = cloud_volumes.write_ahead(config=config, owner=run.owner, kind=CloudResourceKind.SNAPSHOT, name=name,
                                          parent_id=row.volume_id, then=then)
    try:
        snap = client.create_snapshot(row.volume_id, name=name, on_submitted=submitted)
    except _FATAL:
        raise
    except cs.CloudStackError as exc:
        PolicySnapshot.objects.filter(run=run, volume_id=row.volume_id, state=SnapshotState.CREATING).update(
            state=SnapshotState.FAILED)
        quota = cloud.is_quota_refusal(exc)
        _outcome(row, VolumeOutcome.QUOTA_BLOCKED if quota else VolumeOutcome.FAILED, error=str(exc),
                 **(_quota_figures(client, volume) if quota else {}))
        bump(run, **({"quota_blocked": 1} if quota else {"failed": 1}))
        run_event(run, "snapshot", f"volume {row.volume_name or row.volume_id}: {exc}", level="warning",
                  volume_id=row.volume_id)
        return
    with transaction.atomic():
        PolicySnapshot.objects.update_or_create(
            snapshot_id=snap["id"], defaults={"policy": row.policy, "policy_name": row.policy_name, "run": run,
                                              "volume_id": row.volume_id, "state": SnapshotState.AVAILABLE})
        cloud_volumes.release(run.owner, resource_ids=[snap["id"]])  # kept: retention, not rollback, removes it
        _outcome(row, VolumeOutcome.CREATED, snapshot_id=snap["id"])
    bump(run, snapshots_created=1)
    prune(run, row, client)


def _quota_figures(client, volume: dict) -> dict:
    """The owner's snapshot limits and use as CloudStack counts them when it refused (one read per refusal)."""
    quota = cloud.owner_quota(client, volume)
    if quota is None:
        return {}

    def whole(value: float | None) -> int | None:
        return None if value is None else round(value)

    return {"quota_limit_gb": whole(quota.secondary_limit_gb), "quota_used_gb": whole(quota.secondary_used_gb),
            "snapshot_limit": whole(quota.snapshot_limit), "snapshots_used": whole(quota.snapshot_used)}


def prune(run: SnapshotRun, row: SnapshotRunVolume, client) -> None:
    """Delete this policy's snapshots of the volume beyond its retention (count, and age if set), oldest first."""
    policy = row.policy
    if policy is None:
        return
    kept = list(PolicySnapshot.objects.filter(policy=policy, volume_id=row.volume_id,
                                              state=SnapshotState.AVAILABLE).order_by("-created_at", "-id"))
    doomed = kept[policy.retention_count:]
    if policy.retention_days:
        cutoff = timezone.now() - timedelta(days=policy.retention_days)
        doomed += [s for s in kept[1:policy.retention_count] if s.created_at < cutoff]
    deleted, errors = [], []
    for snap in doomed:
        try:
            client.delete_snapshot(snap.snapshot_id)
        except cs.CloudStackError as exc:
            if cloud.find(client, "snapshot", snap.snapshot_id) is not None:
                errors.append(f"could not delete snapshot {snap.snapshot_id}: {exc}")
                continue
        PolicySnapshot.objects.filter(pk=snap.pk).update(state=SnapshotState.DELETED, deleted_at=timezone.now())
        deleted.append(snap.snapshot_id)
    if deleted or errors:
        SnapshotRunVolume.objects.filter(pk=row.pk).update(deleted_snapshot_ids=deleted, error="; ".join(errors))
        bump(run, snapshots_deleted=len(deleted))
        run_event(run, "retention", f"volume {row.volume_name or row.volume_id}: deleted {len(deleted)} snapshot(s) "
                                    f"beyond {policy.name}'s retention" + (f"; {'; '.join(errors)}" if errors else ""),
                  volume_id=row.volume_id, deleted=deleted)


def _outcome(row: SnapshotRunVolume, status: str, **fields) -> None:
    SnapshotRunVolume.objects.filter(pk=row.pk).update(status=status, **fields)


def _estimate(run: SnapshotRun) -> None:
    run.refresh_from_db()
    done = run.total_volumes - SnapshotRunVolume.objects.filter(run=run, status=VolumeOutcome.PENDING).count()
    if done and run.total_volumes:
        elapsed = timezone.now() - run.started_at
        SnapshotRun.objects.filter(pk=run.pk).update(
            estimated_finish_at=run.started_at + elapsed * (run.total_volumes / done))


def finish(run: SnapshotRun, *, error: str = "") -> SnapshotRun:
    # A snapshot whose job was never seen to end is not counted by retention; its record is the orphan sweep's.
    PolicySnapshot.objects.filter(run=run, state=SnapshotState.CREATING).update(state=SnapshotState.FAILED)
    run.refresh_from_db()
    problems = run.failed + run.quota_blocked
    if error:
        status = RunStatus.FAILED
    elif problems and run.snapshots_created:
        status = RunStatus.PARTIAL
    elif problems:
        status = RunStatus.FAILED
        error = f"no snapshot could be made ({problems} volume(s) failed)"
    else:
        status = RunStatus.COMPLETED
    now = timezone.now()
    SnapshotRun.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=now, current_batch=None,
                                                 estimated_finish_at=now, heartbeat_at=now)
    run.refresh_from_db()
    run_event(run, "finish", f"run {status}: {run.snapshots_created} created, {run.snapshots_deleted} deleted by "
                             f"retention, {run.failed} failed, {run.quota_blocked} quota-blocked"
                             + (f"; {error}" if error else ""), level="warning" if error else "info")
    logger.info("snapshot run=%s status=%s created=%s deleted=%s failed=%s", run.pk, status, run.snapshots_created,
                run.snapshots_deleted, run.failed)
    return run
