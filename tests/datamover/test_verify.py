"""Verification: identical disks match, any difference is found and located."""

from __future__ import annotations

import pytest

import datamover
from datamover import VerificationError
from datamover.nbdkit import NbdkitServer

from .conftest import KiB, MiB

pytestmark = pytest.mark.integration


@pytest.fixture
def copied(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)
    datamover.copy(src.uri, dst.uri)
    return vm_disk, target, src, dst


def test_identical_disks_match_with_equal_checksums(copied):
    source, target, src, dst = copied

    result = datamover.verify(src.uri, dst.uri)

    assert result.matched and result.mismatch is None
    assert result.source_sha256 == result.target_sha256
    assert result.bytes_total == source.size
    # Regions both sides report as holes are compared without reading them.
    assert result.bytes_read < 2 * source.size


def test_checksum_is_independent_of_how_zeroes_are_stored(copied):
    source, target, src, dst = copied
    # The target stores as holes what the source stores as zero bytes; same content, same checksum.
    assert source.allocated > target.allocated
    result = datamover.verify(src.uri, dst.uri)
    assert result.matched


def test_injected_byte_flip_is_found_and_located(copied):
    source, target, src, dst = copied
    flip_at = 3 * MiB + 100_000
    original = target.read(flip_at, 1)
    target.write(flip_at, bytes([original[0] ^ 0x40]))

    result = datamover.verify(src.uri, dst.uri)

    assert not result.matched
    offset, length = result.mismatch
    assert result.first_difference == flip_at
    assert offset <= flip_at < offset + length
    assert length == 4 * KiB
    assert result.source_sha256 is None


def test_first_of_several_mismatches_is_reported(copied):
    source, target, src, dst = copied
    target.write(30 * MiB + 8192, b"\x00" * 10000)  # zeroed data late in the disk
    target.write(20 * MiB + 4096, b"oops")  # earlier one
    target.write(44 * MiB, b"\x99" * 4096)  # garbage where the source has a hole

    result = datamover.verify(src.uri, dst.uri, chunk_size=64 * KiB)

    assert result.first_difference == 20 * MiB + 4096
    assert result.mismatch == (20 * MiB + 4096, 4 * KiB)


def test_garbage_in_a_source_hole_is_found(copied):
    source, target, src, dst = copied
    target.write(44 * MiB + 12345, b"\x01")

    result = datamover.verify(src.uri, dst.uri)

    assert result.first_difference == 44 * MiB + 12345


def test_verify_only_the_given_extents(copied):
    source, target, src, dst = copied
    target.write(44 * MiB, b"\x07")  # outside the extents checked below

    assert datamover.verify(src.uri, dst.uri, [(0, MiB), (3 * MiB, 2 * MiB)]).matched
    assert not datamover.verify(src.uri, dst.uri, [(44 * MiB, 4096)]).matched


def test_copy_with_verify_reports_verified(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    result = datamover.copy(serve(vm_disk, readonly=True).uri, serve(target).uri, verify=True)
    assert result.verified is True
    assert result.verify_result.matched


def test_copy_with_verify_raises_when_the_target_drops_writes(vm_disk, image, serve):
    """A target that acknowledges writes but never stores them is caught by verification."""
    target = image("target.img", vm_disk.size)
    src = serve(vm_disk, readonly=True)
    # An nbdkit eval plugin: reads come from the file, writes are thrown away.
    lying = NbdkitServer(
        "eval",
        [
            f"get_size=echo {vm_disk.size}",
            f"pread=dd if={target.path} iflag=skip_bytes,count_bytes skip=$4 count=$3 status=none",
            "pwrite=cat >/dev/null",
            "can_write=exit 0",
            "can_flush=exit 0",
            "flush=exit 0",
        ],
    ).start()
    try:
        with pytest.raises(VerificationError) as info:
            datamover.copy(src.uri, lying.uri, verify=True)
    finally:
        lying.stop()

    assert info.value.offset == 0
    assert info.value.operation == "verify"
    assert info.value.result.first_difference == 0
    assert "differs from source at offset 0" in str(info.value)


def test_smaller_target_is_a_mismatch(vm_disk, image, serve):
    smaller = image("smaller.img", vm_disk.size - MiB)
    result = datamover.verify(serve(vm_disk, readonly=True).uri, serve(smaller).uri)
    assert not result.matched
    assert result.mismatch == (vm_disk.size - MiB, MiB)
    assert "smaller" in result.reason
