"""Progress reports and the bandwidth cap, as an operator watching a copy sees them."""

from __future__ import annotations

import json

import pytest

import datamover

from .conftest import MiB, random_bytes

pytestmark = pytest.mark.integration


@pytest.fixture
def data_disk(image, rng):
    disk = image("source.img", 40 * MiB)
    disk.write(0, random_bytes(rng, 24 * MiB))
    return disk


@pytest.mark.slow
@pytest.mark.parametrize("cap", [8 * MiB, 20 * MiB])
def test_bandwidth_cap_holds_within_ten_percent(data_disk, image, serve, cap, copy_mode):
    target = image("target.img", data_disk.size)

    result = datamover.copy(serve(data_disk, readonly=True).uri, serve(target).uri, bandwidth=cap, **copy_mode)

    rate = result.bytes_read / result.seconds
    assert 0.9 * cap <= rate <= 1.1 * cap, f"{rate / MiB:.2f} MiB/s against a cap of {cap / MiB:.0f} MiB/s"
    assert target.sha256() == data_disk.sha256()


def test_progress_callback_and_jsonl(data_disk, image, serve, tmp_path, copy_mode):
    target = image("target.img", data_disk.size)
    jsonl = tmp_path / "progress.jsonl"
    reports = []

    result = datamover.copy(
        serve(data_disk, readonly=True).uri,
        serve(target).uri,
        progress=reports.append,
        progress_jsonl=str(jsonl),
        bandwidth=16 * MiB,
        **copy_mode,
    )

    assert len(reports) >= 4
    done = [r.bytes_done for r in reports]
    assert done == sorted(done)
    assert all(r.bytes_total == data_disk.size for r in reports)
    final = reports[-1]
    assert final.phase == "done" and final.bytes_done == data_disk.size and final.percent == 100.0
    assert final.bytes_copied == result.bytes_copied
    middle = [r for r in reports if r.phase == "copying" and 0 < r.bytes_done < data_disk.size]
    assert middle, "no report while copying"
    assert all(r.eta_seconds is not None and r.current_mbps > 0 for r in middle[1:])
    # Data moves at the 16 MiB/s cap (16.8 MB/s); speeds also count zeroed bytes, so they are at least that.
    last = middle[-1]
    assert 12 < last.bytes_copied / last.elapsed_seconds / 1e6 < 20
    assert last.average_mbps >= 12
    # Throttled: at most ~4 reports a second, plus the phase changes.
    assert len(reports) <= result.seconds * 4 + 4

    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == len(reports)
    assert lines[-1]["phase"] == "done" and lines[-1]["percent"] == 100.0
    assert {"bytes_done", "bytes_total", "current_mbps", "average_mbps", "eta_seconds", "time"} <= set(lines[0])


def test_verification_progress_keeps_the_copy_counters(data_disk, image, serve):
    target = image("target.img", data_disk.size)
    src, dst = serve(data_disk, readonly=True), serve(target)
    reports = []

    result = datamover.copy(src.uri, dst.uri, verify=True, progress=reports.append, progress_interval=0.0)

    verifying = [r for r in reports if r.phase == "verifying"]
    assert verifying, "no report during verification"
    # The agent records bytes_copied from every report: verification must not reset it.
    assert all(r.bytes_copied == result.bytes_copied and r.bytes_done == data_disk.size for r in verifying)
    assert verifying[-1].phase_bytes_done == verifying[-1].phase_bytes_total == data_disk.size
    assert reports[-1].phase == "done"

    alone = []
    datamover.verify(src.uri, dst.uri, progress=alone.append, progress_interval=0.0)
    assert alone and all(r.phase == "verifying" for r in alone)
    assert alone[-1].bytes_done == alone[-1].bytes_total == data_disk.size
    assert [r.bytes_done for r in alone] == sorted(r.bytes_done for r in alone)
