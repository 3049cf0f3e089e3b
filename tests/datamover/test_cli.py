"""``python -m datamover`` as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import KiB, MiB

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datamover", *args], cwd=REPO, capture_output=True, text=True, input=stdin, timeout=120
    )


def test_copy_then_verify(vm_disk, image, serve, tmp_path):
    target = image("target.img", vm_disk.size)
    src, dst = serve(vm_disk, readonly=True), serve(target)

    copied = run("copy", src.uri, dst.uri, "--json", "--verify", "--progress-jsonl", str(tmp_path / "p.jsonl"))
    assert copied.returncode == 0, copied.stderr
    result = json.loads(copied.stdout)
    assert result["verified"] is True and result["bytes_copied"] == vm_disk.data_bytes
    assert (tmp_path / "p.jsonl").read_text().strip().splitlines()[-1].startswith("{")

    checked = run("verify", src.uri, dst.uri)
    assert checked.returncode == 0 and "identical" in checked.stderr

    target.write(20 * MiB + 1024, b"\xee")
    checked = run("verify", src.uri, dst.uri, "--json")
    assert checked.returncode == 3
    assert json.loads(checked.stdout)["first_difference"] == 20 * MiB + 1024
    assert "DIFFERENT" in run("verify", src.uri, dst.uri).stderr


@pytest.mark.parametrize(
    "content",
    [
        json.dumps([[0, 65536], [3 * MiB, 4096]]),
        json.dumps({"changedArea": [{"start": 0, "length": 65536}, {"start": 3 * MiB, "length": 4096}]}),
        f"# offset length\n0 65536\n{3 * MiB} 4096\n",
    ],
    ids=["json-pairs", "vmware-changed-areas", "text"],
)
def test_copy_with_an_extents_file(vm_disk, image, serve, tmp_path, content):
    target = image("target.img", vm_disk.size)
    extents = tmp_path / "changed"
    extents.write_text(content)

    done = run("copy", serve(vm_disk, readonly=True).uri, serve(target).uri, "--extents", str(extents), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["incremental"] and result["bytes_total"] == 64 * KiB + 4096
    assert target.read(0, 64 * KiB) == vm_disk.read(0, 64 * KiB)
    assert target.read(64 * KiB, 3 * MiB - 64 * KiB) == bytes(3 * MiB - 64 * KiB)


def test_failures_have_distinct_exit_codes(vm_disk, image, serve, tmp_path):
    target = image("target.img", vm_disk.size)
    src = serve(vm_disk, readonly=True)
    failing = serve(target, filters=["error"], args=["error-pwrite-rate=100%"])

    failed = run("copy", src.uri, failing.uri, "--retries", "0", "--json")
    assert failed.returncode == 1
    error = json.loads(failed.stdout)
    # Several writes fail at once; the one reported is one of them, with its place on the disk.
    assert error["operation"] == "write" and 0 <= error["offset"] < vm_disk.size and error["length"] > 0
    assert f"offset {error['offset']}" in error["error"]
    assert "Input/output error" in error["server_message"]

    bad = tmp_path / "bad-extents"
    bad.write_text("0 4096 extra\n")
    assert run("copy", src.uri, failing.uri, "--extents", str(bad)).returncode == 2
    assert run("copy", src.uri, failing.uri, "--bandwidth", "fast").returncode == 2
    beyond = tmp_path / "beyond"
    beyond.write_text(f"{vm_disk.size} 4096\n")
    outcome = run("copy", src.uri, failing.uri, "--extents", str(beyond))
    assert outcome.returncode == 2 and "after the end of the disk" in outcome.stderr


def test_extents_from_stdin_and_size_suffixes(vm_disk, image, serve):
    target = image("target.img", vm_disk.size)
    done = run(
        "copy", serve(vm_disk, readonly=True).uri, serve(target).uri, "--extents", "-", "--request-size", "64K",
        "--bandwidth", "100MiB", "--json", stdin="0 1048576\n",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["request_size"] == 64 * KiB and result["bytes_copied"] == MiB
