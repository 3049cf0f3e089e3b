"""CloudStack volume handling for replication and failover, with every created resource recorded.

Each multi-step operation names an owner (a job id). What it creates is written to `cloud_resources` before
the next step, so `rollback(owner)` and the orphan sweep can remove it whatever step failed.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from . import cloudstack as cs
from .choices import CloudResourceKind, CloudResourceState
from .models import CloudResource, OsseaConfig

logger = logging.getLogger(__name__)


def client_for(config: OsseaConfig) -> cs.CloudStackClient:
    return cs.CloudStackClient(config.api_url, config.api_key, config.secret_key,
                               job_timeout=settings.MP_CLOUDSTACK_JOB_TIMEOUT,
                               poll_interval=settings.MP_CLOUDSTACK_POLL_INTERVAL)


def oma_vm_id(config: OsseaConfig, client: cs.CloudStackClient) -> str:
    """The control plane's own VM: configured, or detected by MAC once and remembered."""
    if config.oma_vm_id:
        return config.oma_vm_id
    vm = cs.detect_oma_vm(client)
    OsseaConfig.objects.filter(pk=config.pk).update(oma_vm_id=vm["id"])
    config.oma_vm_id = vm["id"]
    return vm["id"]


def zone_id(config: OsseaConfig, client: cs.CloudStackClient) -> str:
    return client.find_zone(config.zone)["id"]


def record(*, config: OsseaConfig | None, owner: str, kind: str, resource_id: str, name: str = "",
           parent_id: str = "", **detail) -> CloudResource:
    return CloudResource.objects.create(ossea_config=config, owner=owner, kind=kind, resource_id=resource_id,
                                        name=name, parent_id=parent_id, detail=detail)


def create_and_attach(*, config: OsseaConfig, client: cs.CloudStackClient, owner: str, vm_name: str,
                      disk_unit: int, size_bytes: int, adopt_unrecorded: bool = False) -> tuple[dict, cs.AttachedVolume]:
    """Create a replica volume and attach it to the control plane VM; return once its device exists.

    Resumable: a volume this owner already created for the disk (its worker died before the caller recorded it)
    is taken up again rather than created twice, and attached afresh wherever the dead attempt left it. With
    ``adopt_unrecorded`` (the owner's worker died), so is the one volume of the disk's name that nothing records
    and nothing holds: CloudStack made it while the dead worker waited on `createVolume`."""
    name = cs.volume_name_for_disk(vm_name, disk_unit)
    volume = _recorded_volume(client, owner, name)
    if volume is None and adopt_unrecorded and (volume := _unrecorded_volume(client, name)) is not None:
        record(config=config, owner=owner, kind=CloudResourceKind.VOLUME, resource_id=volume["id"],
               name=volume["name"], adopted=True)
    if volume is None:
        volume = client.create_volume_for_disk(vm_name=vm_name, disk_unit=disk_unit, size_bytes=size_bytes,
                                               zone_id=zone_id(config, client))
        record(config=config, owner=owner, kind=CloudResourceKind.VOLUME, resource_id=volume["id"],
               name=volume["name"])
    elif volume.get("virtualmachineid"):
        # Attached by the attempt that died (its device may or may not be here): detach, then attach as usual.
        detach_from_oma(client=client, volume_id=volume["id"])
    attached = attach_to_oma(config=config, client=client, owner=owner, volume_id=volume["id"])
    return volume, attached


def _unrecorded_volume(client: cs.CloudStackClient, name: str) -> dict | None:
    candidates = [v for v in client.list_volumes(name=name)
                  if v.get("name") == name and not v.get("virtualmachineid")
                  and not CloudResource.objects.filter(resource_id=v["id"]).exists()]
    return candidates[0] if len(candidates) == 1 else None


def _recorded_volume(client: cs.CloudStackClient, owner: str, name: str) -> dict | None:
    res = CloudResource.objects.filter(owner=owner, kind=CloudResourceKind.VOLUME, state=CloudResourceState.CREATED,
                                       name=name).order_by("-id").first()
    if res is None:
        return None
    try:
        return client.get_volume(res.resource_id)
    except cs.CloudStackNotFoundError:
        CloudResource.objects.filter(pk=res.pk).update(state=CloudResourceState.REMOVED)
        return None


def attach_to_oma(*, config: OsseaConfig, client: cs.CloudStackClient, owner: str, volume_id: str) -> cs.AttachedVolume:
    oma = oma_vm_id(config, client)
    try:
        attached = client.attach_to_oma(volume_id, oma, dev_root=settings.MP_DEVICE_ROOT,
                                        device_timeout=settings.MP_DEVICE_TIMEOUT)
    except cs.CloudStackDeviceError:
        # Attached in CloudStack but no device here: record it so rollback detaches it.
        record(config=config, owner=owner, kind=CloudResourceKind.ATTACHMENT, resource_id=volume_id, parent_id=oma)
        raise
    record(config=config, owner=owner, kind=CloudResourceKind.ATTACHMENT, resource_id=volume_id, parent_id=oma,
           device_path=str(attached.device_path), device_id=attached.device_id)
    return attached


def detach_from_oma(*, client: cs.CloudStackClient, volume_id: str) -> None:
    client.detach_from_oma(volume_id, dev_root=settings.MP_DEVICE_ROOT, device_timeout=settings.MP_DEVICE_TIMEOUT)


def release(owner: str) -> int:
    """The owner finished: what it created is handed over (kept), no longer rollback material."""
    return CloudResource.objects.filter(owner=owner, state=CloudResourceState.CREATED).update(
        state=CloudResourceState.RELEASED)


def rollback(*, owner: str, client: cs.CloudStackClient) -> list[str]:
    """Undo, newest first, everything `owner` created and did not hand over. Returns what was done."""
    done: list[str] = []
    resources = list(CloudResource.objects.filter(owner=owner, state=CloudResourceState.CREATED).order_by("-id"))
    for res in resources:
        try:
            if res.kind == CloudResourceKind.ATTACHMENT:
                try:
                    client.detach_from_oma(res.resource_id, dev_root=settings.MP_DEVICE_ROOT,
                                           device_timeout=settings.MP_DEVICE_TIMEOUT)
                except cs.CloudStackDeviceError:
                    pass  # detached in CloudStack; a stale device link is not ours to remove
                done.append(f"detached volume {res.resource_id} from {res.parent_id}")
            elif res.kind == CloudResourceKind.VOLUME:
                client.delete_volume(res.resource_id)
                done.append(f"deleted volume {res.resource_id}")
            elif res.kind == CloudResourceKind.SNAPSHOT:
                client.delete_snapshot(res.resource_id)
                done.append(f"deleted snapshot {res.resource_id}")
            elif res.kind == CloudResourceKind.VM:
                client.destroy_virtual_machine(res.resource_id, expunge=True)
                done.append(f"destroyed VM {res.resource_id}")
        except cs.CloudStackNotFoundError:
            done.append(f"{res.kind} {res.resource_id} already gone")
        except cs.CloudStackError as exc:
            # Leave it recorded as created: the orphan sweep retries it later.
            logger.warning("rollback step failed owner=%s kind=%s id=%s error=%s", owner, res.kind,
                           res.resource_id, exc)
            done.append(f"could not remove {res.kind} {res.resource_id}: {exc}")
            continue
        with transaction.atomic():
            CloudResource.objects.filter(pk=res.pk).update(state=CloudResourceState.REMOVED)
    return done
