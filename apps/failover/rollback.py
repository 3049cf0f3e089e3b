"""Undo a failover: tear the failover VM down, put the replica volumes back as they were.

Both halves look before they act (CloudStack is asked where each volume is), so running them again after a partial
failure, a crash or a concurrent change only does what is still needed. Every step says what it did; a step that
fails leaves its volume alone for the next attempt (`cleanup-failed`) instead of guessing.

Order matters: a replica used as the VM's root disk is detached *before* the VM is destroyed, because destroying
a CloudStack VM deletes its ROOT volume. Snapshots are reverted while the volume is detached (CloudStack reverts
only volumes of stopped VMs or detached ones), then deleted, then the volume is attached to the control plane.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from apps.replication.choices import VolumeStatus
from apps.replication.models import ReplicaVolume
from apps.settings import cloudstack as cs
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from .choices import SnapshotState, VolumePlace
from .models import FailoverJob, FailoverVolume

logger = logging.getLogger(__name__)


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


def mark_resource(job: FailoverJob, kind: str, resource_id: str, state: str) -> None:
    CloudResource.objects.filter(owner=job.job_id, kind=kind, resource_id=resource_id).update(state=state)


def set_place(fv: FailoverVolume, place: str, **fields) -> None:
    fv.place = place
    for key, value in fields.items():
        setattr(fv, key, value)
    fv.save(update_fields=["place", *fields.keys(), "updated_at"])


def mark_replica(fv: FailoverVolume, status: str, *, attached_vm_id: str = "", device_path: str | None = None,
                 device_id: int | None = None) -> None:
    """Keep replication's view of the volume true: where it is and, on the control plane, its device."""
    updates = {"status": status, "attached_vm_id": attached_vm_id}
    if device_path is not None:
        updates.update(device_path=device_path, device_id=device_id)
    ReplicaVolume.objects.filter(volume_id=fv.volume_id).update(**updates)


def _find_vm(job: FailoverJob, client: cs.CloudStackClient) -> dict | None:
    if job.destination_vm_id:
        try:
            return client.get_vm(job.destination_vm_id)
        except cs.CloudStackNotFoundError:
            return None
    if job.destination_vm_name and job.job_type == "test":
        # A worker that died while deployVirtualMachine ran never learnt the id; test VM names are unique per job.
        return next((vm for vm in client.list_virtual_machines(name=job.destination_vm_name)
                     if vm.get("name") == job.destination_vm_name and vm.get("state") not in ("Destroyed", "Expunging")),
                    None)
    return None


def teardown_vm(job: FailoverJob, client: cs.CloudStackClient, out: Outcome) -> Outcome:
    """Stop the failover VM, detach every replica volume from it, destroy (expunge) it."""
    try:
        vm = _find_vm(job, client)
    except cs.CloudStackError as exc:
        out.failed(f"could not look up VM {job.destination_vm_id or job.destination_vm_name}: {exc}")
        return out
    ours = {fv.volume_id: fv for fv in job.volumes.all()}
    if vm is None:
        if job.destination_vm_id:
            out.did(f"VM {job.destination_vm_id} already gone")
            mark_resource(job, CloudResourceKind.VM, job.destination_vm_id, CloudResourceState.REMOVED)
        return _delete_template_roots(job, client, out)
    vm_id = vm["id"]
    if not job.destination_vm_id:
        FailoverJob.objects.filter(pk=job.pk).update(destination_vm_id=vm_id)
        job.destination_vm_id = vm_id
    try:
        attached = [v for v in client.list_volumes(vm_id=vm_id) if v["id"] in ours]
        if vm.get("state") in ("Running", "Starting", "Stopping"):
            client.stop_virtual_machine(vm_id, forced=True)
            out.did(f"stopped VM {vm_id}")
        for volume in sorted(attached, key=lambda v: -(v.get("deviceid") or 0)):
            client.detach_volume(volume["id"])
            fv = ours[volume["id"]]
            set_place(fv, VolumePlace.DETACHED, vm_device_id=None)
            mark_replica(fv, VolumeStatus.DETACHED)
            out.did(f"detached volume {volume['id']} ({fv.disk_id}) from VM {vm_id}")
        client.destroy_virtual_machine(vm_id, expunge=True)
    except cs.CloudStackNotFoundError:
        out.did(f"VM {vm_id} already gone")
    except cs.CloudStackError as exc:
        out.failed(f"could not tear down VM {vm_id}: {exc}")
        return out
    else:
        out.did(f"destroyed VM {vm_id}")
    mark_resource(job, CloudResourceKind.VM, vm_id, CloudResourceState.REMOVED)
    return _delete_template_roots(job, client, out)


def _delete_template_roots(job: FailoverJob, client: cs.CloudStackClient, out: Outcome) -> Outcome:
    """The template's root disk swapped out of the VM, if its deletion did not happen."""
    for res in CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.VOLUME,
                                            state=CloudResourceState.CREATED):
        try:
            client.delete_volume(res.resource_id)
            out.did(f"deleted the template's root volume {res.resource_id}")
        except cs.CloudStackNotFoundError:
            pass  # it went with the VM
        except cs.CloudStackError as exc:
            out.failed(f"could not delete the template's root volume {res.resource_id}: {exc}")
            continue
        res.state = CloudResourceState.REMOVED
        res.save(update_fields=["state", "updated_at"])
    return out


def _restore_one(job: FailoverJob, fv: FailoverVolume, client: cs.CloudStackClient, oma: str, out: Outcome, *,
                 revert: bool) -> None:
    try:
        remote = client.get_volume(fv.volume_id)
    except cs.CloudStackNotFoundError:
        out.failed(f"volume {fv.volume_id} ({fv.disk_id}) no longer exists in CloudStack")
        return
    where = remote.get("virtualmachineid")
    if where and where != oma:
        out.failed(f"volume {fv.volume_id} ({fv.disk_id}) is attached to VM {where}, not to the control "
                   "plane; tear that VM down first")
        return
    if fv.snapshot_state == SnapshotState.CREATED and revert:
        if where == oma:
            # Reattached by an earlier partial run before its revert: take it off again to revert it.
            client.detach_from_oma(fv.volume_id, dev_root=settings.MP_DEVICE_ROOT,
                                   device_timeout=settings.MP_DEVICE_TIMEOUT)
            where = None
            set_place(fv, VolumePlace.DETACHED)
        client.revert_snapshot(fv.snapshot_id)
        fv.snapshot_state = SnapshotState.REVERTED
        fv.save(update_fields=["snapshot_state", "updated_at"])
        out.did(f"reverted volume {fv.volume_id} ({fv.disk_id}) to snapshot {fv.snapshot_id}")
    if fv.snapshot_state in (SnapshotState.CREATED, SnapshotState.REVERTED, SnapshotState.FAILED):
        try:
            client.delete_snapshot(fv.snapshot_id)
            out.did(f"deleted snapshot {fv.snapshot_id}")
        except cs.CloudStackNotFoundError:
            out.did(f"snapshot {fv.snapshot_id} already gone")
        fv.snapshot_state = SnapshotState.DELETED
        fv.save(update_fields=["snapshot_state", "updated_at"])
        mark_resource(job, CloudResourceKind.SNAPSHOT, fv.snapshot_id, CloudResourceState.REMOVED)
    if where != oma:
        attached = client.attach_to_oma(fv.volume_id, oma, dev_root=settings.MP_DEVICE_ROOT,
                                        device_timeout=settings.MP_DEVICE_TIMEOUT)
        out.did(f"reattached volume {fv.volume_id} ({fv.disk_id}) to the control plane at "
                f"{attached.device_path}")
        set_place(fv, VolumePlace.ON_OMA)
        mark_replica(fv, VolumeStatus.ATTACHED_TO_OMA, attached_vm_id=oma, device_path=str(attached.device_path),
                     device_id=attached.device_id)
    elif fv.place != VolumePlace.ON_OMA:
        set_place(fv, VolumePlace.ON_OMA)
        out.did(f"volume {fv.volume_id} ({fv.disk_id}) was still on the control plane")


def restore_volumes(job: FailoverJob, client: cs.CloudStackClient, oma: str, out: Outcome, *,
                    revert: bool = True) -> Outcome:
    """Each volume: revert and delete its snapshot, attach it to the control plane. Skips what is already done."""
    for fv in job.volumes.all().order_by("disk_unit_number"):
        try:
            _restore_one(job, fv, client, oma, out, revert=revert)
        except cs.CloudStackError as exc:
            out.failed(f"could not restore volume {fv.volume_id} ({fv.disk_id}): {exc}")
    return out


def needs_rollback(job: FailoverJob) -> bool:
    """Whether the job changed anything in CloudStack (a stopped export alone restarts with the next sync)."""
    if job.destination_vm_id or (job.destination_vm_name and job.job_type == "test"):
        return True
    return job.volumes.exclude(place=VolumePlace.ON_OMA).exists() or job.volumes.filter(
        snapshot_state__in=[SnapshotState.CREATED, SnapshotState.REVERTED, SnapshotState.FAILED]).exists()


def rollback(job: FailoverJob, client: cs.CloudStackClient, oma: str, out: Outcome) -> Outcome:
    """Back to the state before the failover: no failover VM, snapshots reverted and gone, volumes on the control plane."""
    teardown_vm(job, client, out)
    if not out.complete:
        # The VM may still hold volumes: reverting or reattaching them now could hurt it. Try again later.
        return out
    return restore_volumes(job, client, oma, out, revert=True)
