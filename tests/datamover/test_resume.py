"""Checkpoints: a killed or cancelled copy resumes and copies only what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import datamover
from datamover import CheckpointMismatch

from .conftest import MiB, random_bytes

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def big_disk(image, rng):
    # 512 MiB (mostly holes): big enough for a copy to use two connections when asked.
    disk = image("source.img", 512 * MiB)
    disk.write(0, random_bytes(rng, 24 * MiB))
    disk.write(400 * MiB, random_bytes(rng, 8 * MiB))
    disk.data_bytes = 32 * MiB
    return disk


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _capped_copy(src, dst, checkpoint: str, progress: str, *, checkpoint_interval: str,
                 connections: str) -> subprocess.Popen:
    """`datamover copy` in its own process, capped at 16 MiB/s so a test can interrupt it midway."""
    return subprocess.Popen(
        [sys.executable, "-m", "datamover", "copy", src.uri, dst.uri, "--checkpoint", checkpoint,
         "--checkpoint-interval", checkpoint_interval, "--progress-jsonl", progress, "--bandwidth", "16M",
         "--connections", connections],
        cwd=REPO,
    )


def _checkpoint_bytes(path: str) -> int:
    try:
        with open(path) as fh:
            return json.load(fh)["bytes_done"]
    except (FileNotFoundError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("connections", ["1", "2"])
def test_resume_after_sigkill_ends_identical_and_copies_less(big_disk, image, serve, tmp_path, connections):
    target = image("target.img", big_disk.size)
    src, dst = serve(big_disk, readonly=True), serve(target)
    checkpoint = str(tmp_path / "copy.checkpoint")
    progress = str(tmp_path / "progress.jsonl")
    # Capped at 16 MiB/s the 32 MiB of data take ~2 s: time to kill it halfway.
    child = _capped_copy(src, dst, checkpoint, progress, checkpoint_interval="0.2", connections=connections)
    try:
        _wait_for(lambda: _checkpoint_bytes(checkpoint) >= 8 * MiB, 20, "a checkpoint with progress")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    saved = json.load(open(checkpoint))
    assert not saved["complete"] and 0 < saved["bytes_done"] < big_disk.size

    result = datamover.copy(src.uri, dst.uri, checkpoint=checkpoint)

    assert target.sha256() == big_disk.sha256()
    assert result.bytes_skipped >= saved["bytes_done"]
    assert result.bytes_copied < big_disk.data_bytes
    assert result.bytes_copied + result.bytes_zeroed + result.bytes_skipped == big_disk.size
    assert json.load(open(checkpoint))["complete"] is True
    lines = [json.loads(line) for line in open(progress)]
    assert lines and lines[-1]["bytes_done"] < big_disk.size  # the killed run never finished


def test_completed_checkpoint_makes_a_rerun_a_no_op(big_disk, image, serve, tmp_path, copy_mode):
    target = image("target.img", big_disk.size)
    src, dst = serve(big_disk, readonly=True), serve(target)
    checkpoint = str(tmp_path / "copy.checkpoint")

    first = datamover.copy(src.uri, dst.uri, checkpoint=checkpoint, **copy_mode)
    again = datamover.copy(src.uri, dst.uri, checkpoint=checkpoint, verify=True)

    assert first.bytes_copied == big_disk.data_bytes
    assert again.bytes_skipped == big_disk.size and again.bytes_copied == 0
    assert again.verified is True


def test_cancel_from_progress_callback_keeps_a_checkpoint(big_disk, image, serve, tmp_path, copy_mode):
    target = image("target.img", big_disk.size)
    src, dst = serve(big_disk, readonly=True), serve(target)
    checkpoint = str(tmp_path / "copy.checkpoint")

    class Cancelled(Exception):
        pass

    def cancel_halfway(report):
        if report.bytes_copied >= 12 * MiB:
            raise Cancelled

    with pytest.raises(Cancelled):
        datamover.copy(src.uri, dst.uri, checkpoint=checkpoint, progress=cancel_halfway,
                       progress_interval=0.01, bandwidth=32 * MiB, **copy_mode)
    saved = _checkpoint_bytes(checkpoint)
    assert saved >= 12 * MiB

    result = datamover.copy(src.uri, dst.uri, checkpoint=checkpoint, **copy_mode)
    assert result.bytes_skipped == saved
    assert target.sha256() == big_disk.sha256()


def test_checkpoint_of_another_copy_is_refused(big_disk, image, serve, tmp_path):
    target = image("target.img", big_disk.size)
    src, dst = serve(big_disk, readonly=True), serve(target)
    checkpoint = str(tmp_path / "copy.checkpoint")
    datamover.copy(src.uri, dst.uri, [(0, MiB)], checkpoint=checkpoint)

    with pytest.raises(CheckpointMismatch, match="belongs to another copy"):
        datamover.copy(src.uri, dst.uri, [(0, 2 * MiB)], checkpoint=checkpoint)

    open(checkpoint, "w").write("{not json")
    with pytest.raises(CheckpointMismatch, match="unreadable"):
        datamover.copy(src.uri, dst.uri, [(0, MiB)], checkpoint=checkpoint)


def _jsonl_copied(path: str) -> int:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return 0
    return json.loads(lines[-1])["bytes_copied"] if lines else 0


@pytest.mark.parametrize("connections", ["1", "2"])
def test_sigterm_saves_a_checkpoint_before_exiting(big_disk, image, serve, tmp_path, connections):
    target = image("target.img", big_disk.size)
    src, dst = serve(big_disk, readonly=True), serve(target)
    checkpoint = str(tmp_path / "copy.checkpoint")
    progress = str(tmp_path / "progress.jsonl")
    # No periodic checkpoint: whatever the file holds was saved on the way out.
    child = _capped_copy(src, dst, checkpoint, progress, checkpoint_interval="3600", connections=connections)
    try:
        _wait_for(lambda: _jsonl_copied(progress) >= 8 * MiB, 20, "progress past 8 MiB")
        child.send_signal(signal.SIGTERM)
        assert child.wait(10) == 128 + signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    saved = _checkpoint_bytes(checkpoint)
    assert saved >= 8 * MiB

    result = datamover.copy(src.uri, dst.uri, checkpoint=checkpoint)
    assert result.bytes_skipped == saved
    assert target.sha256() == big_disk.sha256()
