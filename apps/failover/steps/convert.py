"""Step `convert` (under the status `snapshotting`): the guest on the replica volumes is made bootable on KVM with
virt-v2v-in-place (`conversion.py`), on top of the volumes' snapshots.

The volumes are final (a live failover's last sync is in) and snapshotted: the conversion writes over what the
snapshots keep, so ending a test failover (or any rollback) reverts the replicas to the unconverted guest that the
next incremental sync continues from. The snapshot step left the volumes detached; this step attaches them to the
control plane again, runs the conversion over the devices as this host sees them, and detaches them for the VM.

`job.conversion` records it: `status` (attaching, converting, converted, failed, skipped), times, `seconds`, the
tool's output (`log`, its tail) and, on failure, `error`. A request's `custom_config.skip_conversion` (or
`MP_FAILOVER_CONVERT=0`) skips it for guests known to boot on KVM. Its undo takes off the control plane what it
attached; reverting the snapshots (the snapshot step's undo) removes the conversion itself.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.core.utils import iso
from apps.replication.choices import VolumeStatus
from apps.settings import cloudstack as cs
from apps.settings import volumes

from .. import conf, conversion, nicnames
from ..choices import VolumePlace
from ..jobs import Outcome, StepFailed, check_cancel, event, oma, touch
from ..models import FailoverJob, FailoverVolume
from .base import Context, Step, mark_replica, set_place

DONE = ("converted", "skipped")


def record(job: FailoverJob, **fields) -> None:
    job.conversion = {**job.conversion, **fields}
    FailoverJob.objects.filter(pk=job.pk).update(conversion=job.conversion, heartbeat_at=timezone.now())


def workdir(job: FailoverJob) -> Path:
    return Path(settings.VAR_DIR) / "failover" / job.job_id


def guest_for(job: FailoverJob, paths: list[str]) -> conversion.Guest:
    context = job.vm_context
    macs = tuple(nic.mac_address.lower() for nic in context.nics.order_by("id") if nic.mac_address)
    return conversion.Guest(name=context.vm_name, disks=tuple(paths), memory_mb=context.memory_mb or 1024,
                            cpus=context.cpu_count or 1, firmware="efi" if context.firmware == "efi" else "bios",
                            macs=macs, windows=conversion.is_windows(context.guest_os_id))


def attach(ctx: Context, fv: FailoverVolume, oma_id: str) -> str:
    """The volume on the control plane (attached if it is not) and its device path here."""
    if fv.place == VolumePlace.ON_OMA:
        return str(cs.volume_device_path(fv.volume_id, settings.MP_DEVICE_ROOT))
    attached = ctx.cloudstack().attach_to_oma(fv.volume_id, oma_id, dev_root=settings.MP_DEVICE_ROOT,
                                              device_timeout=settings.MP_DEVICE_TIMEOUT)
    set_place(fv, VolumePlace.ON_OMA)
    mark_replica(fv, VolumeStatus.ATTACHED_TO_OMA, attached_vm_id=oma_id, device_path=str(attached.device_path),
                 device_id=attached.device_id)
    event(ctx.job, "convert", f"attached volume {fv.volume_id} ({fv.disk_id}) to the control plane at "
                              f"{attached.device_path} for the conversion")
    return str(attached.device_path)


def detach(ctx: Context, job: FailoverJob) -> list[str]:
    """Every volume this job has on the control plane comes off it again (the VM takes them next)."""
    done = []
    for fv in job.volumes.filter(place=VolumePlace.ON_OMA).order_by("disk_unit_number"):
        # Written down before the call: if it fails half-way, the rollback looks where the volume really is.
        set_place(fv, VolumePlace.DETACHED)
        volumes.detach_from_oma(client=ctx.cloudstack(), volume_id=fv.volume_id)
        mark_replica(fv, VolumeStatus.DETACHED)
        done.append(f"detached volume {fv.volume_id} ({fv.disk_id}) from the control plane")
    return done


def keep_nic_names(job: FailoverJob, guest: conversion.Guest) -> None:
    """Before virt-v2v (whose initramfs rebuild then carries them): .link files giving the KVM NICs the names the
    guest's configuration expects (`nicnames.py`). A failure here is told, not fatal: the guest may still boot, and
    the boot verification says whether it answers."""
    touch(job, "Converting the guest: keeping its NIC names")
    try:
        pinning = nicnames.pin(guest.disks, (job.plan or {}).get("nics") or [])
    except nicnames.PinFailed as exc:
        record(job, nic_names={"error": str(exc)})
        event(job, "convert", f"NIC names not kept: {exc}", level="warning")
        return
    record(job, nic_names=pinning.as_dict())
    kept = ", ".join(f"{link['name']} ({link['match']})" for link in pinning.links)
    event(job, "convert", f"NIC names kept: {kept}" if kept else f"NIC names not kept: {pinning.note}",
          **({} if kept else {"level": "warning"}))


class Convert(Step):
    name = "convert"
    status = None  # runs under `snapshotting`: the job statuses (seed 003) have no conversion of their own
    requires = ("FailoverVolume.snapshot_state", "FailoverVolume.place")
    records = ("conversion", "FailoverVolume.place", "ReplicaVolume.status")
    in_cloudstack = True
    undoes = "takes the volumes it attached off the control plane (the snapshots' revert removes the conversion itself)"

    def recorded(self, job: FailoverJob) -> bool:
        return job.conversion.get("status") not in (None, "", "skipped") and job.volumes.filter(
            place=VolumePlace.ON_OMA).exists()

    def run(self, ctx: Context) -> None:
        job = ctx.job
        if job.conversion.get("status") in DONE:
            for line in detach(ctx, job):  # a run that stopped between the conversion and the detach
                event(job, "convert", line)
            return
        reason = conversion.skip_reason(job.custom_config)
        if reason:
            record(job, status="skipped", reason=reason)
            event(job, "convert", f"guest conversion {reason}")
            return
        check_cancel(job)
        started = timezone.now()
        record(job, status="attaching", started_at=iso(started), finished_at=None, error="")
        touch(job, "Converting the guest: attaching the replica volumes to the control plane")
        oma_id = ctx.oma or oma(job, ctx.cloudstack())
        # The boot disk first: virt-v2v inspects the disks in order and the first holds the boot loader.
        items = sorted(job.volumes.all(), key=lambda fv: (not fv.is_root, fv.disk_unit_number))
        paths = [attach(ctx, fv, oma_id) for fv in items]
        guest = guest_for(job, paths)
        record(job, status="converting", disks=paths, windows=guest.windows,
               backend=conf.libguestfs_backend(), backend_settings=conf.libguestfs_backend_settings())
        try:
            conversion.preflight(guest)  # a missing tool fails before anything is written
            if conf.keep_nic_names() and not guest.windows:
                keep_nic_names(job, guest)
            touch(job, f"Converting the guest with virt-v2v-in-place ({len(paths)} disk(s))")
            event(job, "convert", f"converting the guest on {len(paths)} volume(s) with virt-v2v-in-place")
            result = conversion.convert(guest, workdir(job), heartbeat=lambda line: touch(
                job, f"Converting the guest: {line}" if line else "Converting the guest"))
        except conversion.ConversionFailed as exc:
            record(job, status="failed", finished_at=iso(timezone.now()), error=exc.message,
                   log=exc.log[-conversion.LOG_KEEP:])
            raise StepFailed(f"Guest conversion failed: {exc.message}", "CONVERSION_FAILED") from None
        finally:
            shutil.rmtree(workdir(job), ignore_errors=True)  # the log is kept on the job
        record(job, status="converted", finished_at=iso(timezone.now()), seconds=result.seconds,
               log=result.log[-conversion.LOG_KEEP:], command=result.command)
        event(job, "convert", f"guest converted in {result.seconds:.0f} s: virtio drivers in its initramfs, boot "
                              f"loader and fstab fixed, VMware tools removed", seconds=result.seconds)
        touch(job, "Guest converted: detaching the replica volumes from the control plane")
        for line in detach(ctx, job):
            event(job, "convert", line)

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        if not self.recorded(ctx.job):
            return
        try:
            for line in detach(ctx, ctx.job):
                outcome.did(line)
        except cs.CloudStackError as exc:
            outcome.failed(f"could not detach the converted volumes from the control plane: {exc}")
