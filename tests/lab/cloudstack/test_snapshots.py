"""Volume snapshots copy the bytes (holes kept) and revert brings them back; VM snapshots list."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from lab.cloudstack.storage import device_link
from tests.lab.cloudstack.helpers import api_error

pytestmark = pytest.mark.integration
MiB = 1024**2


def write(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read(path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def test_revert_restores_the_snapshotted_bytes_and_keeps_holes(cloudstack_lab, api, world):
    volume = world.volume(api, size_gb=1)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    device = device_link(cloudstack_lab.lab_root, volume["id"])
    write(device, 0, b"A" * 4096)
    write(device, 700 * MiB, b"B" * 4096)
    snap = api.createSnapshot(volumeid=volume["id"])["snapshot"]
    assert snap["state"] == "BackedUp"
    assert snap["virtualsize"] == 1024 * MiB
    assert 0 < snap["physicalsize"] < 4 * MiB  # a sparse copy, not a gigabyte of zeros
    assert snap["name"].startswith(f"oma_{volume['name']}_")

    write(device, 0, b"C" * 4096)
    write(device, 300 * MiB, b"D" * 4096)
    api.detachVolume(id=volume["id"])
    reverted = api.revertSnapshot(id=snap["id"])["snapshot"]
    assert reverted["id"] == snap["id"]
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    assert read(device, 0, 4096) == b"A" * 4096
    assert read(device, 300 * MiB, 4096) == bytes(4096)  # written after the snapshot: gone
    assert read(device, 700 * MiB, 4096) == b"B" * 4096


def test_revert_needs_the_attached_vm_stopped(api, world):
    guest = world.vm(api, start=True)
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=guest["id"])
    snap = api.createSnapshot(volumeid=volume["id"])["snapshot"]
    with pytest.raises(CloudStackApiException) as info:
        api.revertSnapshot(id=snap["id"])
    assert info.value.error == {"errorcode": 431, "errortext": "The VM the specified disk is "
                                "attached to is not in the shutdown state."}
    api.stopVirtualMachine(id=guest["id"])
    assert api.revertSnapshot(id=snap["id"])["snapshot"]["id"] == snap["id"]


def test_revert_needs_a_ready_volume(api, world):
    guest = world.vm(api, start=True)
    [root] = api.listVolumes(virtualmachineid=guest["id"])["volume"]
    snap = api.createSnapshot(volumeid=root["id"])["snapshot"]
    api.destroyVirtualMachine(id=guest["id"])  # not expunged: the root volume is Destroy
    with pytest.raises(CloudStackApiException) as info:
        api.revertSnapshot(id=snap["id"])
    assert info.value.error["errortext"] == "The volume is not in Ready state."


def test_snapshot_of_a_volume_never_attached_is_refused(api, world):
    volume = world.volume(api)
    status, body = api_error(api.createSnapshot, volumeid=volume["id"])
    assert status == 431
    assert body["errortext"] == (f"VolumeId: {volume['id']} is not in Ready state but "
                                 "Allocated. Cannot take snapshot.")


def test_volume_from_snapshot_holds_the_snapshotted_data(cloudstack_lab, api, world):
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    write(device_link(cloudstack_lab.lab_root, volume["id"]), 4096, b"golden")
    snap = api.createSnapshot(volumeid=volume["id"], name="golden")["snapshot"]
    clone = api.createVolume(name="clone", snapshotid=snap["id"])["volume"]
    assert clone["state"] == "Ready"
    api.attachVolume(id=clone["id"], virtualmachineid=world.oma_vm_id)
    assert read(device_link(cloudstack_lab.lab_root, clone["id"]), 4096, 6) == b"golden"


def test_failed_snapshot_is_left_in_error_and_can_be_deleted(cloudstack_lab, api, world):
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    cloudstack_lab.inject("createSnapshot", fail=True, errortext="Failed to create snapshot")
    with pytest.raises(CloudStackApiException) as info:
        api.createSnapshot(volumeid=volume["id"])
    assert info.value.error["errortext"] == "Failed to create snapshot"
    [snap] = api.listSnapshots(volumeid=volume["id"])["snapshot"]
    assert snap["state"] == "Error"
    assert api.deleteSnapshot(id=snap["id"]) == {"success": True}
    assert api.listSnapshots() == {}


def test_vm_snapshots_are_listed_under_camel_case_vmsnapshot(api, world):
    created = api.createVMSnapshot(virtualmachineid=world.oma_vm_id, name="before")["vmsnapshot"]
    assert created["state"] == "Ready" and created["current"] is True
    listing = api.listVMSnapshot(virtualmachineid=world.oma_vm_id)
    assert listing["count"] == 1
    assert listing["vmSnapshot"][0]["id"] == created["id"]
    second = api.createVMSnapshot(virtualmachineid=world.oma_vm_id)["vmsnapshot"]
    assert second["parent"] == created["id"]
    for snap in (second, created):
        api.deleteVMSnapshot(vmsnapshotid=snap["id"])
    assert api.listVMSnapshot() == {}
