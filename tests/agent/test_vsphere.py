"""The vCenter provider against vcsim: CBT, snapshots, changed areas, session renewal, power off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVmomi import vim

from agent.errors import VCenterError, VCenterNotFound
from agent.vsphere import (
    ChangedArea,
    VCenterEndpoint,
    VSphereSource,
    parse_devices,
    snapshot_name,
)
from lab.vcsim import CBT_BLOCK_SIZE, write_random
from tests.agent.vmlab import (
    MiB,
    NicSpec,
    VmSpec,
    create_vm,
    flat_file,
    snapshot_names,
    vm_disks,
    wait_task,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def source(sim: Any) -> Iterator[VSphereSource]:
    endpoint = VCenterEndpoint.parse(f"{sim.host}:{sim.port}", sim.username, sim.password,
                                     thumbprint=sim.thumbprint)
    with VSphereSource(endpoint, keepalive_seconds=0) as src:
        yield src


def test_cbt_snapshot_and_changed_areas(source: VSphereSource, si: Any) -> None:
    vm = create_vm(si, VmSpec("cbt-01", disks_mb=[4, 2], nics=[NicSpec("VM Network")]))
    disk = vm_disks(vm)[0]
    flat = flat_file(si, disk.backing.fileName)
    write_random(flat, 0, 100_000, seed=1)  # blocks 0 and 1
    write_random(flat, 3 * MiB, 1000, seed=2)  # inside block 48

    assert source.enable_cbt(vm) is True
    assert source.enable_cbt(vm) is False  # already on: no reconfigure
    assert vm.config.changeTrackingEnabled is True

    snap1, quiesced = source.create_snapshot(vm, snapshot_name("job-cbt-1"), quiesce=True)
    assert quiesced is True
    disks1 = {d.key: d for d in source.snapshot_disks(snap1)}
    change1 = disks1[disk.key].change_id
    assert change1 and change1.startswith("52 ")
    assert disks1[disk.key].capacity_bytes == 4 * MiB

    full = source.query_changed_areas(vm, snap1, disk.key, 4 * MiB, "*")
    assert full == [ChangedArea(0, 2 * CBT_BLOCK_SIZE), ChangedArea(48 * CBT_BLOCK_SIZE, CBT_BLOCK_SIZE)]
    # The other disk is all zeros: nothing allocated.
    other = vm_disks(vm)[1]
    assert source.query_changed_areas(vm, snap1, other.key, 2 * MiB, "*") == []

    write_random(flat, 2 * MiB + 10, 20, seed=3)  # block 32 changes
    snap2, _ = source.create_snapshot(vm, snapshot_name("job-cbt-2"), quiesce=False)
    change2 = {d.key: d for d in source.snapshot_disks(snap2)}[disk.key].change_id
    assert change2 != change1
    assert source.query_changed_areas(vm, snap2, disk.key, 4 * MiB, change1) == [
        ChangedArea(32 * CBT_BLOCK_SIZE, CBT_BLOCK_SIZE)]
    # The first snapshot's config keeps its own change id.
    assert {d.key: d for d in source.snapshot_disks(snap1)}[disk.key].change_id == change1

    found = source.find_snapshots("job-cbt-1")
    assert [(v._moId, info.name) for v, _, info in found] == [(vm._moId, "vma-job-cbt-1")]
    assert [info.name for _, _, info in source.find_snapshots("job-cbt-2", vm)] == ["vma-job-cbt-2"]
    foreign = wait_task(vm.CreateSnapshot_Task(name="ops-backup", memory=False, quiesce=False))
    assert sorted(info.name for _, _, info in source.find_snapshots(None, vm)) == ["vma-job-cbt-1", "vma-job-cbt-2"]
    assert {info.name for _, _, info in source.find_snapshots(None)} >= {"vma-job-cbt-1", "vma-job-cbt-2"}
    wait_task(foreign.RemoveSnapshot_Task(removeChildren=False))

    source.remove_snapshot(snap2)
    source.remove_snapshot(snap1)
    assert snapshot_names(vm) == []
    assert source.find_snapshots("job-cbt-1") == []


def test_unknown_change_id_is_a_vcenter_error(source: VSphereSource, si: Any) -> None:
    vm = create_vm(si, VmSpec("cbt-02", disks_mb=[1]))
    key = vm_disks(vm)[0].key
    source.enable_cbt(vm)
    snap, _ = source.create_snapshot(vm, "vma-job-x", quiesce=False)
    try:
        with pytest.raises(VCenterError, match="InvalidArgument"):
            source.query_changed_areas(vm, snap, key, MiB, "52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/9")
    finally:
        source.remove_snapshot(snap)


def test_session_is_renewed_after_not_authenticated(source: VSphereSource, lab_vms: dict) -> None:
    before = source.current_session_key()
    # The session dies (vCenter restarted, idle timeout): the next call logs in again once.
    source.content.sessionManager.Logout()
    _, vms = source.list_vms("DC0", "web-01")
    assert [vm.name for vm in vms] == ["web-01"]
    assert source.relogins == 1
    assert source.current_session_key() != before


def test_find_vm_by_path_and_moref(source: VSphereSource, lab_vms: dict) -> None:
    app = lab_vms["app-01"]
    assert source.find_vm(path="/DC0/vm/Prod/app-01")._moId == app._moId
    assert source.find_vm(path="Prod/app-01", datacenter_name="DC0")._moId == app._moId
    assert source.find_vm(moref=app._moId)._moId == app._moId
    with pytest.raises(VCenterNotFound):
        source.find_vm(path="/DC0/vm/nope")
    with pytest.raises(VCenterNotFound):
        source.find_vm(moref="vm-99999")


def test_power_off_is_graceful_then_idempotent(source: VSphereSource, si: Any) -> None:
    vm = create_vm(si, VmSpec("power-01", disks_mb=[1]))
    wait_task(vm.PowerOnVM_Task())
    assert source.power_off(vm, timeout=5) == "guest_shutdown"
    assert vm.runtime.powerState == "poweredOff"
    assert source.power_off(vm, timeout=5) == "already_off"


def test_capacity_in_bytes_from_kb_only() -> None:
    # Older vCenters fill only capacityInKB.
    disk = vim.vm.device.VirtualDisk(
        key=2000, controllerKey=1000, unitNumber=3, capacityInKB=10 * 1024 * 1024,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName="[ds1] a/a.vmdk", changeId="52 aa/3"))
    ctrl = vim.vm.device.VirtualLsiLogicSASController(key=1000, busNumber=2)
    disks, nics = parse_devices([ctrl, disk], True, {}, {})
    assert nics == []
    assert disks[0].capacity_bytes == 10 * 1024**3 and disks[0].size_gb == 10.0
    assert (disks[0].id, disks[0].controller_type, disks[0].bus_number) == ("disk-3", "lsilogic-sas", 2)
    assert (disks[0].datastore, disks[0].change_id, disks[0].cbt_enabled) == ("ds1", "52 aa/3", True)
