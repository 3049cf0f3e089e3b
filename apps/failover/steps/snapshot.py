"""Step `snapshotting`: per replica volume, stop its NBD export, detach it from the control plane, snapshot it.

Its undo puts each volume back as it was: reverted to its snapshot (CloudStack reverts only detached volumes or those
of stopped VMs), the snapshot deleted, the volume attached to the control plane again. It looks before it acts
(CloudStack is asked where each volume is), so running it again after a partial failure only does what is still
needed; a volume it cannot restore is left alone for the next attempt (`cleanup-failed`) instead of guessed at.
"""
from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from apps.replication import exports
from apps.replication.choices import ExportStatus, VolumeStatus
from apps.replication.models import VMExportMapping
from apps.settings import cloudstack as cs
from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from .. import cloud
from ..choices import PROGRESS, FailoverStatus, SnapshotState, VolumePlace
from ..jobs import Outcome, StepFailed, check_cancel, event, touch
from ..models import FailoverJob, FailoverVolume
from .base import Context, Step, mark_replica, mark_resource, set_place


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
    name = cloud.host_name(f"{job.job_type}-failover-{fv.disk_id}-{int(timezone.now().timestamp())}")

    def taking(jobid: str, snapshot_id: str) -> None:
        # Until the job succeeds the snapshot is not a way back: a rollback deletes it, never reverts to it.
        fv.snapshot_id, fv.snapshot_state = snapshot_id, SnapshotState.FAILED
        fv.save(update_fields=["snapshot_id", "snapshot_state", "updated_at"])

    try:
        snap = client.create_snapshot(fv.volume_id, name=name, on_submitted=volumes.write_ahead(
            config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.SNAPSHOT, name=name,
            parent_id=fv.volume_id, then=taking))
    except cs.CloudStackError as exc:
        raise StepFailed(f"Failed to create snapshot of volume {fv.volume_id} ({fv.disk_id}): {exc}",
                         "SNAPSHOT_FAILED") from None
    fv.snapshot_id, fv.snapshot_state = snap["id"], SnapshotState.CREATED
    fv.save(update_fields=["snapshot_id", "snapshot_state", "updated_at"])
    volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.SNAPSHOT, resource_id=snap["id"],
                   name=snap.get("name", ""), parent_id=fv.volume_id)
    event(job, "snapshot", f"snapshot {snap['id']} of volume {fv.volume_id} ({fv.disk_id})", snapshot_id=snap["id"])


def _restore_one(job: FailoverJob, fv: FailoverVolume, client: cs.CloudStackClient, oma: str, out: Outcome) -> None:
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
    if fv.snapshot_state == SnapshotState.CREATED:
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
        res = CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.SNAPSHOT,
                                           resource_id=fv.snapshot_id).order_by("-id").first()
        if res is not None:
            out.did(volumes.remove(res, client))  # gone: decided by listing it
        elif client.find(CloudResourceKind.SNAPSHOT, fv.snapshot_id) is not None:
            client.delete_snapshot(fv.snapshot_id)
            out.did(f"deleted snapshot {fv.snapshot_id}")
        else:
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


def restore_volumes(job: FailoverJob, client: cs.CloudStackClient, oma: str, out: Outcome) -> Outcome:
    """Each volume: revert and delete its snapshot, attach it to the control plane. Skips what is already done."""
    for fv in job.volumes.all().order_by("disk_unit_number"):
        try:
            _restore_one(job, fv, client, oma, out)
        except cs.CloudStackError as exc:
            out.failed(f"could not restore volume {fv.volume_id} ({fv.disk_id}): {exc}")
    return out


class Snapshot(Step):
    name = "snapshot"
    status = FailoverStatus.SNAPSHOTTING
    requires = ("FailoverVolume",)
    records = ("FailoverVolume.export_stopped", "FailoverVolume.place", "FailoverVolume.snapshot_id",
               "FailoverVolume.snapshot_state", "CloudResource.snapshot", "ReplicaVolume.status")
    in_cloudstack = True
    undoes = "reverts each volume to its snapshot, deletes the snapshot, reattaches the volume to the control plane"
    doing = "Detaching and snapshotting the replica volumes"

    def recorded(self, job: FailoverJob) -> bool:
        return job.volumes.exclude(place=VolumePlace.ON_OMA).exists() or job.volumes.filter(
            snapshot_state__in=[SnapshotState.CREATED, SnapshotState.REVERTED, SnapshotState.FAILED]).exists()

    def run(self, ctx: Context) -> None:
        job, client = ctx.job, ctx.cloudstack()
        items = list(job.volumes.order_by("disk_unit_number"))
        for index, fv in enumerate(items):
            check_cancel(job)
            release_from_oma(job, fv, client)
            if fv.snapshot_state != SnapshotState.CREATED:  # else taken by an earlier run
                ctx.error_code = "SNAPSHOT_FAILED"
                snapshot(job, fv, client)
                ctx.error_code = "OSSEA_API_ERROR"
            touch(job, f"Snapshotted {index + 1} of {len(items)} volume(s)",
                  progress=PROGRESS[FailoverStatus.SNAPSHOTTING] + 25.0 * (index + 1) / len(items))

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        restore_volumes(ctx.job, ctx.cloudstack(), ctx.oma, outcome)
