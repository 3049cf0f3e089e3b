"""Changed Block Tracking through pyVmomi, the way a backup tool (our agent) drives it."""

from __future__ import annotations

import itertools
import re

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from lab.vcsim import (
    CBT_BLOCK_SIZE,
    create_vm,
    disks,
    flat_file_path,
    punch_zero,
    write_random,
)

pytestmark = pytest.mark.integration

BS = CBT_BLOCK_SIZE
MIB = 1024 * 1024
CHANGE_ID = re.compile(r"^52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}/\d+$")
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def blocks(offset: int, length: int) -> set[int]:
    """64 KiB block numbers touched by a write."""
    return set(range(offset // BS, (offset + length - 1) // BS + 1))


def extents(block_numbers: set[int], capacity: int, start: int = 0) -> list[tuple[int, int]]:
    """What QueryChangedDiskAreas must answer for these blocks: adjacent blocks merged,
    clipped to [start, capacity)."""
    out: list[list[int]] = []
    for b in sorted(block_numbers):
        lo, hi = max(b * BS, start), min((b + 1) * BS, capacity)
        if hi <= lo:
            continue
        if out and out[-1][0] + out[-1][1] == lo:
            out[-1][1] += hi - lo
        else:
            out.append([lo, hi - lo])
    return [tuple(e) for e in out]


def areas(info: vim.VirtualMachine.DiskChangeInfo) -> list[tuple[int, int]]:
    return [(a.start, a.length) for a in info.changedArea]


def snapshot(vm: vim.VirtualMachine, name: str) -> vim.vm.Snapshot:
    task = vm.CreateSnapshot_Task(name=name, description="cbt test", memory=False, quiesce=False)
    WaitForTask(task)
    return task.info.result


def snapshot_change_ids(snap: vim.vm.Snapshot) -> dict[int, str]:
    """What a backup tool stores: the change id of each disk as recorded on the snapshot."""
    return {
        d.key: d.backing.changeId
        for d in snap.config.hardware.device
        if isinstance(d, vim.vm.device.VirtualDisk)
    }


def enable_cbt(vm: vim.VirtualMachine, enabled: bool = True) -> None:
    WaitForTask(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(changeTrackingEnabled=enabled)))


def test_full_then_incremental_cbt_cycle(sim, si):
    vm = create_vm(si, unique("cbt"), disks_mb=[16, 8], networks=["VM Network"], power_on=True)
    disk_a, disk_b = (d.key for d in disks(vm))
    assert (disk_a, disk_b) == (2000, 2001)
    assert not vm.config.changeTrackingEnabled

    enable_cbt(vm)
    assert vm.config.changeTrackingEnabled is True

    flat_a, flat_b = flat_file_path(sim, vm, disk_a), flat_file_path(sim, vm, disk_b)
    cap_a, cap_b = 16 * MIB, 8 * MIB
    assert (flat_a.stat().st_size, flat_b.stat().st_size) == (cap_a, cap_b)

    # Guest writes with holes between them: two blocks at the start, a 10-byte write inside
    # block 5, a write straddling a block boundary at 3 MiB, a block of explicit zeros (content
    # is zero, so '*' must not report it), and the very last block of disk B.
    written_a: set[int] = set()
    for seed, (off, length) in enumerate([(0, 100_000), (5 * BS + 10, 10), (3 * MIB - 1000, 5000)]):
        write_random(flat_a, off, length, seed)
        written_a |= blocks(off, length)
    with open(flat_a, "r+b") as f:
        f.seek(40 * BS)
        f.write(bytes(BS))
    write_random(flat_b, cap_b - 300, 300, 99)
    written_b = blocks(cap_b - 300, 300)

    snap1 = snapshot(vm, "full")
    ids1 = snapshot_change_ids(snap1)
    assert set(ids1) == {disk_a, disk_b}
    assert all(CHANGE_ID.match(cid) for cid in ids1.values()), ids1
    assert ids1[disk_a] != ids1[disk_b]
    # The live disks report the same change ids as the snapshot.
    assert {d.key: d.backing.changeId for d in disks(vm)} == ids1

    full_a = vm.QueryChangedDiskAreas(snapshot=snap1, deviceKey=disk_a, startOffset=0, changeId="*")
    assert (full_a.startOffset, full_a.length) == (0, cap_a)
    assert areas(full_a) == extents(written_a, cap_a)
    full_b = vm.QueryChangedDiskAreas(snapshot=snap1, deviceKey=disk_b, startOffset=0, changeId="*")
    assert areas(full_b) == extents(written_b, cap_b) == [(cap_b - BS, BS)]

    # A resumed query starts mid-disk: areas before startOffset are left out, the one it falls
    # in is clipped.
    resume = 50_000
    partial = vm.QueryChangedDiskAreas(snapshot=snap1, deviceKey=disk_a, startOffset=resume, changeId="*")
    assert (partial.startOffset, partial.length) == (resume, cap_a - resume)
    assert areas(partial) == extents(written_a, cap_a, start=resume)

    # The agent removes the snapshot once the copy is done; the change ids stay valid.
    remove = snap1.RemoveSnapshot_Task(removeChildren=False)
    assert WaitForTask(remove) == "success"
    assert remove.info.entity == vm
    assert vm.snapshot is None

    # Second round of guest writes: a new block far out, a partial overwrite of block 1, the
    # first block trimmed to zeros (a change a replica must receive), nothing on disk B.
    changed_a = set()
    write_random(flat_a, 100 * BS + 123, 4000, 7)
    changed_a |= blocks(100 * BS + 123, 4000)
    write_random(flat_a, BS + 17, 50, 8)
    changed_a |= blocks(BS + 17, 50)
    punch_zero(flat_a, 0, BS)
    changed_a |= {0}

    snap2 = snapshot(vm, "incremental")
    ids2 = snapshot_change_ids(snap2)
    for key in (disk_a, disk_b):
        assert ids2[key] != ids1[key]
        # Same tracking file (uuid part), next sequence number.
        uuid1, seq1 = ids1[key].rsplit("/", 1)
        uuid2, seq2 = ids2[key].rsplit("/", 1)
        assert uuid1 == uuid2 and int(seq2) == int(seq1) + 1

    inc_a = vm.QueryChangedDiskAreas(snapshot=snap2, deviceKey=disk_a, startOffset=0, changeId=ids1[disk_a])
    assert (inc_a.startOffset, inc_a.length) == (0, cap_a)
    assert areas(inc_a) == extents(changed_a, cap_a)
    inc_b = vm.QueryChangedDiskAreas(snapshot=snap2, deviceKey=disk_b, startOffset=0, changeId=ids1[disk_b])
    assert areas(inc_b) == []

    # '*' now reflects the trim: block 0 is zero again and no longer reported.
    full_a2 = vm.QueryChangedDiskAreas(snapshot=snap2, deviceKey=disk_a, startOffset=0, changeId="*")
    assert areas(full_a2) == extents((written_a | changed_a) - {0}, cap_a)

    # Querying with the snapshot's own change id: nothing changed since.
    same = vm.QueryChangedDiskAreas(snapshot=snap2, deviceKey=disk_a, startOffset=0, changeId=ids2[disk_a])
    assert areas(same) == []

    with pytest.raises(vmodl.fault.InvalidArgument) as unknown:
        vm.QueryChangedDiskAreas(
            snapshot=snap2, deviceKey=disk_a, startOffset=0, changeId="52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/1"
        )
    assert unknown.value.invalidProperty == "changeId"

    revert = snap2.RevertToSnapshot_Task()
    assert WaitForTask(revert) == "success"
    assert revert.info.entity == vm
    assert vm.snapshot.currentSnapshot == snap2

    assert WaitForTask(snap2.RemoveSnapshot_Task(removeChildren=False)) == "success"
    assert vm.snapshot is None


def test_earlier_snapshots_keep_their_own_change_ids(sim, si):
    vm = create_vm(si, unique("chain"), disks_mb=[4], networks=[], cbt=True)
    flat = flat_file_path(sim, vm, 0)
    write_random(flat, 0, 10, 1)
    s1 = snapshot(vm, "one")
    write_random(flat, 2 * BS, 10, 2)
    s2 = snapshot(vm, "two")
    id1, id2 = snapshot_change_ids(s1)[2000], snapshot_change_ids(s2)[2000]
    assert id1 != id2
    # Each snapshot answers for its own point in time.
    assert areas(vm.QueryChangedDiskAreas(snapshot=s1, deviceKey=2000, startOffset=0, changeId="*")) == [(0, BS)]
    assert areas(vm.QueryChangedDiskAreas(snapshot=s2, deviceKey=2000, startOffset=0, changeId=id1)) == [(2 * BS, BS)]
    assert WaitForTask(vm.RemoveAllSnapshots_Task()) == "success"


def test_query_needs_change_tracking(sim, si):
    vm = create_vm(si, unique("nocbt"), disks_mb=[4], networks=[])
    snap = snapshot(vm, "untracked")
    assert snapshot_change_ids(snap) == {2000: None}
    with pytest.raises(vim.fault.FileFault) as fault:
        vm.QueryChangedDiskAreas(snapshot=snap, deviceKey=2000, startOffset=0, changeId="*")
    assert fault.value.file.endswith("-ctk.vmdk")

    # Switching tracking off again drops the change ids, as deleting the -ctk.vmdk does on ESXi.
    enable_cbt(vm)
    tracked = snapshot(vm, "tracked")
    assert snapshot_change_ids(tracked)[2000]
    enable_cbt(vm, False)
    assert disks(vm)[0].backing.changeId is None
    with pytest.raises(vim.fault.FileFault):
        vm.QueryChangedDiskAreas(snapshot=tracked, deviceKey=2000, startOffset=0, changeId="*")


def test_query_argument_checks(sim, si):
    vm = create_vm(si, unique("args"), disks_mb=[4], networks=[], cbt=True)
    snap = snapshot(vm, "s")
    with pytest.raises(vmodl.fault.InvalidArgument) as bad_key:
        vm.QueryChangedDiskAreas(snapshot=snap, deviceKey=4000, startOffset=0, changeId="*")
    assert bad_key.value.invalidProperty == "deviceKey"
    with pytest.raises(vmodl.fault.InvalidArgument) as bad_offset:
        vm.QueryChangedDiskAreas(snapshot=snap, deviceKey=2000, startOffset=4 * MIB + 1, changeId="*")
    assert bad_offset.value.invalidProperty == "startOffset"
    other = create_vm(si, unique("other"), disks_mb=[4], networks=[], cbt=True)
    with pytest.raises(vmodl.fault.InvalidArgument) as foreign:
        other.QueryChangedDiskAreas(snapshot=snap, deviceKey=2000, startOffset=0, changeId="*")
    assert foreign.value.invalidProperty == "snapshot"


def test_query_without_snapshot_needs_powered_off_vm(sim, si):
    vm = create_vm(si, unique("live"), disks_mb=[4], networks=[], cbt=True)
    flat = flat_file_path(sim, vm, 0)
    write_random(flat, 3 * BS, 1, 5)
    base = snapshot_change_ids(snapshot(vm, "base"))[2000]
    write_random(flat, 10 * BS, 1, 6)
    # Powered off: compared with the live disk.
    live = vm.QueryChangedDiskAreas(deviceKey=2000, startOffset=0, changeId=base)
    assert areas(live) == [(10 * BS, BS)]
    WaitForTask(vm.PowerOnVM_Task())
    with pytest.raises(vim.fault.InvalidPowerState):
        vm.QueryChangedDiskAreas(deviceKey=2000, startOffset=0, changeId=base)


def test_unset_snapshot_property_reads_as_none(sim, si):
    vm = create_vm(si, unique("nosnap"), disks_mb=[1], networks=[])
    # Attribute access goes through PropertyCollector.Fetch, which used to panic here.
    assert vm.snapshot is None
    pc = si.content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["snapshot", "name"])],
    )
    [content] = pc.RetrieveContents([spec])
    assert content.obj == vm
    assert {p.name: p.val for p in content.propSet} == {"name": vm.name}
    # The server survived both calls.
    assert vm.name.startswith("nosnap")
