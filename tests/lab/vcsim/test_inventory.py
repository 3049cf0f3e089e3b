"""VMs, disks and networks made with lab.vcsim's helpers, seen through the vSphere API."""

from __future__ import annotations

import itertools
import os

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from lab.vcsim import (
    create_vm,
    disks,
    find_datacenter,
    find_vm,
    flat_file_path,
    punch_zero,
    read_range,
    write_random,
)

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def test_create_vm_hardware(sim, si):
    name = unique("web")
    vm = create_vm(
        si, name, disks_mb=[64, 32, 1], networks=["VM Network", "lab-app"], cpus=4, memory_mb=4096,
        guest_id="ubuntu64Guest", power_on=True,
    )  # fmt: skip
    assert find_vm(si, name) == vm
    hw = vm.config.hardware
    assert (hw.numCPU, hw.memoryMB, vm.config.guestId) == (4, 4096, "ubuntu64Guest")
    assert vm.runtime.powerState == "poweredOn"
    assert vm.config.changeTrackingEnabled is False

    ds = vm.datastore[0]
    got = [(d.key, d.controllerKey, d.unitNumber, d.capacityInBytes, d.capacityInKB, d.backing.fileName) for d in disks(vm)]
    assert got == [
        (2000, 1000, 0, 64 * MIB, 64 * 1024, f"[{ds.name}] {name}/{name}.vmdk"),
        (2001, 1000, 1, 32 * MIB, 32 * 1024, f"[{ds.name}] {name}/{name}_1.vmdk"),
        (2002, 1000, 2, 1 * MIB, 1024, f"[{ds.name}] {name}/{name}_2.vmdk"),
    ]
    for d in disks(vm):
        assert d.backing.thinProvisioned is True
        assert d.backing.diskMode == "persistent"
        assert d.backing.uuid.startswith("6000C29") and len(d.backing.uuid) == 36
    assert len({d.backing.uuid for d in disks(vm)}) == 3

    nics = [d for d in hw.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert [(n.key, type(n), n.backing.deviceName) for n in nics] == [
        (4000, vim.vm.device.VirtualVmxnet3, "VM Network"),
        (4001, vim.vm.device.VirtualVmxnet3, "lab-app"),
    ]
    assert all(n.macAddress for n in nics)
    assert sorted(n.name for n in vm.network) == ["VM Network", "lab-app"]


def test_disk_files_are_sparse_and_sized_to_capacity(sim, si):
    vm = create_vm(si, unique("sparse"), disks_mb=[256, 2], networks=[])
    for index, capacity in enumerate((256 * MIB, 2 * MIB)):
        flat = flat_file_path(sim, vm, index)
        assert flat == flat_file_path(sim, vm, 2000 + index) == flat_file_path(sim, vm, disks(vm)[index])
        assert flat.is_relative_to(sim.datastore_dir)
        st = flat.stat()
        assert st.st_size == capacity
        assert st.st_blocks * 512 < 1 * MIB  # nothing allocated yet
        descriptor = flat.with_name(flat.name.replace("-flat.vmdk", ".vmdk")).read_text()
        assert f'RW {capacity // 512} VMFS "{flat.name}"' in descriptor
        assert 'ddb.thinProvisioned = "1"' in descriptor

    flat = flat_file_path(sim, vm, 0)
    data = write_random(flat, 10 * MIB + 5, 70_000, seed=3)
    assert read_range(flat, 10 * MIB + 5, 70_000) == data
    assert write_random(flat, 0, 16, seed=3) == data[:16]  # reproducible from the seed
    punch_zero(flat, 10 * MIB, MIB)
    assert read_range(flat, 10 * MIB + 5, 70_000) == bytes(70_000)
    assert flat.stat().st_size == 256 * MIB
    with pytest.raises(ValueError):
        write_random(flat, 256 * MIB - 10, 11, seed=1)  # would grow the disk


def test_grow_disk_through_reconfigure(sim, si):
    vm = create_vm(si, unique("grow"), disks_mb=[1], networks=[], cbt=True)
    disk = disks(vm)[0]
    flat = flat_file_path(sim, vm, disk.key)
    new_size = 1 * MIB + 4096  # not a multiple of the 64 KiB tracking block
    disk.capacityInBytes = new_size
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit])))
    grown = disks(vm)[0]
    assert (grown.capacityInBytes, grown.capacityInKB) == (new_size, new_size // 1024)
    assert flat.stat().st_size == new_size

    # The partial last block is tracked with its real length.
    write_random(flat, new_size - 100, 100, seed=4)
    task = vm.CreateSnapshot_Task(name="s", memory=False, quiesce=False)
    WaitForTask(task)
    info = vm.QueryChangedDiskAreas(snapshot=task.info.result, deviceKey=disk.key, startOffset=0, changeId="*")
    assert [(a.start, a.length) for a in info.changedArea] == [(1 * MIB, 4096)]
    assert info.length == new_size

    # Editing only capacityInKB is honoured too.
    grown.capacityInKB = 2048
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=grown)
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit])))
    assert disks(vm)[0].capacityInBytes == 2 * MIB == flat.stat().st_size

    # Shrinking is refused, and leaves the disk alone.
    shrink = disks(vm)[0]
    shrink.capacityInBytes = MIB
    shrink.capacityInKB = 1024
    with pytest.raises(vim.fault.InvalidDeviceSpec):
        edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=shrink)
        WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit])))
    assert [d.capacityInBytes for d in disks(vm)] == [2 * MIB]
    assert flat.stat().st_size == 2 * MIB


def test_many_disks_span_scsi_controllers(sim, si):
    vm = create_vm(si, unique("wide"), disks_mb=[1] * 17, networks=[])
    got = [(d.key, d.controllerKey, d.unitNumber) for d in disks(vm)]
    units = [u for u in range(16) if u != 7]
    assert got == [(2000 + i, 1000 + i // 15, units[i % 15]) for i in range(17)]
    controllers = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.ParaVirtualSCSIController)]
    assert [(c.key, c.busNumber) for c in controllers] == [(1000, 0), (1001, 1)]


def test_distributed_port_group_backing(sim, si):
    vm = create_vm(si, unique("dvs"), disks_mb=[1], networks=["DC0_DVPG0"])
    [nic] = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert isinstance(nic.backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo)
    # vcsim lists a distributed port group twice in Datacenter.network: dedupe by moref.
    [pg] = {n for n in find_datacenter(si).network if n.name == "DC0_DVPG0"}
    assert nic.backing.port.portgroupKey == pg.key
    assert nic.backing.port.switchUuid == pg.config.distributedVirtualSwitch.uuid


def test_destroy_removes_disk_files(sim, si):
    vm = create_vm(si, unique("gone"), disks_mb=[1], networks=[])
    flat = flat_file_path(sim, vm, 0)
    assert flat.exists()
    WaitForTask(vm.Destroy_Task())
    assert not flat.exists()
    assert not os.path.exists(flat.parent)
