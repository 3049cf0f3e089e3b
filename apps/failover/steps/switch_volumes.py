"""Step `switching_volume`: the boot replica becomes the stopped VM's root disk (root swap), the data replicas attach.

The template's root disk is recorded (a CloudResource volume) before the swap and deleted after it. The undo takes
every replica volume of this job off the VM, highest device first, so that destroying the VM (the undo of
`create_vm`, next) cannot delete a replica used as its ROOT volume.
"""
from __future__ import annotations

from apps.replication.choices import VolumeStatus
from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from ..choices import FailoverStatus, VolumePlace
from ..jobs import Outcome, check_cancel, event
from ..models import FailoverJob
from .base import Context, Step, mark_replica, mark_resource, set_place, vm_is_gone


def attach_volumes(ctx: Context) -> None:
    """Root swap (the VM is stopped): the template's root out, the boot replica in at device 0; then the data disks.

    A volume an earlier run already put on the VM is skipped."""
    job, client = ctx.job, ctx.cloudstack()
    vm_id = job.destination_vm_id
    root = job.volumes.get(is_root=True)
    if root.place != VolumePlace.ON_VM:
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
        if fv.place == VolumePlace.ON_VM:
            continue
        attached = client.attach_volume(fv.volume_id, vm_id)
        set_place(fv, VolumePlace.ON_VM, vm_device_id=attached.get("deviceid"))
        mark_replica(fv, VolumeStatus.ATTACHED_TO_VM, attached_vm_id=vm_id)
        event(job, "attach", f"attached volume {fv.volume_id} ({fv.disk_id}) to VM {vm_id} as device "
                             f"{attached.get('deviceid')}")


def detach_volumes(ctx: Context, outcome: Outcome) -> None:
    """Every replica of this job that CloudStack shows on the failover VM comes off it, highest device first."""
    vm = ctx.failover_vm(outcome)
    if vm_is_gone(vm) or ctx.vm_gone:
        return
    client, vm_id = ctx.cloudstack(), vm["id"]
    ours = {fv.volume_id: fv for fv in ctx.job.volumes.all()}
    with ctx.tearing_down(outcome, vm_id):
        attached = [v for v in client.list_volumes(vm_id=vm_id) if v["id"] in ours]
        for volume in sorted(attached, key=lambda v: -(v.get("deviceid") or 0)):
            client.detach_volume(volume["id"])
            fv = ours[volume["id"]]
            set_place(fv, VolumePlace.DETACHED, vm_device_id=None)
            mark_replica(fv, VolumeStatus.DETACHED)
            outcome.did(f"detached volume {volume['id']} ({fv.disk_id}) from VM {vm_id}")


class SwitchVolumes(Step):
    name = "switch_volumes"
    status = FailoverStatus.SWITCHING_VOLUME
    requires = ("destination_vm_id", "FailoverVolume.place")
    records = ("FailoverVolume.place", "FailoverVolume.vm_device_id", "CloudResource.volume", "ReplicaVolume.status")
    in_cloudstack = True
    undoes = "detaches every replica volume from the VM (highest device first)"
    doing = "Attaching the replica volumes to the VM"

    def recorded(self, job: FailoverJob) -> bool:
        return job.volumes.filter(place=VolumePlace.ON_VM).exists() or CloudResource.objects.filter(
            owner=job.job_id, kind=CloudResourceKind.VOLUME).exists()

    def run(self, ctx: Context) -> None:
        attach_volumes(ctx)

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        detach_volumes(ctx, outcome)
