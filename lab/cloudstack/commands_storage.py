"""Volumes and volume snapshots, with the rules of VolumeApiServiceImpl and SnapshotManagerImpl."""

from __future__ import annotations

from datetime import UTC, datetime

from lab.cloudstack import pools, responses, storage, tenancy
from lab.cloudstack.commands_account import admin_only
from lab.cloudstack.errors import invalid
from lab.cloudstack.registry import (
    ASYNC,
    CREATE,
    SYNC,
    AsyncSpec,
    Params,
    command,
    list_response,
)
from lab.cloudstack.state import GiB, LabState, new_id, now

# custom.diskoffering.size.min / .max, CloudStack's defaults (GB).
CUSTOM_MIN_GB, CUSTOM_MAX_GB = 1, 1024


def _check_custom_size(size_gb: int) -> None:
    if not CUSTOM_MIN_GB <= size_gb <= CUSTOM_MAX_GB:
        raise invalid(f"Volume size: {size_gb} GB is out of allowed range. "
                      f"Max: {CUSTOM_MAX_GB} Min:{CUSTOM_MIN_GB}")


def _vm_has_vm_snapshots(lab: LabState, vm_id: str) -> bool:
    return any(s["virtualmachineid"] == vm_id for s in lab.vm_snapshots.values())


@command("listVolumes")
def list_volumes(lab: LabState, p: Params) -> dict:
    wanted, removed = lab.resolve(p, "id", "volumes")
    if removed:
        return list_response("volume", [], p)  # a deleted volume's id finds nothing
    ids = {v["id"] for v in p.entities("ids", lab.volumes)}
    vm, vm_removed = lab.resolve(p, "virtualmachineid", "vms")
    if vm_removed:
        return list_response("volume", [], p)  # an expunged VM holds no volumes
    zone = p.entity("zoneid", lab.zones)
    vtype, name, state = p.get("type"), p.get("name"), p.get("state")
    items = []
    for v in sorted(lab.volumes.values(), key=lambda v: v["created"]):
        if ((wanted is not None and v is not wanted) or (ids and v["id"] not in ids)
                or (vm and v.get("virtualmachineid") != vm["id"])
                or (zone and v["zoneid"] != zone["id"])
                or (vtype and v["type"].lower() != vtype.lower())
                or (name and v["name"] != name) or (state and v["state"] != state)):
            continue
        keyword = p.get("keyword")
        if keyword and keyword.lower() not in v["name"].lower():
            continue
        items.append(v)
    return list_response("volume", items, p, lambda v: responses.volume(lab, v))


@command("listStoragePools")
def list_storage_pools(lab: LabState, p: Params) -> dict:
    """ListStoragePoolsCmd: an admin command (the default roles give it to the root admin only)."""
    admin_only(lab)
    wanted = p.entity("id", lab.storage_pools)
    zone = p.entity("zoneid", lab.zones)
    name, scope, status, keyword = p.get("name"), p.get("scope"), p.get("status"), p.get("keyword")
    items = [responses.storage_pool(lab, pool) for pool in lab.storage_pools.values()
             if (wanted is None or pool is wanted) and (zone is None or pool["zoneid"] == zone["id"])
             and name in (None, pool["name"]) and (scope is None or pool["scope"] == scope.upper())
             and (status is None or pool["state"].lower() == status.lower())
             and (keyword is None or keyword.lower() in pool["name"].lower())]
    return list_response("storagepool", items, p)


@command("createVolume", CREATE, "volume.CreateVolumeCmd")
def create_volume(lab: LabState, p: Params) -> AsyncSpec:
    offering = p.entity("diskofferingid", lab.disk_offerings)
    snapshot = p.entity("snapshotid", lab.snapshots)
    # Before 4.23 CreateVolumeCmd has no `storageid`: like any parameter a command does not declare, it is
    # ignored, and the volume finds its pool when first attached.
    pool = p.entity("storageid", lab.storage_pools) if pools.takes_storage_id(lab) else None
    if offering is None and snapshot is None:
        raise invalid("Either disk Offering Id or snapshot Id must be passed whilst creating volume")
    if pool is not None and snapshot is not None:
        raise invalid("Storage ID cannot be passed whilst creating volume from snapshot")
    zone = p.entity("zoneid", lab.zones, required=snapshot is None)
    size_gb = p.integer("size")
    if snapshot is not None:
        if snapshot["state"] != "BackedUp":
            raise invalid(f"Snapshot id={snapshot['id']} is not in BackedUp state yet and can't "
                          "be used for volume creation")
        zone = lab.zones[snapshot["zoneid"]]
        size = snapshot["virtualsize"]
    elif offering["iscustomized"]:
        if size_gb is None:
            raise invalid("This disk offering requires a custom size specified")
        _check_custom_size(size_gb)
        size = size_gb * GiB
    else:
        if size_gb is not None and size_gb != offering["disksize"]:
            raise invalid("This disk offering does not allow custom size")
        size = offering["disksize"] * GiB
    name = p.get("name") or f"DATA-{lab.next_seq()}"
    volume = lab.new_volume(name=name, zone=zone, size=size, vtype="DATADISK",
                            diskofferingid=offering["id"] if offering else None)
    volume.update(tenancy.owner_fields(lab, p))

    def run() -> dict:
        if snapshot is not None:  # a volume made from a snapshot is created on primary at once
            lab.materialize(volume)
            storage.copy_sparse_into(lab.snapshot_file(snapshot["id"]),
                                     lab.volume_file(volume["id"]))
        elif pool is not None:  # createVolumeOnStoragePool: on that pool at once, or the job fails
            pools.check_target(lab, volume, pool)
            lab.materialize(volume, pool)
        return {"volume": responses.volume(lab, volume)}

    def on_fail() -> None:
        storage.remove(lab.volume_file(volume["id"]))
        if pool is not None:
            # VolumeApiServiceImpl.createVolume: a volume its pool refused goes to Destroy, its row kept.
            volume.update(state="Destroy", storageid=None)
            return
        lab.remove("volumes", volume["id"])

    return AsyncSpec("Volume", volume["id"], run, on_fail)


def _free_device_id(lab: LabState, vm: dict, requested: int | None) -> int:
    """VolumeApiServiceImpl.getDeviceId: the lowest free id >= 1, never 3 (the CD-ROM)."""
    max_device_id = lab.options.max_data_volumes + 1  # root and cdrom take two of the slots
    used = {v["deviceid"] for v in lab.volumes.values() if v.get("virtualmachineid") == vm["id"]}
    if requested is not None:
        if requested < 0 or requested > max_device_id or requested == 3:
            raise invalid(f"deviceId should be 0,1,2,4-{max_device_id}")
        if requested in used:
            raise invalid(f"deviceId {requested} is used by vm {vm['id']}")
        return requested
    for device_id in range(1, max_device_id + 1):
        if device_id != 3 and device_id not in used:
            return device_id
    raise invalid("All device Ids are used by vm " + vm["id"])


def _check_root_swap(vm: dict) -> None:
    if vm["state"] != "Stopped":
        raise invalid("Root volume detach can happen only when vm is in states: Stopped or Destroyed")


@command("attachVolume", ASYNC, "volume.AttachVolumeCmd")
def attach_volume(lab: LabState, p: Params) -> AsyncSpec:
    volume = p.entity("id", lab.volumes, required=True)
    vm = p.entity("virtualmachineid", lab.vms, required=True)
    requested = p.integer("deviceid")

    def run() -> dict:
        if volume.get("virtualmachineid"):
            raise invalid("Please specify a volume that is not attached to any VM.")
        if volume["state"] == "Destroy":
            raise invalid("Please specify a volume that is not destroyed.")
        if vm["state"] not in ("Running", "Stopped"):
            raise invalid("Please specify a VM that is either running or stopped.")
        if vm["zoneid"] != volume["zoneid"]:
            raise invalid("Please specify a VM that is in the same zone as the volume.")
        attached = [v for v in lab.volumes.values() if v.get("virtualmachineid") == vm["id"]]
        if requested == 0:
            _check_root_swap(vm)
            if any(v.get("deviceid") == 0 for v in attached):
                raise invalid("Vm already has root volume attached to it")
        else:
            limit = lab.options.max_data_volumes
            if sum(v["type"] == "DATADISK" for v in attached) >= limit:
                raise invalid(f"The specified VM already has the maximum number of data disks "
                              f"({limit}) attached. Please specify another VM.")
        if _vm_has_vm_snapshots(lab, vm["id"]):
            raise invalid("Unable to attach volume, please specify a VM that does not have VM "
                          "snapshots")
        if volume["state"] not in ("Allocated", "Ready"):
            raise invalid("Volume state must be in Allocated, Ready or in Uploaded state")
        device_id = _free_device_id(lab, vm, requested)
        volume.update(virtualmachineid=vm["id"], deviceid=device_id, attached=now())
        if device_id == 0:
            volume["type"] = "ROOT"
        # The volume is created on primary storage once its VM lives somewhere (running, or
        # stopped with a root disk already on a pool); a never-started VM leaves it Allocated.
        lives = vm["state"] == "Running" or any(
            v.get("deviceid") == 0 and v["state"] == "Ready" for v in attached)
        if lives:
            lab.materialize(volume)
        if vm.get("oma") and volume["state"] == "Ready":
            storage.link_device(lab.lab_root, volume["id"], lab.volume_file(volume["id"]))
        return {"volume": responses.volume(lab, volume)}

    return AsyncSpec("Volume", volume["id"], run)


@command("detachVolume", ASYNC, "volume.DetachVolumeCmd")
def detach_volume(lab: LabState, p: Params) -> AsyncSpec:
    volume = p.entity("id", lab.volumes)
    vm_param = p.entity("virtualmachineid", lab.vms)
    device_id = p.integer("deviceid")

    def run() -> dict:
        target = volume
        by_slot = vm_param is not None and device_id is not None
        mixed = volume is not None and (vm_param is not None or device_id is not None)
        if (volume is not None) == by_slot or mixed:
            raise invalid("Please provide either a volume id, or a tuple(device id, instance id)")
        if target is None:
            target = next((v for v in lab.volumes.values()
                           if v.get("virtualmachineid") == vm_param["id"]
                           and v.get("deviceid") == device_id), None)
            if target is None:
                raise invalid(f"No volume is attached to VM {vm_param['id']} at device id "
                              f"{device_id}")
        vm_id = target.get("virtualmachineid")
        if not vm_id:
            raise invalid("The specified volume is not attached to a VM.")
        vm = lab.vms[vm_id]
        if vm["state"] not in ("Running", "Stopped", "Destroyed"):
            raise invalid("Please specify a VM that is either running or stopped.")
        if target["type"] == "ROOT":
            _check_root_swap(vm)
        if _vm_has_vm_snapshots(lab, vm_id):
            raise invalid("Unable to detach volume, please specify a VM that does not have VM "
                          "snapshots")
        if vm.get("oma"):
            storage.unlink_device(lab.lab_root, target["id"])
        target.update(virtualmachineid=None, deviceid=None, attached=None, type="DATADISK")
        return {"volume": responses.volume(lab, target)}

    return AsyncSpec("Volume", volume["id"] if volume else None, run)


@command("deleteVolume", SYNC)
def delete_volume(lab: LabState, p: Params) -> dict:
    volume, removed = lab.resolve(p, "id", "volumes", required=True)
    if removed:
        # VolumeApiServiceImpl.retrieveAndValidateVolume: the id resolved, the live row is not there.
        raise invalid(f"Unable to find volume with ID: {volume['id']}")
    if volume.get("virtualmachineid"):
        raise invalid("Please specify a volume that is not attached to any VM.")
    storage.remove(lab.volume_file(volume["id"]))
    lab.remove("volumes", volume["id"])
    return {"success": True}


@command("resizeVolume", ASYNC, "volume.ResizeVolumeCmd")
def resize_volume(lab: LabState, p: Params) -> AsyncSpec:
    volume = p.entity("id", lab.volumes, required=True)
    size_gb = p.integer("size", required=True)
    shrink_ok = p.flag("shrinkok")

    def run() -> dict:
        offering = lab.disk_offerings.get(volume.get("diskofferingid") or "")
        if volume["type"] == "DATADISK" and not (offering and offering["iscustomized"]):
            raise invalid("A new disk offering is required to resize a volume with a fixed size")
        _check_custom_size(size_gb)
        new_size = size_gb * GiB
        if new_size < volume["size"] and not shrink_ok:
            raise invalid(f"Going from existing size of {volume['size']} to size of {new_size} "
                          "would shrink the volume. Need to sign off by supplying the shrinkok "
                          "parameter with value of true.")
        volume["size"] = new_size
        if volume["state"] == "Ready":
            storage.create_sparse(lab.volume_file(volume["id"]), new_size)
        return {"volume": responses.volume(lab, volume)}

    return AsyncSpec("Volume", volume["id"], run)


@command("createSnapshot", CREATE, "snapshot.CreateSnapshotCmd")
def create_snapshot(lab: LabState, p: Params) -> AsyncSpec:
    volume = p.entity("volumeid", lab.volumes, required=True)
    if volume["state"] != "Ready":
        raise invalid(f"VolumeId: {volume['id']} is not in Ready state but {volume['state']}. "
                      "Cannot take snapshot.")
    owner = lab.vms.get(volume.get("virtualmachineid") or "")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    default_name = f"{owner['name'] if owner else 'detached'}_{volume['name']}_{stamp}"
    snap = {
        "id": new_id(), "name": p.get("name") or default_name, "volumeid": volume["id"],
        "volumename": volume["name"], "volumetype": volume["type"], "snapshottype": "MANUAL",
        "intervaltype": "MANUAL", "state": "Creating", "zoneid": volume["zoneid"],
        "virtualsize": volume["size"], "revertable": True, "locationtype": "Primary",
        "created": now(),
    }
    lab.snapshots[snap["id"]] = snap

    def run() -> dict:
        # A real copy of the bytes, holes kept: reverting must bring the data back.
        storage.copy_sparse_into(lab.volume_file(volume["id"]), lab.snapshot_file(snap["id"]))
        snap.update(state="BackedUp", virtualsize=volume["size"])
        return {"snapshot": responses.snapshot(lab, snap)}

    def on_fail() -> None:
        storage.remove(lab.snapshot_file(snap["id"]))
        snap["state"] = "Error"

    return AsyncSpec("Snapshot", snap["id"], run, on_fail)


@command("listSnapshots")
def list_snapshots(lab: LabState, p: Params) -> dict:
    wanted, removed = lab.resolve(p, "id", "snapshots")
    if removed:
        return list_response("snapshot", [], p)  # a deleted snapshot's id finds nothing
    volume = p.entity("volumeid", lab.volumes)
    name = p.get("name")
    items = [responses.snapshot(lab, s) for s in sorted(lab.snapshots.values(),
                                                        key=lambda s: s["created"])
             if (wanted is None or s is wanted) and (volume is None or s["volumeid"] == volume["id"])
             and name in (None, s["name"])]
    return list_response("snapshot", items, p)


@command("revertSnapshot", ASYNC, "snapshot.RevertSnapshotCmd")
def revert_snapshot(lab: LabState, p: Params) -> AsyncSpec:
    snap = p.entity("id", lab.snapshots, required=True)

    def run() -> dict:
        if snap["state"] != "BackedUp":
            raise invalid(f"Snapshot {snap['id']} is not in BackedUp state and cannot be reverted")
        volume = lab.volumes.get(snap["volumeid"])
        if volume is None:
            raise invalid(f"The volume {snap['volumeid']} this snapshot was taken of no longer "
                          "exists")
        if volume["state"] != "Ready":
            raise invalid("The volume is not in Ready state.")
        vm_id = volume.get("virtualmachineid")
        if vm_id:
            if lab.vms[vm_id]["state"] != "Stopped":
                raise invalid("The VM the specified disk is attached to is not in the shutdown "
                              "state.")
            if _vm_has_vm_snapshots(lab, vm_id):
                raise invalid("Unable to revert snapshot for VM, please remove VM snapshots "
                              "before reverting VM from snapshot")
        # In place: the backing file keeps its inode, so a device link or export stays valid.
        storage.copy_sparse_into(lab.snapshot_file(snap["id"]), lab.volume_file(volume["id"]))
        volume["size"] = snap["virtualsize"]
        return {"snapshot": responses.snapshot(lab, snap)}

    return AsyncSpec("Snapshot", snap["id"], run)


@command("deleteSnapshot", ASYNC, "snapshot.DeleteSnapshotCmd")
def delete_snapshot(lab: LabState, p: Params) -> AsyncSpec:
    snap, removed = lab.resolve(p, "id", "snapshots", required=True)

    def run() -> dict:
        if removed:  # SnapshotManagerImpl.deleteSnapshot, inside the job
            raise invalid(f"unable to find a snapshot with id {snap['id']}")
        storage.remove(lab.snapshot_file(snap["id"]))
        lab.remove("snapshots", snap["id"])
        return {"success": True}

    return AsyncSpec("Snapshot", snap["id"], run)
