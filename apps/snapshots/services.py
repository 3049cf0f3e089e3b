"""What the snapshot and restore endpoints and tasks do: policies, assignments, runs, the pipeline, restores.

Long work never runs in a request: a run, a pipeline or a restore is a row first, handed to a Celery task once the
row is committed (`transaction.on_commit`).
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import Conflict, InvalidInput, NotFound
from apps.core.utils import unique_or_conflict
from apps.settings import cloudstack as cs
from apps.settings import volumes as cloud_volumes
from apps.settings.choices import SWEPT, CloudResourceKind, CloudResourceState
from apps.settings.cloudstack_service import map_cloudstack_error
from apps.settings.models import CloudResource

from . import cloud, restore, runner, tasks
from .choices import PIPELINE_ACTIVE, PIPELINE_STEPS, RESTORE_ACTIVE, RestoreMode, RestoreStatus, StepStatus, TargetType
from .jobs import transition
from .models import OnDemandRun, RestoreJob, SnapshotAssignment, SnapshotPolicy, SnapshotRun

# -- policies and assignments ----------------------------------------------------------------------


def policy_get(policy_id: int) -> SnapshotPolicy:
    policy = SnapshotPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(f"Snapshot policy {policy_id} not found")
    return policy


def policy_save(policy: SnapshotPolicy | None, data: dict, *, user: str = "") -> SnapshotPolicy:
    """Create (policy None) or change a policy; a name another policy has is a 409."""
    policy = policy or SnapshotPolicy(created_by=user)
    for key, value in data.items():
        setattr(policy, key, value)
    with unique_or_conflict(f"A snapshot policy named '{data.get('name')}' already exists"):
        policy.save()
    return policy


def policy_delete(policy: SnapshotPolicy) -> None:
    """Its assignments go with it; the snapshots it made stay in CloudStack (no longer pruned)."""
    policy.delete()


def _cloud_call(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except cs.CloudStackError as exc:
        raise map_cloudstack_error(exc) from exc


def assignments_create(*, policy: SnapshotPolicy, target_type: str, volume_ids: list[str], target_id: str,
                       domain_id: str, user: str) -> list[SnapshotAssignment]:
    """Assign the policy to volumes, a VM or a tenant; volumes and VMs must exist in CloudStack (400 otherwise)."""
    targets: list[tuple[str, str]] = []
    if target_type == TargetType.TENANT:
        targets = [(target_id, target_id)]
    else:
        _, client = cloud.connect()
        kind = "volume" if target_type == TargetType.VOLUME else "vm"
        for ident in (volume_ids if target_type == TargetType.VOLUME else [target_id]):
            found = _cloud_call(cloud.find, client, kind, ident)
            if found is None:
                raise InvalidInput(f"CloudStack has no {'volume' if kind == 'volume' else 'VM'} {ident}")
            targets.append((ident, found.get("name", "")))
    made = []
    with unique_or_conflict(f"Policy '{policy.name}' is already assigned to one of these targets"):
        for ident, name in targets:
            made.append(SnapshotAssignment.objects.create(
                policy=policy, target_type=target_type, target_id=ident, target_name=name,
                domain_id=domain_id if target_type == TargetType.TENANT else "", created_by=user))
    return made


def assignment_delete(assignment_id: int) -> None:
    deleted, _ = SnapshotAssignment.objects.filter(pk=assignment_id).delete()
    if not deleted:
        raise NotFound(f"Snapshot assignment {assignment_id} not found")


# -- runs ---------------------------------------------------------------------------------------


def run_get(run_id: int) -> SnapshotRun:
    run = SnapshotRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Snapshot run {run_id} not found")
    return run


# -- the on-demand pipeline ---------------------------------------------------------------------


def pipeline_trigger(*, user: str) -> OnDemandRun:
    """Queue the pipeline (202); 409 while one is pending or running."""
    runner.reap_stale()
    with transaction.atomic():
        if OnDemandRun.objects.select_for_update().filter(status__in=PIPELINE_ACTIVE).exists():
            raise Conflict("An on-demand snapshot pipeline is already pending or running.")
        job = OnDemandRun.objects.create(triggered_by=user, steps=[
            {"key": key, "label": label, "status": StepStatus.PENDING} for key, label in PIPELINE_STEPS])
        transaction.on_commit(lambda: tasks.run_pipeline.apply_async(args=[job.job_id], task_id=job.job_id))
    return job


def pipeline_latest() -> OnDemandRun | None:
    return OnDemandRun.objects.order_by("-created_at", "-id").first()


# -- restore ------------------------------------------------------------------------------------


def restore_get(job_id: str) -> RestoreJob:
    job = RestoreJob.objects.filter(job_id=job_id).first()
    if job is None:
        raise NotFound(f"Restore job {job_id} not found")
    return job


def restore_plan(*, user: str, **fields) -> RestoreJob:
    """Validate against CloudStack and keep the plan as a PLANNED job (nothing is created yet)."""
    plan = _cloud_call(restore.make_plan, **fields)
    return RestoreJob.objects.create(
        status=RestoreStatus.PLANNED, mode=fields["mode"], project_id=fields["project_id"], vm_id=fields["vm_id"],
        vm_name=plan["vm"]["name"] or "", restore_point_id=fields["restore_point_id"],
        new_vm_name=plan["new_vm_name"], ip_strategy=fields["ip_strategy"], manual_ips=fields["manual_ips"],
        network_map=fields.get("network_map") or {}, power_on=fields["power_on"], plan_json=plan,
        steps=restore.steps_for(fields["mode"]), created_by=user)


def _confirm(job: RestoreJob, confirm: str | None) -> None:
    if job.mode == RestoreMode.REPLACE and confirm != f"DELETE AND RESTORE {job.vm_name}":
        raise InvalidInput(f"REPLACE overwrites VM {job.vm_name}'s disks: confirm_destructive must be exactly "
                           f"'DELETE AND RESTORE {job.vm_name}'")


def _enqueue(job: RestoreJob) -> None:
    transaction.on_commit(lambda: tasks.run_restore.apply_async(args=[job.job_id], task_id=job.job_id))


def _busy_vm(job: RestoreJob) -> None:
    busy = RestoreJob.objects.filter(vm_id=job.vm_id, status__in=RESTORE_ACTIVE).exclude(pk=job.pk).first()
    if busy is not None:
        raise Conflict(f"Restore {busy.job_id} of this VM is already {busy.status.lower()}")


def restore_execute(*, plan_id: str, confirm_destructive: str | None) -> RestoreJob:
    """Start a PLANNED job (202, PENDING); a REPLACE needs the exact confirmation."""
    job = restore_get(plan_id)
    if job.status != RestoreStatus.PLANNED:
        raise Conflict(f"Restore job {plan_id} is {job.status}, not PLANNED")
    _confirm(job, confirm_destructive)
    failed = [c for c in (job.plan_json or {}).get("checks", []) if c.get("check_status") == "fail"]
    if failed:
        raise Conflict(f"Restore plan {plan_id} failed its {failed[0]['check_name']} check: {failed[0]['notes']}")
    with transaction.atomic():
        _busy_vm(job)
        job = transition(job, RestoreStatus.PENDING)
        _enqueue(job)
    return job


def restore_cancel(job_id: str, *, reason: str) -> RestoreJob:
    """A PLANNED or PENDING job ends at once; a RUNNING one stops at its next step boundary and rolls back."""
    job = restore_get(job_id)
    if job.status in (RestoreStatus.PLANNED, RestoreStatus.PENDING):
        return transition(job, RestoreStatus.CANCELED, cancel_requested=True, cancel_reason=reason,
                          error=f"cancelled: {reason or 'by the operator'}", finished_at=timezone.now())
    if job.status != RestoreStatus.RUNNING:
        raise Conflict(f"Restore job {job_id} is {job.status}: only a planned, pending or running job can be cancelled")
    RestoreJob.objects.filter(pk=job.pk).update(cancel_requested=True, cancel_reason=reason)
    job.refresh_from_db()
    return job


_ENDED = (RestoreStatus.FAILED, RestoreStatus.CANCELED)


def restore_cleanup(job_id: str, *, delete_volume: bool) -> dict:
    """What a failed or cancelled restore left in CloudStack: its VM always, its restored volumes when asked."""
    job = restore_get(job_id)
    if job.status not in _ENDED:
        raise Conflict(f"Restore job {job_id} is {job.status}: only a FAILED or CANCELED job is cleaned up")
    config, client = cloud.connect()
    cleaned = {"ports": [], "volume": None, "volumes": [], "server": None, "errors": []}
    for res in CloudResource.objects.filter(owner=job.owner, kind=CloudResourceKind.VM, state__in=SWEPT):
        try:
            cloud_volumes.remove(res, client)
            cleaned["server"] = res.resource_id
        except cs.CloudStackError as exc:
            cleaned["errors"].append(f"VM {res.resource_id}: {exc}")
    left = [m["volume_id"] for m in job.created_volume_ids if cloud.find(client, "volume", m["volume_id"]) is not None]
    if left and not delete_volume:
        cleaned["volume"] = f"{', '.join(left)} (preserved — use delete_volume=true to remove)"
    for volume_id in left if delete_volume else []:
        try:
            volume = cloud.find(client, "volume", volume_id)
            if volume and volume.get("virtualmachineid"):
                raise cs.CloudStackError(f"it is attached to VM {volume['virtualmachineid']}")
            client.delete_volume(volume_id)
            cleaned["volumes"].append(volume_id)
            CloudResource.objects.filter(owner=job.owner, resource_id=volume_id).update(
                state=CloudResourceState.REMOVED)
        except cs.CloudStackError as exc:
            cleaned["errors"].append(f"volume {volume_id}: {exc}")
    if delete_volume and cleaned["volumes"]:
        cleaned["volume"] = ", ".join(cleaned["volumes"])
        RestoreJob.objects.filter(pk=job.pk).update(
            created_volume_ids=[m for m in job.created_volume_ids if m["volume_id"] not in cleaned["volumes"]])
    return {"job_id": job.job_id, "cleaned": cleaned,
            "message": "Cleanup completed" if not cleaned["errors"] else "Cleanup completed with errors"}


def restore_retry(job_id: str, *, confirm_destructive: str | None, ip_strategy_override: str | None,
                  user: str) -> tuple[RestoreJob, RestoreJob]:
    """A new job with the failed one's plan, taking up the restored volumes it kept; (new, original)."""
    original = restore_get(job_id)
    if original.status != RestoreStatus.FAILED:
        raise Conflict(f"Restore job {job_id} is {original.status}: only a FAILED job is retried")
    _confirm(original, confirm_destructive)
    fields = {"project_id": original.project_id, "vm_id": original.vm_id,
              "restore_point_id": original.restore_point_id, "mode": original.mode,
              "new_vm_name": original.new_vm_name, "ip_strategy": ip_strategy_override or original.ip_strategy,
              "manual_ips": original.manual_ips, "power_on": original.power_on, "network_map": original.network_map}
    plan = _cloud_call(restore.make_plan, **fields)
    _, client = cloud.connect()
    kept = {m["snapshot_id"]: m["volume_id"] for m in original.created_volume_ids
            if _cloud_call(cloud.find, client, "volume", m["volume_id"]) is not None}
    with transaction.atomic():
        job = RestoreJob.objects.create(
            status=RestoreStatus.PENDING, mode=original.mode, project_id=original.project_id,
            vm_id=original.vm_id, vm_name=original.vm_name, restore_point_id=original.restore_point_id,
            new_vm_name=plan["new_vm_name"], ip_strategy=fields["ip_strategy"], manual_ips=original.manual_ips,
            network_map=original.network_map, power_on=original.power_on, plan_json=plan,
            steps=restore.steps_for(original.mode), created_by=user,
            original_job=original, resumed_from_step=original.failed_step or "VALIDATE",
            reused_resources={"volumes": kept} if kept else {})
        _busy_vm(job)
        _enqueue(job)
    return job, original


def restore_cleanup_storage(job_id: str, *, delete_old_volume: bool, delete_source_snapshot: bool) -> dict:
    """After a COMPLETED restore: the original disks a REPLACE detached and kept, and the source snapshot(s)."""
    job = restore_get(job_id)
    if job.status != RestoreStatus.COMPLETED:
        raise Conflict(f"Restore job {job_id} is {job.status}: storage is cleaned up after a COMPLETED restore only")
    _, client = cloud.connect()
    result = {"deleted_volumes": [], "deleted_snapshots": [], "errors": [], "skipped": []}
    if delete_old_volume:
        if job.mode != RestoreMode.REPLACE:
            result["skipped"].append("old volumes: a NEW restore leaves the original VM's disks in use")
        for old in job.old_volume_ids:
            volume = _cloud_call(cloud.find, client, "volume", old["volume_id"])
            if volume is None:
                result["skipped"].append(f"volume {old['volume_id']}: already gone")
            elif volume.get("virtualmachineid"):
                result["skipped"].append(f"volume {old['volume_id']}: attached to VM {volume['virtualmachineid']}")
            else:
                try:
                    client.delete_volume(old["volume_id"])
                    result["deleted_volumes"].append(old["volume_id"])
                except cs.CloudStackError as exc:
                    result["errors"].append(f"volume {old['volume_id']}: {exc}")
    if delete_source_snapshot:
        for planned in job.plan_json.get("volumes", []):
            snap = _cloud_call(cloud.find, client, "snapshot", planned["snapshot_id"])
            if snap is None or snap.get("state") != "BackedUp":
                result["skipped"].append(f"snapshot {planned['snapshot_id']}: "
                                         + ("already gone" if snap is None else f"{snap.get('state')}, not available"))
                continue
            try:
                client.delete_snapshot(planned["snapshot_id"])
                result["deleted_snapshots"].append(planned["snapshot_id"])
            except cs.CloudStackError as exc:
                result["errors"].append(f"snapshot {planned['snapshot_id']}: {exc}")
    return {"job_id": job.job_id, "result": result,
            "message": "Storage cleanup completed" if not result["errors"] else "Storage cleanup completed with errors"}
