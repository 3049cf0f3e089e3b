"""Full and incremental copies between real nbdkit servers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import datamover
from datamover import CopyError

from .conftest import KiB, MiB, random_bytes

pytestmark = pytest.mark.integration


def test_full_copy_is_identical_and_reads_only_data(vm_disk, image, serve, copy_mode):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)

    result = datamover.copy(src.uri, dst.uri, **copy_mode)

    assert target.sha256() == vm_disk.sha256()
    assert result.bytes_total == vm_disk.size
    # Only real data crosses the wire; holes and zero blocks become zero requests.
    assert result.bytes_copied == vm_disk.data_bytes
    assert result.bytes_copied + result.bytes_zeroed + result.bytes_skipped == result.bytes_total
    assert result.bytes_read < vm_disk.size // 4
    assert result.verified is None and not result.incremental
    assert result.connections == copy_mode["connections"]


def test_holes_and_zero_blocks_stay_holes_on_a_sparse_target(vm_disk, image, serve, copy_mode):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)

    datamover.copy(src.uri, dst.uri, **copy_mode)

    # The 3 MiB of allocated zeroes in the source must not be allocated on the target.
    assert target.allocated <= vm_disk.data_bytes + 256 * KiB
    assert target.allocated < vm_disk.allocated - 2 * MiB


def test_full_copy_overwrites_stale_data_on_the_target(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    target.write(0, b"\xff" * vm_disk.size)  # a reused volume full of old data
    src, dst = serve(vm_disk, readonly=True), serve(target)

    datamover.copy(src.uri, dst.uri)

    assert target.sha256() == vm_disk.sha256()


def test_target_is_zero_skips_zeroing(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target, filters=["log"], args=[f"logfile={target.path}.log"])

    result = datamover.copy(src.uri, dst.uri, target_is_zero=True)
    dst.stop()

    assert target.sha256() == vm_disk.sha256()
    assert " Zero " not in open(f"{target.path}.log").read()
    assert result.bytes_copied == vm_disk.data_bytes


def test_larger_target_is_fine_and_smaller_target_is_refused(vm_disk, image, serve):
    bigger = image("bigger.img", vm_disk.size + 8 * MiB)
    smaller = image("smaller.img", vm_disk.size - MiB)
    src = serve(vm_disk, readonly=True)

    datamover.copy(src.uri, serve(bigger).uri)
    assert bigger.read(0, vm_disk.size) == vm_disk.read()

    with pytest.raises(CopyError, match="smaller than the source"):
        datamover.copy(src.uri, serve(smaller).uri)


def test_read_only_target_is_refused(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    with pytest.raises(CopyError, match="read-only"):
        datamover.copy(serve(vm_disk, readonly=True).uri, serve(target, readonly=True).uri)


def test_several_connections_when_servers_allow_multi_conn(vm_disk, image, serve, monkeypatch):
    monkeypatch.setattr("datamover.coordinator.PARALLEL_MIN_BYTES", 0)
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)

    result = datamover.copy(src.uri, dst.uri, connections=3, request_size=64 * KiB, depth=8)

    assert result.connections == 3
    assert target.sha256() == vm_disk.sha256()


def test_one_connection_when_a_server_does_not_allow_multi_conn(vm_disk, image, serve, monkeypatch):
    monkeypatch.setattr("datamover.coordinator.PARALLEL_MIN_BYTES", 0)
    target = image("target.img", vm_disk.size)
    # Like the VDDK plugin, which serializes requests and does not advertise multi-conn.
    src = serve(vm_disk, readonly=True, filters=["multi-conn"], args=["multi-conn-mode=disable"])

    result = datamover.copy(src.uri, serve(target).uri, connections=2, depth=4)

    assert result.connections == 1
    assert result.depth == 8  # the requests of the connection not opened go to the one that is
    assert target.sha256() == vm_disk.sha256()


def test_tcp_servers_and_odd_request_sizes(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True, tcp=True), serve(target, tcp=True)
    assert src.uri.startswith("nbd://127.0.0.1:")

    datamover.copy(src.uri, dst.uri, request_size=100_000, depth=3)

    assert target.sha256() == vm_disk.sha256()


def _incremental_setup(vm_disk, image, serve, rng):
    """A target holding yesterday's disk, and a source that changed since."""
    target = image("target.img", vm_disk.size)
    src = serve(vm_disk, readonly=True)
    datamover.copy(src.uri, serve(target).uri)
    before = vm_disk.read()

    changed = [
        (0, 64 * KiB, "data"),  # rewritten data
        (4 * MiB + 4096, 1 * MiB + 12 * KiB, "data"),  # spans request boundaries
        (9 * MiB, 256 * KiB, "data"),  # was a hole, now data
        (31 * MiB, 512 * KiB, "zero"),  # data overwritten with zeroes
        (36 * MiB, 2 * MiB, "punch"),  # trimmed by the guest: now a hole
    ]
    for offset, length, kind in changed:
        if kind == "data":
            vm_disk.write(offset, random_bytes(rng, length))
        elif kind == "zero":
            vm_disk.write(offset, bytes(length))
        else:
            vm_disk.write(offset, random_bytes(rng, length))  # make sure there was data
            before = before[:offset] + vm_disk.read(offset, length) + before[offset + length:]
            datamover.copy(src.uri, serve(target).uri, [(offset, length)])
            vm_disk.punch(offset, length)
    # A change CBT did not report: it must NOT reach the target.
    vm_disk.write(40 * MiB, random_bytes(rng, 128 * KiB))
    extents = [(offset, length) for offset, length, _ in changed]
    return target, before, changed, extents


def test_incremental_copy_changes_exactly_the_given_ranges(vm_disk, image, serve, rng, copy_mode):
    target, before, changed, extents = _incremental_setup(vm_disk, image, serve, rng)
    after = vm_disk.read()
    src, dst = serve(vm_disk, readonly=True), serve(target)

    result = datamover.copy(src.uri, dst.uri, extents, **copy_mode)

    expected = bytearray(before)
    for offset, length in extents:
        expected[offset : offset + length] = after[offset : offset + length]
    assert target.read() == bytes(expected)
    assert target.read(40 * MiB, 128 * KiB) == before[40 * MiB : 40 * MiB + 128 * KiB]
    data_changed = sum(length for _, length, kind in changed if kind == "data")
    assert result.incremental
    assert result.bytes_total == sum(length for _, length in extents)
    assert result.bytes_copied == data_changed
    assert result.bytes_zeroed == result.bytes_total - data_changed


def test_incremental_copy_writes_nothing_outside_the_extents(vm_disk, image, serve, rng, copy_mode):
    target, _, _, extents = _incremental_setup(vm_disk, image, serve, rng)
    log_path = f"{target.path}.log"
    src = serve(vm_disk, readonly=True)
    dst = serve(target, filters=["log"], args=[f"logfile={log_path}"])

    datamover.copy(src.uri, dst.uri, extents, **copy_mode)
    dst.stop()

    writes = []
    for line in open(log_path):
        if " Write " in line or " Zero " in line:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            writes.append((int(fields["offset"], 16), int(fields["count"], 16)))
    assert writes
    for offset, count in writes:
        assert any(start <= offset and offset + count <= start + length for start, length in extents), (offset, count)


def test_extents_in_vmware_and_dict_shapes_are_accepted(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)
    extents = [
        SimpleNamespace(start=0, length=64 * KiB),  # pyVmomi DiskChangeExtent
        {"start": 3 * MiB, "length": 4096},
        {"offset": 30 * MiB, "length": 8192},
        (30 * MiB + 4096, 8192),  # overlaps the previous one
    ]

    result = datamover.copy(src.uri, dst.uri, extents)

    assert result.bytes_total == 64 * KiB + 4096 + 12 * KiB
    assert target.read(0, 64 * KiB) == vm_disk.read(0, 64 * KiB)
    assert target.read(30 * MiB, 12 * KiB) == vm_disk.read(30 * MiB, 12 * KiB)


def test_extents_past_the_end_are_rejected(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)
    with pytest.raises(ValueError, match="after the end of the disk"):
        datamover.copy(src.uri, dst.uri, [(vm_disk.size - 4096, 8192)])
    with pytest.raises(ValueError, match="negative"):
        datamover.copy(src.uri, dst.uri, [(-1, 10)])
    with pytest.raises(ValueError, match="two integers"):
        datamover.copy(src.uri, dst.uri, [("0", 10)])


def test_empty_extent_list_copies_nothing(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    result = datamover.copy(serve(vm_disk, readonly=True).uri, serve(target).uri, [])
    assert result.bytes_total == 0 and result.bytes_copied == 0
    assert target.allocated == 0


def test_unreachable_server_is_a_copy_error(vm_disk, image, serve, tmp_path):
    target = image("target.img", vm_disk.size)
    missing = f"nbd+unix:///?socket={tmp_path}/nobody.sock"
    with pytest.raises(CopyError) as info:
        datamover.copy(missing, serve(target).uri)
    assert info.value.operation == "connect"
    assert info.value.uri == missing
