"""The failover runner: the steps of a test or live failover, each recorded, any failure rolled back.

    pending       live only: power the source off through the agent, start the final incremental sync and return;
                  the sync's finish signal (or the housekeeping beat) runs the job again once it completed
    validating    readiness checks again (unless skip_validation), then the plan: networks, offering, template
    snapshotting  per replica volume: stop its NBD export, detach it from the control plane, snapshot it
    creating_vm   deployVirtualMachine, stopped, on the mapped networks
    switching_volume  the boot replica becomes the VM's root (root swap of a stopped VM), data replicas attached
    powering_on   startVirtualMachine
    completed     test: the VM runs until the test is ended; live: snapshots deleted, VM context failed_over

Everything a step creates or moves is written down (FailoverVolume rows, the job's destination VM, CloudResource
rows) before the next step, so `rollback.py` can undo it whatever step failed.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.core.jobs import record_event, transition
from apps.core.utils import iso
from apps.inventory.choices import TRANSITIONS as CONTEXT_TRANSITIONS
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.replication import exports
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.choices import ExportStatus, ReplicationStatus, ReplicationType, VolumeStatus
from apps.replication.models import ReplicationJob, ReplicaVolume, VMExportMapping
from apps.settings import cloudstack as cs
from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState

from . import cloud, conf, notifications, source, validation
from .choices import (
    CANCELLABLE,
    PROGRESS,
    TRANSITIONS,
    CleanupStatus,
    FailoverStatus,
    FailoverType,
    SnapshotState,
    VolumePlace,
)
from .models import FailoverJob, FailoverVolume
from .rollback import Outcome, mark_replica, mark_resource, needs_rollback, restore_volumes, rollback, set_place, teardown_vm

logger = logging.getLogger(__name__)
JOB_KIND = "failover"


class StepFailed(Exception):
    def __init__(self, message: str, error_code: str = "INTERNAL_ERROR"):
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class Cancelled(Exception):
    pass


# -- bookkeeping ------------------------------------------------------------------------------------


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


def _oma(job: FailoverJob, client: cs.CloudStackClient) -> str:
    return job.plan.get("oma_vm_id") or volumes.oma_vm_id(job.ossea_config, client)


def is_stale(job: FailoverJob) -> bool:
    last = job.heartbeat_at or job.updated_at
    limit = conf.stale_seconds()
    if job.status == FailoverStatus.PENDING and job.power_off_source:
        limit = max(limit, job.shutdown_timeout_seconds + 600)  # a guest shutdown may take that long
    return last is None or last < timezone.now() - timedelta(seconds=limit)


# -- entry points -----------------------------------------------------------------------------------


def run(job_id: str) -> None:
    """Run (or continue) a failover job. Returns quietly when another worker owns it or it ended."""
    job = FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
    if job is None:
        return
    if job.status == FailoverStatus.PENDING:
        _run_pending(job)
    elif job.status in CANCELLABLE and is_stale(job):
        fail(job, None, f"The worker running this failover stopped reporting during '{job.status}' "
                        f"(last heartbeat {iso(job.heartbeat_at or job.updated_at)})", "INTERNAL_ERROR")


def _run_pending(job: FailoverJob) -> None:
    client = None
    step_code = {"code": "OSSEA_API_ERROR"}
    try:
        check_cancel(job)
        if job.ossea_config is None:
            raise StepFailed("The CloudStack configuration of this job was deleted", "OSSEA_NOT_CONFIGURED")
        if job.job_type == FailoverType.LIVE and not _live_prelude(job):
            return
        if not claim(job, FailoverStatus.PENDING, FailoverStatus.VALIDATING, started_at=job.started_at or timezone.now(),
                     current_step="Validating readiness"):
            return
        client = cloud.client_for(job.ossea_config)
        _execute(job, client, step_code)
    except Cancelled:
        fail(job, client, "Cancelled by the operator", "CANCELLED")
    except StepFailed as exc:
        fail(job, client, exc.message, exc.error_code)
    except cs.CloudStackError as exc:
        fail(job, client, f"CloudStack: {exc}", step_code["code"])
    except ApplicationError as exc:
        fail(job, client, exc.message, exc.error_code or "INTERNAL_ERROR")
    except Exception as exc:  # a bug must still end the job with a reason and roll back, never leave it running
        logger.exception("failover runner crashed job=%s", job.job_id)
        fail(job, client, f"Internal error: {type(exc).__name__}: {exc}", "INTERNAL_ERROR")


# -- live failover's prelude: source power-off and the final sync -------------------------------------


def _live_prelude(job: FailoverJob) -> bool:
    """Power off and final sync; True when the job can go on now, False while the final sync runs."""
    from apps.replication.services import replication_start

    context = job.vm_context
    if job.power_off_source and job.source_powered_off_at is None:
        touch(job, "Powering off the source VM (guest shutdown, then power off after "
                   f"{job.shutdown_timeout_seconds} s)")
        try:
            answer = source.power_off(job)
        except ApplicationError as exc:
            if not job.source_power_uncertain:
                raise
            # No clear answer: vCenter may have powered the VM off. The rollback decides what to do about it.
            known = job.source_power_state_before or "unknown"
            event(job, "power_off", f"the power-off answer was lost ({exc.message}); the source VM may be powered off "
                                    f"(last known power state before the failover: {known})", level="error")
            raise StepFailed(f"The power-off of the source VM got no clear answer from the agent: {exc.message}; "
                             "vCenter may have powered it off", exc.error_code or "AGENT_UNREACHABLE") from exc
        text = (f"source VM powered off ({job.source_power_result})" if job.source_powered_off_by_platform else
                "source VM was already powered off before this failover: a rollback leaves it off")
        event(job, "power_off", text, **{k: v for k, v in answer.items() if k in ("vm_id", "power_state", "result")})
    if not job.final_sync:
        return True
    if not job.final_sync_job_id:
        check_cancel(job)
        touch(job, "Starting the final incremental sync")
        sync = replication_start(vm_context=context, replication_type=ReplicationType.INCREMENTAL,
                                 ossea_config=job.ossea_config, requested_by=job.job_id)
        now = timezone.now()
        FailoverJob.objects.filter(pk=job.pk).update(final_sync_job_id=sync.job_id, final_sync_started_at=now,
                                                     current_step=f"Waiting for the final sync {sync.job_id}",
                                                     heartbeat_at=now)
        event(job, "final_sync", f"final incremental sync {sync.job_id} started", replication_job_id=sync.job_id)
        job.refresh_from_db()
    sync = ReplicationJob.objects.filter(job_id=job.final_sync_job_id).first()
    if sync is None:
        raise StepFailed(f"The final sync job {job.final_sync_job_id} disappeared", "FINAL_SYNC_FAILED")
    if sync.status in REPLICATION_ACTIVE:
        return False
    if sync.status != ReplicationStatus.COMPLETED:
        raise StepFailed(f"The final sync {sync.job_id} ended '{sync.status}'"
                         + (f": {sync.error_message}" if sync.error_message else ""), "FINAL_SYNC_FAILED")
    event(job, "final_sync", f"final sync {sync.job_id} completed")
    return True


def check_final_sync(job_id: str) -> None:
    """Called when a replication finished (signal) and by the housekeeping beat: go on, wait, or give up."""
    job = FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
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


# -- the steps ----------------------------------------------------------------------------------------


def make_plan(job: FailoverJob, client: cs.CloudStackClient) -> dict:
    """Decide everything before touching anything: networks, compute, template, name, the volumes and their roles."""
    config, context = job.ossea_config, job.vm_context
    zone = client.find_zone(config.zone)
    oma = volumes.oma_vm_id(config, client)
    networks = client.list_networks(zone_id=zone["id"])
    resolved, unmapped = cloud.resolve_networks(context, failover_type=job.job_type, overrides=job.network_overrides,
                                                networks=networks)
    if unmapped:
        raise StepFailed(f"No {'test' if job.job_type == FailoverType.TEST else 'production'} network mapping for "
                         + ", ".join(f"'{n}'" for n in unmapped), "NETWORK_MAPPING_MISSING")
    by_id = {n["id"]: n for n in networks}
    for nic in resolved:
        found = by_id.get(nic["destination_network_id"])
        if found is None:
            raise StepFailed(f"CloudStack network {nic['destination_network_id']} (mapped for "
                             f"'{nic['source_network_name']}') does not exist", "NETWORK_MAPPING_MISSING")
        nic["destination_network_name"] = found.get("name", "")
    try:
        compute = cloud.choose_offering(client.list_service_offerings(), context,
                                        wanted_id=job.custom_config.get("service_offering_id")
                                        or config.service_offering_id)
        template = cloud.choose_template(client.list_templates(zone_id=zone["id"]),
                                         wanted_id=job.custom_config.get("template_id", ""))
    except cloud.PlanError as exc:
        raise StepFailed(str(exc), "VALIDATION_FAILED") from None
    replicas = {r.disk_unit_number: r for r in ReplicaVolume.objects.filter(vm_context=context)}
    disks = list(context.disks.order_by("unit_number", "disk_key"))
    if not disks:
        raise StepFailed(f"VM '{context.vm_name}' has no disks", "VALIDATION_FAILED")
    for index, disk in enumerate(disks):
        replica = replicas.get(disk.unit_number)
        if replica is None:
            raise StepFailed(f"Disk {disk.disk_id} has no replica volume; run a replication first",
                             "VOLUME_NOT_AVAILABLE")
        try:
            remote = client.get_volume(replica.volume_id)
        except cs.CloudStackNotFoundError:
            raise StepFailed(f"Replica volume {replica.volume_id} of {disk.disk_id} no longer exists in CloudStack",
                             "VOLUME_NOT_AVAILABLE") from None
        where = remote.get("virtualmachineid")
        if where and where != oma:
            raise StepFailed(f"Replica volume {replica.volume_id} of {disk.disk_id} is attached to VM {where}, not to "
                             "the control plane", "VOLUME_NOT_AVAILABLE")
        FailoverVolume.objects.update_or_create(
            job=job, volume_id=replica.volume_id,
            defaults={"replica": replica, "volume_name": replica.volume_name, "disk_id": disk.disk_id,
                      "disk_unit_number": disk.unit_number, "is_root": index == 0, "oma_vm_id": oma,
                      "place": VolumePlace.ON_OMA if where else VolumePlace.DETACHED})
    stamp = int(timezone.now().timestamp())
    name = (cloud.test_vm_name(context, stamp) if job.job_type == FailoverType.TEST
            else cloud.live_vm_name(context, job.custom_config))
    display = context.vm_name.replace("~", "-") + (" (test failover)" if job.job_type == FailoverType.TEST else "")
    plan = {"zone_id": zone["id"], "oma_vm_id": oma, "networks": resolved,
            "network_ids": cloud.deploy_network_ids(resolved), "compute": compute.as_plan(),
            "template": {"id": template["id"], "name": template.get("name")}, "vm_name": name,
            "display_name": display, "boot_volume_id": replicas[disks[0].unit_number].volume_id,
            "boot_disk_id": disks[0].disk_id}
    FailoverJob.objects.filter(pk=job.pk).update(plan=plan)
    job.plan = plan
    event(job, "plan", f"VM '{name}' with offering '{compute.offering.get('name')}' on network(s) "
                       + (", ".join(n["destination_network_name"] or n["destination_network_id"] for n in resolved)
                          or "(default)") + f", boot disk {disks[0].disk_id}", plan=plan)
    return plan


def release_from_oma(job: FailoverJob, fv: FailoverVolume, client: cs.CloudStackClient) -> None:
    """Stop the volume's NBD export (nothing may write through it now) and detach it from the control plane."""
    mapping = VMExportMapping.objects.filter(vm_id=job.vm_context.vm_id, disk_unit_number=fv.disk_unit_number,
                                             status=ExportStatus.ACTIVE).first()
    if mapping is not None:
        exports.stop_export(mapping)
        fv.export_stopped = True
        fv.save(update_fields=["export_stopped", "updated_at"])
        event(job, "export", f"stopped NBD export {mapping.export_name}")
    if fv.place == VolumePlace.ON_OMA:
        # Written down before the call: if it fails half-way, rollback looks where the volume really is.
        set_place(fv, VolumePlace.DETACHED)
        volumes.detach_from_oma(client=client, volume_id=fv.volume_id)
        mark_replica(fv, VolumeStatus.DETACHED)
        event(job, "detach", f"detached volume {fv.volume_id} ({fv.disk_id}) from the control plane")


def snapshot(job: FailoverJob, fv: FailoverVolume, client: cs.CloudStackClient) -> None:
    """A CloudStack volume snapshot of the detached replica (a VM snapshot would block attach/detach)."""
    name = f"{job.job_type}-failover-{fv.disk_id}-{int(timezone.now().timestamp())}"
    try:
        snap = client.create_snapshot(fv.volume_id, name=cloud.host_name(name))
    except (cs.CloudStackJobError, cs.CloudStackJobTimeoutError) as exc:
        if exc.resource_id:  # CloudStack keeps a failed snapshot in state Error: rollback deletes it
            fv.snapshot_id, fv.snapshot_state = exc.resource_id, SnapshotState.FAILED
            fv.save(update_fields=["snapshot_id", "snapshot_state", "updated_at"])
            volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.SNAPSHOT,
                           resource_id=exc.resource_id, parent_id=fv.volume_id, failed=True)
        raise StepFailed(f"Failed to create snapshot of volume {fv.volume_id} ({fv.disk_id}): {exc}",
                         "SNAPSHOT_FAILED") from None
    except cs.CloudStackError as exc:
        raise StepFailed(f"Failed to create snapshot of volume {fv.volume_id} ({fv.disk_id}): {exc}",
                         "SNAPSHOT_FAILED") from None
    fv.snapshot_id, fv.snapshot_state = snap["id"], SnapshotState.CREATED
    fv.save(update_fields=["snapshot_id", "snapshot_state", "updated_at"])
    volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.SNAPSHOT, resource_id=snap["id"],
                   name=snap.get("name", ""), parent_id=fv.volume_id)
    event(job, "snapshot", f"snapshot {snap['id']} of volume {fv.volume_id} ({fv.disk_id})", snapshot_id=snap["id"])


def _record_vm(job: FailoverJob, vm_id: str) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(destination_vm_id=vm_id)
    job.destination_vm_id = vm_id
    volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.VM, resource_id=vm_id,
                   name=job.destination_vm_name,
                   replica_volumes=list(job.volumes.values_list("volume_id", flat=True)),
                   warning="its root disk is a replica volume: detach the replicas before destroying it")


def create_vm(job: FailoverJob, client: cs.CloudStackClient, plan: dict) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(destination_vm_name=plan["vm_name"])
    job.destination_vm_name = plan["vm_name"]
    compute = plan["compute"]
    try:
        vm = client.deploy_virtual_machine(
            zone_id=plan["zone_id"], service_offering_id=compute["service_offering_id"],
            template_id=plan["template"]["id"], network_ids=plan["network_ids"], name=plan["vm_name"],
            display_name=plan["display_name"], start=False, cpu_number=compute["cpu_number"],
            memory_mb=compute["memory_mb"])
    except (cs.CloudStackJobError, cs.CloudStackJobTimeoutError) as exc:
        if exc.resource_id:  # the half-made VM (state Error) is destroyed by rollback
            _record_vm(job, exc.resource_id)
        raise
    _record_vm(job, vm["id"])
    event(job, "create_vm", f"created VM {vm['id']} ('{plan['vm_name']}'), stopped", vm_id=vm["id"])


def attach_volumes(job: FailoverJob, client: cs.CloudStackClient) -> None:
    """Root swap (the VM is stopped): the template's root out, the boot replica in at device 0; then the data disks."""
    vm_id = job.destination_vm_id
    root = job.volumes.get(is_root=True)
    old_roots = [v for v in client.list_volumes(vm_id=vm_id) if v.get("deviceid") == 0]
    for old in old_roots:
        volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.VOLUME,
                       resource_id=old["id"], name=old.get("name", ""), parent_id=vm_id, role="template root")
    client.replace_root_volume(vm_id, root.volume_id, delete_old=False)
    set_place(root, VolumePlace.ON_VM, vm_device_id=0)
    mark_replica(root, VolumeStatus.ATTACHED_TO_VM, attached_vm_id=vm_id)
    event(job, "attach", f"volume {root.volume_id} ({root.disk_id}) is the root disk of VM {vm_id}")
    for old in old_roots:
        client.delete_volume(old["id"])
        mark_resource(job, CloudResourceKind.VOLUME, old["id"], CloudResourceState.REMOVED)
        event(job, "attach", f"deleted the template's root volume {old['id']}")
    for fv in job.volumes.filter(is_root=False).order_by("disk_unit_number"):
        check_cancel(job)
        attached = client.attach_volume(fv.volume_id, vm_id)
        set_place(fv, VolumePlace.ON_VM, vm_device_id=attached.get("deviceid"))
        mark_replica(fv, VolumeStatus.ATTACHED_TO_VM, attached_vm_id=vm_id)
        event(job, "attach", f"attached volume {fv.volume_id} ({fv.disk_id}) to VM {vm_id} as device "
                             f"{attached.get('deviceid')}")


def _execute(job: FailoverJob, client: cs.CloudStackClient, step_code: dict) -> None:
    context = job.vm_context
    if not job.skip_validation:
        result, validator = validation.validate(context, job.job_type, overrides=job.network_overrides,
                                                exclude_job_id=job.job_id, custom_config=job.custom_config,
                                                running_job=job)
        FailoverJob.objects.filter(pk=job.pk).update(validation_result=result)
        if not result["is_ready"]:
            failure = validator.first_failure()
            raise StepFailed("Validation failed: " + "; ".join(result["errors"]),
                             failure.error_code if failure else "VALIDATION_FAILED")
        event(job, "validated", f"ready for failover (score {result['readiness_score']})")
    else:
        event(job, "validated", "validation skipped on request", level="warning")
    plan = make_plan(job, client)
    check_cancel(job)

    set_status(job, FailoverStatus.SNAPSHOTTING, current_step="Detaching and snapshotting the replica volumes")
    items = list(job.volumes.order_by("disk_unit_number"))
    for index, fv in enumerate(items):
        check_cancel(job)
        release_from_oma(job, fv, client)
        step_code["code"] = "SNAPSHOT_FAILED"
        snapshot(job, fv, client)
        step_code["code"] = "OSSEA_API_ERROR"
        touch(job, f"Snapshotted {index + 1} of {len(items)} volume(s)",
              progress=PROGRESS[FailoverStatus.SNAPSHOTTING] + 25.0 * (index + 1) / len(items))

    check_cancel(job)
    set_status(job, FailoverStatus.CREATING_VM, current_step=f"Creating VM '{plan['vm_name']}'")
    create_vm(job, client, plan)

    check_cancel(job)
    set_status(job, FailoverStatus.SWITCHING_VOLUME, current_step="Attaching the replica volumes to the VM")
    attach_volumes(job, client)

    check_cancel(job)
    set_status(job, FailoverStatus.POWERING_ON, current_step=f"Starting VM {job.destination_vm_id}")
    vm = client.start_virtual_machine(job.destination_vm_id)
    event(job, "power_on", f"VM {job.destination_vm_id} is {vm.get('state', 'Running')}")
    finish(job, client)


def finish(job: FailoverJob, client: cs.CloudStackClient) -> None:
    now = timezone.now()
    if job.job_type == FailoverType.TEST:
        due = now + timedelta(seconds=job.test_duration_seconds) if job.auto_cleanup and job.test_duration_seconds else None
        set_status(job, FailoverStatus.COMPLETED, completed_at=now, cleanup_due_at=due,
                   current_step="Test VM running" + (f"; automatic cleanup at {iso(due)}" if due else ""))
        event(job, "completed", f"test failover completed: VM {job.destination_vm_id} is running"
                                + (f" until {iso(due)}" if due else ""))
        notifications.notify(job, "failover.completed", f"Test VM {job.destination_vm_id} is running")
        return
    # Live: the cut-over is done; its snapshots are no longer a way back (the new VM now owns the data).
    for fv in job.volumes.filter(snapshot_state=SnapshotState.CREATED):
        try:
            client.delete_snapshot(fv.snapshot_id)
        except cs.CloudStackError as exc:
            event(job, "snapshot", f"could not delete snapshot {fv.snapshot_id}: {exc} (left for the orphan sweep)",
                  level="warning")
            continue
        fv.snapshot_state = SnapshotState.DELETED
        fv.save(update_fields=["snapshot_state", "updated_at"])
        mark_resource(job, CloudResourceKind.SNAPSHOT, fv.snapshot_id, CloudResourceState.REMOVED)
    mark_resource(job, CloudResourceKind.VM, job.destination_vm_id, CloudResourceState.RELEASED)
    with transaction.atomic():
        context = VMContext.objects.select_for_update().get(pk=job.vm_context_id)
        context_status(context, VMContextStatus.FAILED_OVER)
        set_status(job, FailoverStatus.COMPLETED, completed_at=now,
                   current_step=f"VM {job.destination_vm_id} runs in CloudStack; the source stays powered off"
                   if job.source_powered_off_at else f"VM {job.destination_vm_id} runs in CloudStack")
    event(job, "completed", f"live failover completed: VM {job.destination_vm_id} is running; VM context failed_over")
    notifications.notify(job, "failover.completed", f"VM {job.destination_vm_id} runs in CloudStack")


# -- failure, rollback, cleanup -------------------------------------------------------------------------


def reporter(job: FailoverJob, step: str):
    """Each undo step becomes a job event when it happens."""
    def report(line: str, ok: bool) -> None:
        event(job, step, line, level="info" if ok else "error")
        touch(job, line)
    return report


def _log_entry(action: str, outcome: Outcome) -> dict:
    return {"at": iso(timezone.now()), "action": action, "done": outcome.done, "problems": outcome.problems,
            "left": outcome.left}


def _summary(outcome: Outcome) -> str:
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


def fail(job: FailoverJob, client: cs.CloudStackClient | None, message: str, error_code: str) -> None:
    """End a run that failed: roll back what it did (if anything), record it, tell whoever asked.

    CloudStack first (the failover VM goes), then the source VM is powered back on if this failover powered it off.
    """
    job.refresh_from_db()
    if job.status not in CANCELLABLE:
        return  # already ended or being cleaned up by someone else
    event(job, "failed", message, level="error", error_code=error_code)
    outcome = Outcome(report=reporter(job, "rollback"))
    cloud_changed = needs_rollback(job)
    rolled = cloud_changed or job.source_power_on_owed or job.source_power_uncertain
    if rolled:
        set_status(job, FailoverStatus.REVERTING, current_step="Rolling back", error_message=message,
                   error_code=error_code, cleanup_status=CleanupStatus.IN_PROGRESS)
    if cloud_changed:
        try:
            client = client or cloud.client_for(job.ossea_config)
            rollback(job, client, _oma(job, client), outcome)
        except cs.CloudStackError as exc:
            outcome.failed(f"rollback could not run: {exc}")
    source.restore_power(job, outcome)
    _conclude_failure(job, message, error_code, outcome, rolled)


def _conclude_failure(job: FailoverJob, message: str, error_code: str, outcome: Outcome, rolled: bool) -> None:
    now = timezone.now()
    note = ""
    if job.source_powered_off_at is not None and not job.source_powered_off_by_platform:
        note = " The source VM was already powered off before this failover and stays off."
    with transaction.atomic():
        set_status(job, FailoverStatus.FAILED, completed_at=now, error_message=(message + _summary(outcome) + note)[:8000],
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
    notifications.notify(job, "failover.failed", message + _summary(outcome) + note)


def end_test(job_id: str) -> None:
    """End a test failover (status cleanup): tear the test VM down, then revert and reattach the volumes."""
    job = FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
    if job is None or job.status not in (FailoverStatus.CLEANUP, FailoverStatus.REVERTING):
        return
    outcome = Outcome(report=reporter(job, "cleanup"))
    try:
        client = cloud.client_for(job.ossea_config)
        oma = _oma(job, client)
        if job.status == FailoverStatus.CLEANUP:
            touch(job, f"Stopping and destroying test VM {job.destination_vm_id}")
            teardown_vm(job, client, outcome)
            if outcome.complete:
                set_status(job, FailoverStatus.REVERTING,
                           current_step="Reverting the snapshots and reattaching the volumes to the control plane")
        if job.status == FailoverStatus.REVERTING:
            restore_volumes(job, client, oma, outcome)
    except cs.CloudStackError as exc:
        outcome.failed(f"cleanup could not run: {exc}")
    conclude_cleanup(job, outcome, action="test cleanup")


def retry_cleanup(job_id: str) -> None:
    """cleanup-failed: roll back again what an earlier rollback or cleanup left behind (status reverting)."""
    job = FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
    if job is None or job.status != FailoverStatus.REVERTING:
        return
    outcome = Outcome(report=reporter(job, "cleanup"))
    try:
        client = cloud.client_for(job.ossea_config)
        rollback(job, client, _oma(job, client), outcome)
    except cs.CloudStackError as exc:
        outcome.failed(f"cleanup could not run: {exc}")
    source.restore_power(job, outcome)
    conclude_cleanup(job, outcome, action="cleanup of failed execution")


def retry_power_on(job_id: str) -> None:
    """POST /failover/rollback of a failed job whose rollback could not power the source back on: only that."""
    job = FailoverJob.objects.select_related("vm_context", "ossea_config").filter(job_id=job_id).first()
    if job is None or job.status != FailoverStatus.REVERTING:
        return
    outcome = Outcome(report=reporter(job, "rollback"))
    source.restore_power(job, outcome)
    conclude_cleanup(job, outcome, action="power-on of the source VM")


def conclude_cleanup(job: FailoverJob, outcome: Outcome, *, action: str) -> None:
    job.refresh_from_db()
    now = timezone.now()
    log = [*job.rollback_log, _log_entry(action, outcome)]
    if not outcome.complete:
        set_status(job, FailoverStatus.FAILED, cleanup_status=CleanupStatus.FAILED, needs_cleanup=True,
                   rollback_log=log, error_code=job.error_code or "CLEANUP_FAILED",
                   error_message=(job.error_message or f"The {action} is incomplete") + _summary(outcome),
                   current_step=f"{action.capitalize()} incomplete: run cleanup-failed")
        notifications.notify(job, "failover.cleanup_failed", f"{action.capitalize()} incomplete" + _summary(outcome))
        return
    # A test that ran (its VM had started) ends as completed; a run that had failed stays failed.
    ended_ok = job.job_type == FailoverType.TEST and job.completed_at is not None and job.error_code in ("",
                                                                                                        "CLEANUP_FAILED")
    # A failed run's message keeps the history: what this round did is added to it.
    summary = _summary(outcome)
    message = job.error_message if ended_ok or not summary else (job.error_message + f" - {action}" + summary)[:8000]
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
                         ended[0].upper() + ended[1:] + _summary(outcome))
