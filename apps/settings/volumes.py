"""CloudStack volume handling for replication and failover, with every created resource recorded.

Each multi-step operation names an owner (a job id). What it creates is written to `cloud_resources` before
the next step, so `rollback(owner)` and the orphan sweep can remove it whatever step failed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import cloudstack as cs
from . import storage_mapping
from .choices import SWEPT, CloudResourceKind, CloudResourceState
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
           parent_id: str = "", cloudstack_job_id: str = "", **detail) -> CloudResource:
    """Write down a resource `owner` created (or is creating); its write-ahead record, if any, is completed instead."""
    fields = {"ossea_config": config, "name": name, "parent_id": parent_id, "detail": detail}
    if cloudstack_job_id:
        fields["cloudstack_job_id"] = cloudstack_job_id
    row = CloudResource.objects.filter(owner=owner, kind=kind, resource_id=resource_id,
                                       state=CloudResourceState.CREATED).first()
    if row is None:
        return CloudResource.objects.create(owner=owner, kind=kind, resource_id=resource_id, **fields)
    for key, value in fields.items():
        setattr(row, key, value or getattr(row, key))
    row.save()
    return row


def write_ahead(*, config: OsseaConfig | None, owner: str, kind: str, name: str = "", parent_id: str = "",
                then: Callable[[str, str], None] | None = None, **detail) -> cs.Submitted:
    """The `on_submitted` of a create call: records the resource and its async job before the wait starts, so a
    rollback or the sweep finds it whatever happens to the wait; `then(jobid, resource_id)` records more."""
    def submitted(jobid: str, resource_id: str | None) -> None:
        if not resource_id:
            return  # CloudStack's create commands answer the new id; nothing to find without it
        with transaction.atomic():  # the record and what the caller adds to it land together
            record(config=config, owner=owner, kind=kind, resource_id=resource_id, name=name, parent_id=parent_id,
                   cloudstack_job_id=jobid, **detail)
            if then is not None:
                then(jobid, resource_id)
    return submitted


def create_and_attach(*, config: OsseaConfig, client: cs.CloudStackClient, owner: str, vm_name: str,
                      disk_unit: int, size_bytes: int, adopt_unrecorded: bool = False, vm_id: str = "",
                      disk_id: str = "", datastore: str = "") -> tuple[dict, cs.AttachedVolume]:
    """Create a replica volume and attach it to the control plane VM; return once its device exists.

    Resumable: a volume this owner already created for the disk (its worker died before the caller recorded it)
    is taken up again rather than created twice, and attached afresh wherever the dead attempt left it. With
    ``adopt_unrecorded`` (the owner's worker died), so is the one volume of the disk's name that nothing records
    and nothing holds: CloudStack made it while the dead worker waited on `createVolume`. A new volume is recorded
    as soon as CloudStack answers the submit (write-ahead), before the wait.

    The volume's offering and pool come from the storage mapping of the disk (`vm_id`, `disk_id`), else of its
    `datastore`, else the configuration (`storage_mapping.placement_for`); a volume that did not land on its
    mapped pool is refused after the attach (recorded, so the caller's rollback removes it)."""
    name = cs.volume_name_for_disk(vm_name, disk_unit)
    placement = storage_mapping.placement_for(config, vm_id=vm_id, disk_id=disk_id, datastore=datastore)
    volume = _recorded_volume(client, owner, name)
    if volume is None and adopt_unrecorded and (volume := _unrecorded_volume(client, name)) is not None:
        record(config=config, owner=owner, kind=CloudResourceKind.VOLUME, resource_id=volume["id"],
               name=volume["name"], adopted=True)
    if volume is None:
        volume = client.create_volume_for_disk(
            vm_name=vm_name, disk_unit=disk_unit, size_bytes=size_bytes, zone_id=zone_id(config, client),
            name=name, disk_offering_id=placement.disk_offering_id or None, storage_id=placement.storage_id or None,
            on_submitted=write_ahead(config=config, owner=owner, kind=CloudResourceKind.VOLUME, name=name,
                                     storage_id=placement.storage_id, disk_offering_id=placement.disk_offering_id))
    elif volume.get("virtualmachineid"):
        # Attached by the attempt that died (its device may or may not be here): detach, then attach as usual.
        detach_from_oma(client=client, volume_id=volume["id"])
    attached = attach_to_oma(config=config, client=client, owner=owner, volume_id=volume["id"])
    storage_mapping.check_placed(attached.volume, placement)
    return volume, attached


def _unrecorded_volume(client: cs.CloudStackClient, name: str) -> dict | None:
    candidates = [v for v in client.list_volumes(name=name)
                  if v.get("name") == name and not v.get("virtualmachineid")
                  and not CloudResource.objects.filter(resource_id=v["id"]).exists()]
    return candidates[0] if len(candidates) == 1 else None


def _recorded_volume(client: cs.CloudStackClient, owner: str, name: str) -> dict | None:
    # An `orphaned` one is this owner's own volume that a failed attempt could not delete (CloudStack was down):
    # the retry takes it up again rather than making a second and leaving the first to the sweep.
    res = CloudResource.objects.filter(owner=owner, kind=CloudResourceKind.VOLUME, name=name,
                                       state__in=(CloudResourceState.CREATED, CloudResourceState.ORPHANED),
                                       ).order_by("-id").first()
    if res is None:
        return None
    try:
        volume = client.get_volume(res.resource_id)
    except cs.CloudStackNotFoundError:
        CloudResource.objects.filter(pk=res.pk).update(state=CloudResourceState.REMOVED)
        return None
    if res.state == CloudResourceState.ORPHANED:
        CloudResource.objects.filter(pk=res.pk).update(state=CloudResourceState.CREATED)
    return volume


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


def release(owner: str, *, resource_ids: Iterable[str] | None = None) -> int:
    """The owner finished: what it created is handed over (kept), no longer rollback material.

    Only rows still `created` are handed over (`resource_ids`: only those): what an earlier attempt of the same
    owner could not remove is `orphaned` and stays the sweep's, never kept by a later success.
    """
    rows = CloudResource.objects.filter(owner=owner, state=CloudResourceState.CREATED)
    if resource_ids is not None:
        rows = rows.filter(resource_id__in=list(resource_ids))
    return rows.update(state=CloudResourceState.RELEASED)


def remove(res: CloudResource, client: cs.CloudStackClient) -> str:
    """Remove one recorded resource from CloudStack, or find it already gone; what happened, in words.

    Marks the row removed (or destroyed: a VM this key may not expunge waits for CloudStack's expunge delay).
    "Gone" is decided by listing the resource: CloudStack keeps removed rows, so a second delete is an ordinary
    refusal and no error text says "gone". Raises CloudStackError when it is still there.
    """
    what = f"{res.get_kind_display().lower()} {res.resource_id}"
    if res.kind == CloudResourceKind.ATTACHMENT:
        volume = client.find(CloudResourceKind.VOLUME, res.resource_id)
        if volume is None or volume.get("virtualmachineid") != res.parent_id:
            _mark(res, CloudResourceState.REMOVED)
            return f"volume {res.resource_id} is no longer attached to {res.parent_id}"
        try:
            client.detach_from_oma(res.resource_id, dev_root=settings.MP_DEVICE_ROOT,
                                   device_timeout=settings.MP_DEVICE_TIMEOUT)
        except cs.CloudStackDeviceError:
            pass  # detached in CloudStack; a stale device link is not ours to remove
        _mark(res, CloudResourceState.REMOVED)
        return f"detached volume {res.resource_id} from {res.parent_id}"
    if client.find(res.kind, res.resource_id) is None:
        _mark(res, CloudResourceState.REMOVED)
        return f"{what} already gone"
    try:
        if res.kind == CloudResourceKind.VOLUME:
            client.delete_volume(res.resource_id)
        elif res.kind == CloudResourceKind.SNAPSHOT:
            client.delete_snapshot(res.resource_id)
        elif res.kind == CloudResourceKind.VM:
            if not client.remove_vm(res.resource_id):
                _mark(res, CloudResourceState.DESTROYED)
                return (f"destroyed VM {res.resource_id}; this CloudStack key may not expunge, so CloudStack "
                        "expunges it after its expunge delay")
    except cs.CloudStackError:
        if client.find(res.kind, res.resource_id) is not None:
            raise
        # Removed meanwhile (or by the call whose answer failed): gone all the same.
    _mark(res, CloudResourceState.REMOVED)
    return f"{'destroyed' if res.kind == CloudResourceKind.VM else 'deleted'} {what}"


def _mark(res: CloudResource, state: str, **fields) -> None:
    res.state = state
    for key, value in fields.items():
        setattr(res, key, value)
    res.save(update_fields=["state", *fields, "updated_at"])


def orphan(res: CloudResource, error: str) -> str:
    """Leave a resource to the sweep and the operator; the sentence a job's message carries (a failure)."""
    _mark(res, CloudResourceState.ORPHANED, last_error=error[:4000], checked_at=timezone.now(),
          attempts=res.attempts + 1)
    return (f"NOT removed: {res.get_kind_display().lower()} {res.resource_id} ({error}); left for the orphan sweep, "
            f"listed at GET /api/v1/cloud-resources?state=orphaned")


def rollback(*, owner: str, client: cs.CloudStackClient) -> list[str]:
    """Undo, newest first, everything `owner` created and did not hand over. Returns what was done, and what was
    not (lines starting "NOT removed": those resources are orphaned, the sweep retries them)."""
    lines: list[str] = []
    resources = list(CloudResource.objects.filter(owner=owner, state=CloudResourceState.CREATED).order_by("-id"))
    for res in resources:
        try:
            lines.append(remove(res, client))
        except cs.CloudStackError as exc:
            logger.warning("rollback step failed owner=%s kind=%s id=%s error=%s", owner, res.kind,
                           res.resource_id, exc)
            lines.append(orphan(res, str(exc)))
    return lines


# -- the orphan sweep ------------------------------------------------------------------------------

# Apps that own jobs register who is still working: owner id -> True (live: leave its resources), False (done:
# what it left is an orphan), None (not one of mine). Settings sits below them and cannot ask them directly.
_owner_checks: list[Callable[[str], bool | None]] = []


def register_owner_check(check: Callable[[str], bool | None]) -> None:
    if check not in _owner_checks:
        _owner_checks.append(check)


def owner_is_live(owner: str) -> bool | None:
    for check in _owner_checks:
        answer = check(owner)
        if answer is not None:
            return answer
    return None


def _holds_replicas(res: CloudResource, client: cs.CloudStackClient) -> list[str]:
    """A failover VM whose disks include replica volumes: destroying it would delete the replica used as its root."""
    replicas = set(res.detail.get("replica_volumes") or [])
    if res.kind != CloudResourceKind.VM or not replicas:
        return []
    return [v["id"] for v in client.list_volumes(vm_id=res.resource_id) if v["id"] in replicas]


def sweep() -> dict:
    """Remove every recorded resource that no live job owns: orphaned rows, and created rows whose owner ended.

    What it cannot remove stays `orphaned` with the reason (`last_error`, `attempts`), for the operator (API and
    console). Returns counts: removed, gone (already), left.
    """
    counts = {"removed": 0, "gone": 0, "left": 0, "skipped": 0}
    clients: dict[int, cs.CloudStackClient] = {}
    rows = CloudResource.objects.filter(state__in=SWEPT).select_related("ossea_config").order_by("-id")
    for res in rows:
        if res.state == CloudResourceState.CREATED and owner_is_live(res.owner) is not False:
            counts["skipped"] += 1  # its job is still working (or nobody knows the owner): not an orphan
            continue
        if res.ossea_config is None:
            orphan(res, "its CloudStack configuration was deleted: remove it in CloudStack by hand")
            counts["left"] += 1
            continue
        client = clients.setdefault(res.ossea_config_id, client_for(res.ossea_config))
        try:
            held = _holds_replicas(res, client)
            if held:
                orphan(res, f"it holds replica volume(s) {', '.join(held)}: destroying it would delete them; detach "
                            "them first")
                counts["left"] += 1
                continue
            line = remove(res, client)
        except cs.CloudStackError as exc:
            orphan(res, str(exc))
            counts["left"] += 1
            continue
        counts["gone" if "already gone" in line or "no longer attached" in line else "removed"] += 1
        logger.info("orphan sweep owner=%s %s", res.owner, line)
    return counts
