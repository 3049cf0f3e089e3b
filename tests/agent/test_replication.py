"""The agent side of replication, end to end through the agent API: vcsim, the agent, nbdkit
targets over sparse files and a stand-in control plane are all real processes/servers."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from datamover.nbdkit import NbdkitServer, file_server
from lab.vcsim import CBT_BLOCK_SIZE, write_random
from tests.agent.conftest import agent_env
from tests.agent.vmlab import (
    AgentProcess,
    FakeControlPlane,
    MiB,
    VmSpec,
    create_vm,
    find_vm,
    flat_file,
    snapshot_names,
    vm_disks,
    wait_task,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Target = Callable[..., tuple[Path, NbdkitServer]]


def wait_job(api_url: str, job_id: str, timeout: float = 90.0,
             until: tuple[str, ...] = ("completed", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = requests.get(f"{api_url}/api/v1/status/{job_id}", timeout=5).json()
        if status["status"] in until:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {status} after {timeout}s")


def progress_of(api_url: str, job_id: str) -> dict:
    return requests.get(f"{api_url}/api/v1/progress/{job_id}", timeout=5).json()


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[Target]:
    """Start an nbdkit file server over a sparse file (kept across restarts of the server)."""
    servers: list[NbdkitServer] = []

    def start(name: str, size: int, **kwargs: Any) -> tuple[Path, NbdkitServer]:
        path = tmp_path / name
        if not path.exists():
            with open(path, "wb") as fh:
                fh.truncate(size)
        server = file_server(str(path), **kwargs).start()
        servers.append(server)
        return path, server

    yield start
    for server in servers:
        server.stop()


def replicate(api_url: str, vcenter: dict, job_id: str, vm_path: str, disks: list[dict], cp: FakeControlPlane,
              replication_type: str = "incremental") -> dict:
    body = {"job_id": job_id, **vcenter, "datacenter": "DC0", "vm_paths": [vm_path],
            "replication_type": replication_type, "disks": disks, "oma_url": cp.url}
    response = requests.post(f"{api_url}/api/v1/replicate", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def stored_ids(cp: FakeControlPlane, vm_path: str) -> dict[str, str]:
    return {disk: change for (path, disk), change in cp.change_ids.items() if path == vm_path}


def test_initial_then_incremental_sync(agent: AgentProcess, vcenter: dict, si: Any,
                                       control_plane: FakeControlPlane, target: Target) -> None:
    vm = create_vm(si, VmSpec("repl-01", disks_mb=[16, 8]))
    d0, d1 = vm_disks(vm)
    flat0, flat1 = flat_file(si, d0.backing.fileName), flat_file(si, d1.backing.fileName)
    write_random(flat0, 0, 300_000, seed=10)
    write_random(flat0, 9 * MiB, 2 * MiB, seed=11)
    write_random(flat1, 5 * MiB + 7, 4096, seed=12)
    t0, unix_server = target("t0.img", 16 * MiB)
    t1, tcp_server = target("t1.img", 8 * MiB, tcp=True)
    disks = [
        {"disk_id": "disk-0", "unit_number": 0, "target": {"nbd_uri": unix_server.uri}},
        {"disk_id": "disk-1", "target": {"host": "127.0.0.1", "port": tcp_server.port, "export_name": ""}},
    ]

    started = time.monotonic()
    answer = replicate(agent.url, vcenter, "repl-initial-1", "/DC0/vm/repl-01", disks, control_plane, "initial")
    assert time.monotonic() - started < 2  # answers at once, the job runs in the background
    assert answer["job_id"] == "repl-initial-1" and answer["status"] == "started" and answer["vm_count"] == 1
    status = wait_job(agent.url, "repl-initial-1")
    assert status["status"] == "completed", status
    assert status["progress_percent"] == 100.0 and status["sync_type"] == "full"

    assert t0.read_bytes() == flat0.read_bytes()
    assert t1.read_bytes() == flat1.read_bytes()
    assert snapshot_names(vm) == []
    assert vm.config.changeTrackingEnabled is True

    progress = progress_of(agent.url, "repl-initial-1")
    assert progress["cbt_enabled_by_job"] is True and "first sync" in progress["full_sync_reason"]
    assert progress["vm"] == {"id": vm._moId, "path": "/DC0/vm/repl-01", "name": "repl-01"}
    assert [d["status"] for d in progress["disks"]] == ["completed", "completed"]
    assert [d["device_key"] for d in progress["disks"]] == [d0.key, d1.key]
    # '*' reports the allocated 64 KiB blocks: 300,000 bytes -> 5 blocks, plus 2 MiB at 9 MiB.
    assert progress["disks"][0]["allocated_bytes"] == 5 * CBT_BLOCK_SIZE + 2 * MiB
    assert progress["disks"][0]["bytes_total"] == 16 * MiB  # a full sync covers the whole disk
    first_ids = stored_ids(control_plane, "/DC0/vm/repl-01")
    assert set(first_ids) == {"disk-0", "disk-1"}
    assert [d["change_id"] for d in progress["disks"]] == [first_ids["disk-0"], first_ids["disk-1"]]

    pushed = control_plane.progress["repl-initial-1"]
    assert pushed[-1]["status"] == "completed" and pushed[-1]["progress_percent"] == 100.0
    for report in pushed:
        assert {"job_id", "status", "current_operation", "progress_percent", "bytes_total", "bytes_transferred",
                "throughput_mbps", "eta_seconds", "disks", "sync_type"} <= set(report)
    # The change ids were stored after the copy's progress, never before.
    store_times = [r["time"] for r in control_plane.calls("POST", "/api/v1/replications/repl-initial-1/changeid")]
    copying = [r["time"] for r in control_plane.calls("POST", "/api/v1/replications/repl-initial-1/progress")
               if r["body"]["current_operation"].startswith("Copying")]
    assert store_times and (not copying or max(copying) < min(store_times))

    # The guest writes into two blocks of disk 0; disk 1 is untouched.
    write_random(flat0, 4 * CBT_BLOCK_SIZE + 100, 10, seed=20)
    write_random(flat0, 200 * CBT_BLOCK_SIZE, CBT_BLOCK_SIZE, seed=21)
    replicate(agent.url, vcenter, "repl-incr-1", "/DC0/vm/repl-01", disks, control_plane)
    status = wait_job(agent.url, "repl-incr-1")
    assert status["status"] == "completed", status
    assert status["sync_type"] == "incremental"
    assert t0.read_bytes() == flat0.read_bytes()
    assert t1.read_bytes() == flat1.read_bytes()
    per_disk = {d["disk_id"]: d for d in progress_of(agent.url, "repl-incr-1")["disks"]}
    assert per_disk["disk-0"]["sync_type"] == "incremental"
    assert per_disk["disk-0"]["bytes_total"] == 2 * CBT_BLOCK_SIZE
    # Only the two changed blocks went over the wire (parts of them that read as zeros as zero requests).
    assert per_disk["disk-0"]["bytes_copied"] + per_disk["disk-0"]["bytes_zeroed"] == 2 * CBT_BLOCK_SIZE
    assert per_disk["disk-0"]["bytes_copied"] >= CBT_BLOCK_SIZE + 10
    assert per_disk["disk-1"]["bytes_total"] == 0 and per_disk["disk-1"]["bytes_copied"] == 0
    second_ids = stored_ids(control_plane, "/DC0/vm/repl-01")
    assert second_ids["disk-0"] != first_ids["disk-0"] and second_ids["disk-1"] != first_ids["disk-1"]
    lookups = [r["query"]["disk_id"][0] for r in control_plane.calls("GET", "/api/v1/replications/changeid")
               if r["query"]["vm_path"] == ["/DC0/vm/repl-01"]]
    assert sorted(lookups) == ["disk-0", "disk-1"]
    assert snapshot_names(vm) == []


def test_failed_copy_removes_snapshot_and_keeps_change_id(agent: AgentProcess, vcenter: dict, si: Any,
                                                          control_plane: FakeControlPlane, target: Target,
                                                          tmp_path: Path) -> None:
    vm = create_vm(si, VmSpec("repl-02", disks_mb=[4]))
    wait_task(vm.PowerOnVM_Task())
    flat = flat_file(si, vm_disks(vm)[0].backing.fileName)
    write_random(flat, 0, MiB, seed=30)
    _, server = target("t.img", 4 * MiB)
    disks = [{"disk_id": "disk-0", "target": {"nbd_uri": server.uri}}]
    # A live failover's final sync: the source is shut down before its snapshot.
    body = {"job_id": "repl-fail-0", **vcenter, "vm": {"path": "/DC0/vm/repl-02"}, "replication_type": "initial",
            "disks": disks, "oma_url": control_plane.url, "power_off_source": True}
    assert requests.post(f"{agent.url}/api/v1/replicate", json=body, timeout=10).status_code == 200
    assert wait_job(agent.url, "repl-fail-0")["status"] == "completed"
    assert vm.runtime.powerState == "poweredOff"
    before = dict(control_plane.change_ids)

    write_random(flat, 2 * MiB, 1000, seed=31)
    server.stop()  # the control plane's export went away
    replicate(agent.url, vcenter, "repl-fail-1", "/DC0/vm/repl-02", disks, control_plane)
    status = wait_job(agent.url, "repl-fail-1")
    assert status["status"] == "failed"
    assert "disk-0" in status["error"] and "fail" in status["error"].lower()
    assert snapshot_names(vm) == []
    assert control_plane.change_ids == before  # the old change id still stands
    assert control_plane.progress["repl-fail-1"][-1]["status"] == "failed"
    assert control_plane.progress["repl-fail-1"][-1]["error"] == status["error"]


def test_cleanup_all_cancels_a_running_job(agent: AgentProcess, vcenter: dict, si: Any,
                                           control_plane: FakeControlPlane, target: Target) -> None:
    vm = create_vm(si, VmSpec("repl-03", disks_mb=[64]))
    write_random(flat_file(si, vm_disks(vm)[0].backing.fileName), 0, 64 * MiB, seed=40)
    # nbdkit's rate is in bits per second: 64M is 8 MB/s, so the copy takes about 8 s.
    _, slow = target("slow.img", 64 * MiB, filters=["rate"], args=["rate=64M"])
    disks = [{"disk_id": "disk-0", "target": {"nbd_uri": slow.uri}}]
    replicate(agent.url, vcenter, "repl-cancel-1", "/DC0/vm/repl-03", disks, control_plane, "initial")
    wait_job(agent.url, "repl-cancel-1", until=("running",))
    deadline = time.monotonic() + 30
    while progress_of(agent.url, "repl-cancel-1")["bytes_transferred"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    running = progress_of(agent.url, "repl-cancel-1")
    assert running["status"] == "running" and running["current_operation"] == "Copying disk-0"
    assert running["throughput_mbps"] > 0 and running["eta_seconds"] is not None

    # Deleting the snapshot under a running copy is refused; cleanup_all stops the job first.
    refused = requests.post(f"{agent.url}/api/v1/cleanup",
                            json={"job_id": "repl-cancel-1", "action": "delete_snapshot"}, timeout=30)
    assert refused.status_code == 409 and refused.json()["code"] == "JOB_CONFLICT"
    started = time.monotonic()
    response = requests.post(f"{agent.url}/api/v1/cleanup", json={"job_id": "repl-cancel-1", "action": "cleanup_all"},
                             timeout=120)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 6  # the copy stops at its next progress report
    body = response.json()
    assert body["status"] == "success" and body["job_cancelled"] is True
    status = requests.get(f"{agent.url}/api/v1/status/repl-cancel-1", timeout=5).json()
    assert status["status"] == "cancelled"
    assert snapshot_names(vm) == []
    assert ("/DC0/vm/repl-03", "disk-0") not in control_plane.change_ids


@pytest.mark.parametrize("snapshot_survives", [True, False], ids=["agent-crash", "snapshot-removed"])
def test_retried_job_resumes_from_checkpoint(sim: Any, si: Any, vcenter: dict, control_plane: FakeControlPlane,
                                             target: Target, tmp_path: Path, snapshot_survives: bool) -> None:
    name = f"repl-resume-{int(snapshot_survives)}"
    vm = create_vm(si, VmSpec(name, disks_mb=[64]))
    flat = flat_file(si, vm_disks(vm)[0].backing.fileName)
    write_random(flat, 0, 64 * MiB, seed=50)
    state = tmp_path / "state"
    job_id = f"repl-resume-job-{int(snapshot_survives)}"
    disks_for = lambda server: [{"disk_id": "disk-0", "target": {"nbd_uri": server.uri}}]

    # First attempt: a slow target, and the agent dies once the copy has checkpointed some work.
    first = AgentProcess(agent_env(sim, si, state, control_plane), tmp_path / "agent1.log").start()
    try:
        path, slow = target("t.img", 64 * MiB, filters=["rate"], args=["rate=64M"])
        replicate(first.url, vcenter, job_id, f"/DC0/vm/{name}", disks_for(slow), control_plane, "initial")
        # Kept per VM disk (not per job), so a later job of the VM resumes it too.
        checkpoint = state / "resume" / f"{vm._moId}-disk-0.ckpt"
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert checkpoint.exists(), first.log_text()[-3000:]
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.stop()
    slow.stop()
    assert snapshot_names(vm) == [f"vma-{job_id}"]

    if not snapshot_survives:
        # As after a failure that cleaned up: the snapshot is gone and the guest writes on,
        # also into the part the first attempt already copied.
        snap = vm.snapshot.rootSnapshotList[0].snapshot
        wait_task(snap.RemoveSnapshot_Task(removeChildren=False))
        write_random(flat, 100, 5000, seed=51)
        write_random(flat, 60 * MiB, 10, seed=52)

    second = AgentProcess(agent_env(sim, si, state, control_plane), tmp_path / "agent2.log").start()
    try:
        path, fast = target("t.img", 64 * MiB)
        replicate(second.url, vcenter, job_id, f"/DC0/vm/{name}", disks_for(fast), control_plane, "initial")
        status = wait_job(second.url, job_id)
        assert status["status"] == "completed", second.log_text()[-3000:]
        disk = progress_of(second.url, job_id)["disks"][0]
        assert disk["bytes_skipped"] > 0  # resumed: the checkpointed part was not copied again
        assert path.read_bytes() == flat.read_bytes()
        assert snapshot_names(find_vm(si, name)) == []
        assert not checkpoint.exists() and not (state / f"{job_id}.json").exists()
        log = second.log_text()
        assert ("reusing snapshot of interrupted attempt" in log) == snapshot_survives
    finally:
        second.stop()


@pytest.mark.parametrize("change, message", [
    # No disks at all is seed 002's own body (tests/contracts): the agent then uses its configured export.
    ({"disks": "all"}, "disks"),
    ({"vm_paths": ["/DC0/vm/a", "/DC0/vm/b"]}, "one VM per replication job"),
    ({"vm_paths": None}, "name the VM"),
    ({"job_id": "bad id!"}, "job_id"),
    ({"replication_type": "differential"}, "replication_type"),
    ({"disks": [{"disk_id": "disk-0", "target": {"nbd_uri": "http://x"}}]}, "nbd_uri must be"),
    ({"disks": [{"disk_id": "disk-0", "target": {"host": "127.0.0.1"}}]}, "host and port"),
    ({"disks": [{"target": {"nbd_uri": "nbd://h/e"}}]}, "disk_id or unit_number"),
    ({"disks": [{"disk_id": "disk-0", "target": {"nbd_uri": "nbd://h/a"}},
                {"disk_id": "disk-0", "target": {"nbd_uri": "nbd://h/b"}}]}, "listed once"),
    ({"oma_url": "ftp://cp"}, "oma_url"),
])
def test_replicate_bad_input(agent: AgentProcess, vcenter: dict, change: dict, message: str) -> None:
    body = {"job_id": "repl-bad-1", **vcenter, "vm_paths": ["/DC0/vm/web-01"],
            "disks": [{"disk_id": "disk-0", "target": {"nbd_uri": "nbd://127.0.0.1:1/x"}}], **change}
    response = requests.post(f"{agent.url}/api/v1/replicate", json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_REQUEST" and message in response.json()["error"]
    assert vcenter["password"] not in response.text
    assert requests.get(f"{agent.url}/api/v1/status/repl-bad-1", timeout=5).status_code == 404


def test_unknown_disk_or_vm_fails_the_job_clearly(agent: AgentProcess, vcenter: dict, si: Any,
                                                  control_plane: FakeControlPlane) -> None:
    vm = create_vm(si, VmSpec("repl-04", disks_mb=[1, 1]))
    disks = [{"disk_id": "disk-9", "target": {"nbd_uri": "nbd://127.0.0.1:1/x"}}]
    replicate(agent.url, vcenter, "repl-nodisk-1", "/DC0/vm/repl-04", disks, control_plane)
    status = wait_job(agent.url, "repl-nodisk-1")
    assert status["status"] == "failed" and "disk disk-9 not found on the VM" in status["error"]
    assert "disk-1 (key" in status["error"]  # the error lists the disks that exist
    # A wrong request changes nothing on the VM: no snapshot, CBT left as it was.
    assert snapshot_names(vm) == [] and not vm.config.changeTrackingEnabled

    replicate(agent.url, vcenter, "repl-novm-1", "/DC0/vm/ghost", disks, control_plane)
    status = wait_job(agent.url, "repl-novm-1")
    assert status["status"] == "failed" and "VM '/DC0/vm/ghost' not found" in status["error"]


def test_sigterm_cancels_running_jobs_and_removes_their_snapshots(sim: Any, si: Any, vcenter: dict,
                                                                  control_plane: FakeControlPlane,
                                                                  target: Target, tmp_path: Path) -> None:
    vm = create_vm(si, VmSpec("repl-05", disks_mb=[64]))
    write_random(flat_file(si, vm_disks(vm)[0].backing.fileName), 0, 64 * MiB, seed=60)
    proc = AgentProcess(agent_env(sim, si, tmp_path / "state", control_plane), tmp_path / "agent.log").start()
    try:
        _, slow = target("t.img", 64 * MiB, filters=["rate"], args=["rate=64M"])
        replicate(proc.url, vcenter, "repl-term-1", "/DC0/vm/repl-05",
                  [{"disk_id": "disk-0", "target": {"nbd_uri": slow.uri}}], control_plane, "initial")
        deadline = time.monotonic() + 30
        while progress_of(proc.url, "repl-term-1")["bytes_transferred"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert snapshot_names(vm) == ["vma-repl-term-1"]
        proc.proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM after its clean shutdown; systemd counts that as a clean stop.
        assert proc.proc.wait(60) in (0, -signal.SIGTERM)
        assert "replication cancelled job_id=repl-term-1" in proc.log_text()
        assert snapshot_names(vm) == []
        assert control_plane.progress["repl-term-1"][-1]["status"] == "cancelled"
    finally:
        proc.stop()


def test_control_plane_cancels_through_progress_answer(agent: AgentProcess, vcenter: dict, si: Any,
                                                       control_plane: FakeControlPlane, target: Target) -> None:
    vm = create_vm(si, VmSpec("repl-06", disks_mb=[64]))
    write_random(flat_file(si, vm_disks(vm)[0].backing.fileName), 0, 64 * MiB, seed=70)
    _, slow = target("t.img", 64 * MiB, filters=["rate"], args=["rate=64M"])
    cancel = {"now": False}
    control_plane.override = lambda method, path: (
        (200, {"success": True, "status": "running", "cancel_requested": True})
        if cancel["now"] and path == "/api/v1/replications/repl-cpcancel-1/progress" else None)
    try:
        replicate(agent.url, vcenter, "repl-cpcancel-1", "/DC0/vm/repl-06",
                  [{"disk_id": "disk-0", "target": {"nbd_uri": slow.uri}}], control_plane, "initial")
        deadline = time.monotonic() + 30
        while progress_of(agent.url, "repl-cpcancel-1")["bytes_transferred"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        cancel["now"] = True
        status = wait_job(agent.url, "repl-cpcancel-1", timeout=30)
        assert status["status"] == "cancelled"
        assert snapshot_names(vm) == []
    finally:
        control_plane.override = None
