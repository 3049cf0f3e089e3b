"""Failing servers: a copy either completes identical or fails loudly with the offset."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

import datamover
from datamover import CopyError

from .conftest import KiB, MiB, random_bytes

pytestmark = pytest.mark.integration

DATA_AT = 5 * MiB + 64 * KiB


@pytest.fixture
def one_extent_disk(image, rng):
    """Data only at DATA_AT, so the first write the target sees is there."""
    disk = image("source.img", 16 * MiB)
    disk.write(DATA_AT, random_bytes(rng, 128 * KiB))
    return disk


def test_target_write_error_fails_with_offset_and_server_message(one_extent_disk, image, serve, tmp_path, copy_mode):
    target = image("target.img", one_extent_disk.size)
    src = serve(one_extent_disk, readonly=True)
    dst = serve(target, filters=["error"], args=["error-pwrite-rate=100%", "error-pwrite=ENOSPC"])
    checkpoint = str(tmp_path / "copy.checkpoint")

    started = time.monotonic()
    with pytest.raises(CopyError) as info:
        datamover.copy(src.uri, dst.uri, retries=2, retry_delay=0.05, checkpoint=checkpoint, checkpoint_interval=0.01,
                       **copy_mode)

    error = info.value
    assert error.offset == DATA_AT
    assert error.length == 128 * KiB
    assert error.operation == "write"
    assert error.uri == dst.uri
    assert error.attempts == 3
    assert "No space left on device" in error.server_message
    assert f"offset {DATA_AT}" in str(error)
    assert time.monotonic() - started < 5
    # Nothing claims the failed range was copied.
    if os.path.exists(checkpoint):
        done = json.load(open(checkpoint))["done"]
        assert not any(start <= DATA_AT < start + length for start, length in done)
    # The aborted copy left both servers healthy (nbdkit 1.32 aborts if a client drops
    # a connection with replies still due) and the source serves the next attempt.
    assert src.running and dst.running
    retry_target = image("retry.img", one_extent_disk.size)
    datamover.copy(src.uri, serve(retry_target).uri)
    assert retry_target.sha256() == one_extent_disk.sha256()


def test_source_read_error_fails_with_offset(one_extent_disk, image, serve):
    target = image("target.img", one_extent_disk.size)
    src = serve(one_extent_disk, readonly=True, filters=["error"], args=["error-pread-rate=100%"])

    with pytest.raises(CopyError) as info:
        datamover.copy(src.uri, serve(target).uri, retries=1, retry_delay=0.01)

    assert info.value.offset == DATA_AT
    assert info.value.operation == "read"
    assert info.value.uri == src.uri
    assert "Input/output error" in info.value.server_message


def test_transient_errors_are_retried_and_the_copy_completes(vm_disk, image, serve, tmp_path, copy_mode):
    target = image("target.img", vm_disk.size)
    trouble = tmp_path / "trouble"
    trouble.touch()
    src = serve(vm_disk, readonly=True)
    dst = serve(target, filters=["error"], args=["error-rate=100%", f"error-file={trouble}"])
    # The storage recovers 0.3 s into the copy.
    threading.Timer(0.3, trouble.unlink).start()

    result = datamover.copy(src.uri, dst.uri, retries=5, retry_delay=0.1, **copy_mode)

    assert result.retries > 0
    assert target.sha256() == vm_disk.sha256()


def test_target_server_dying_fails_the_copy_after_bounded_retries(image, serve, rng, copy_mode):
    source = image("source.img", 32 * MiB)
    source.write(0, random_bytes(rng, 32 * MiB))
    target = image("target.img", source.size)
    src, dst = serve(source, readonly=True), serve(target)
    killed = threading.Event()

    def kill_target(report):
        if report.bytes_copied >= 4 * MiB and not killed.is_set():
            killed.set()
            dst.kill()

    started = time.monotonic()
    with pytest.raises(CopyError) as info:
        datamover.copy(src.uri, dst.uri, bandwidth=16 * MiB, progress=kill_target, progress_interval=0.01,
                       retries=2, retry_delay=0.05, **copy_mode)

    assert killed.is_set()
    error = info.value
    assert error.uri == dst.uri
    # The request that ran out of retries (workers copy different stripes, so it may be early in the disk).
    assert error.offset is None or (error.offset % MiB == 0 and error.offset < 32 * MiB)
    assert "connect" in str(error).lower()
    assert time.monotonic() - started < 10


def test_server_restarted_mid_copy_is_reconnected(image, serve, rng, copy_mode):
    """A dropped connection to a server that comes back is retried on a new connection."""
    source = image("source.img", 24 * MiB)
    source.write(0, random_bytes(rng, 24 * MiB))
    target = image("target.img", source.size)
    src = serve(source, readonly=True)
    dst = serve(target, tcp=True)
    port = dst.port
    restarted = []

    def bounce_target(report):
        if report.bytes_copied >= 4 * MiB and not restarted:
            dst.kill()
            restarted.append(serve(target, tcp=True, port=port))

    result = datamover.copy(src.uri, dst.uri, bandwidth=24 * MiB, progress=bounce_target, progress_interval=0.01,
                            retries=5, retry_delay=0.05, **copy_mode)

    assert restarted and result.reconnects >= 1
    assert target.sha256() == source.sha256()


def test_hung_server_fails_the_copy_instead_of_hanging(one_extent_disk, image, serve):
    target = image("target.img", one_extent_disk.size)
    src = serve(one_extent_disk, readonly=True)
    hung = serve(target, filters=["delay"], args=["delay-write=30"])

    started = time.monotonic()
    with pytest.raises(CopyError) as info:
        datamover.copy(src.uri, hung.uri, stall_timeout=1.0)

    assert info.value.operation == "timeout"
    assert info.value.uri == hung.uri
    assert "no reply from the target" in str(info.value)
    assert time.monotonic() - started < 5
