"""Seed 002 (the agent API): every request and response example, replayed against the agent process.

The agent runs as a process next to vcsim (tests/agent/vmlab.py) with a default vCenter account, as installed; its
control plane is the stand-in that records what the agent reports. The seed's vCenter, its credentials and its
datacenter ("quad-vcenter-01.quadris.local", "DatabanxDC") are replaced by vcsim's; the seed's VM PGWINTESTBIOS is
made in vcsim with one disk.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from datamover.nbdkit import file_server
from lab.vcsim import write_random
from tests.agent.conftest import agent_env
from tests.agent.vmlab import AgentProcess, MiB, VmSpec, create_vm, flat_file, vm_disks
from tests.contracts.shape import assert_seed_answer

pytestmark = [pytest.mark.integration]

JOB_ID = "repl-vm-143233-1754407216"

# --- examples copied from seed 002 ---------------------------------------------------------------------------------

# "1. Health Check"
HEALTH_RESPONSE = {"status": "healthy", "timestamp": "2025-08-05T15:00:21Z", "uptime": "691ns"}

# "2. Cleanup Operations"
CLEANUP_REQUEST = {"job_id": "repl-vm-143233-1754407216", "action": "delete_snapshot"}
CLEANUP_RESPONSE = {"job_id": "repl-vm-143233-1754407216", "action": "delete_snapshot", "status": "success"}
CLEANUP_ERROR = {"job_id": "repl-vm-143233-1754407216", "action": "delete_snapshot", "status": "error",
                 "message": "snapshot deletion not implemented - manual cleanup required for job "
                            "repl-vm-143233-1754407216"}
# "Testing" / "Cleanup Test"
CLEANUP_TEST_REQUEST = {"job_id": "test-123", "action": "delete_snapshot"}

# "3. Status Reporting"
STATUS_RESPONSE = {"job_id": "repl-vm-143233-1754407216", "status": "running", "progress_percent": 85.2,
                   "current_operation": "Copying VM data"}
STATUS_VALUES = {"pending", "running", "completed", "failed"}

# "4. Configuration Updates"
CONFIG_REQUEST = {"nbd_port": 10813, "export_name": "migration-repl-vm-143233-1754407216", "target_device": "/dev/vdi"}
CONFIG_RESPONSE = {"status": "updated", "config": {"nbd_port": 10813, "export_name": "migration-repl-vm-143233-1754407216",
                                                   "target_device": "/dev/vdi"}}

# "5. VM Discovery (OMA-initiated)"
DISCOVER_REQUEST = {"vcenter": "quad-vcenter-01.quadris.local", "username": "administrator@vsphere.local",
                    "password": "EmyGVoBFesGQc47-", "datacenter": "DatabanxDC", "filter": "PGWINTESTBIOS"}
DISCOVER_RESPONSE = {"vcenter": {"host": "quad-vcenter-01.quadris.local", "datacenter": "DatabanxDC"},
                     "vms": [{"id": "vm-143233", "name": "PGWINTESTBIOS", "path": "/DatabanxDC/vm/PGWINTESTBIOS",
                              "power_state": "poweredOn", "guest_os": "windows2019srvNext_64Guest", "memory_mb": 8192,
                              "num_cpu": 4}]}

# "6. Start Replication (OMA-initiated)"
REPLICATE_REQUEST = {"job_id": "repl-vm-143233-1754407216", "vcenter": "quad-vcenter-01.quadris.local",
                     "username": "administrator@vsphere.local", "password": "EmyGVoBFesGQc47-",
                     "vm_paths": ["/DatabanxDC/vm/PGWINTESTBIOS"], "oma_url": "http://10.245.246.125:8082"}
REPLICATE_RESPONSE = {"job_id": "repl-vm-143233-1754407216", "status": "started", "vm_count": 1,
                      "started_at": "2025-08-05T15:30:00Z"}

# "Error Handling" / "Common Error Responses"
COMMON_ERROR = {"error": "Invalid job_id format", "code": "INVALID_REQUEST", "timestamp": "2025-08-05T15:00:21Z"}


# --- the agent and the seed's VM -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_agent(configured_agent: AgentProcess) -> AgentProcess:
    """This module's own agent (the seed's PUT /config changes its state), with a default vCenter account."""
    return configured_agent


@pytest.fixture(scope="module")
def seed_source(si: Any) -> Path:
    """PGWINTESTBIOS in vcsim (one 8 MiB disk with data); its disk's flat file."""
    vm = create_vm(si, VmSpec("PGWINTESTBIOS", disks_mb=[8]))
    flat = flat_file(si, vm_disks(vm)[0].backing.fileName)
    write_random(flat, 0, 256 * 1024, seed=21)
    write_random(flat, 5 * MiB, 64 * 1024, seed=22)
    return flat


def lab_vcenter(sim: Any, body: dict) -> dict:
    """The seed's body with vcsim in place of the seed author's vCenter."""
    return body | {"vcenter": f"{sim.host}:{sim.port}", "username": sim.username, "password": sim.password}


def url(agent: AgentProcess, path: str) -> str:
    return f"{agent.url}/api/v1/{path}"


# --- replays ---------------------------------------------------------------------------------------------------------

def test_health(seed_agent):
    body = assert_seed_answer(requests.get(url(seed_agent, "health"), timeout=5), 200, HEALTH_RESPONSE)
    assert body["status"] == "healthy"


def test_discover(seed_agent, sim, seed_source):
    request = lab_vcenter(sim, DISCOVER_REQUEST) | {"datacenter": "DC0"}
    body = assert_seed_answer(requests.post(url(seed_agent, "discover"), json=request, timeout=60), 200,
                              DISCOVER_RESPONSE, nonempty=("vms",))
    assert [vm["name"] for vm in body["vms"]] == ["PGWINTESTBIOS"]
    assert body["vms"][0]["path"] == "/DC0/vm/PGWINTESTBIOS" and body["vcenter"]["datacenter"] == "DC0"


def test_config_update(seed_agent):
    body = assert_seed_answer(requests.put(url(seed_agent, "config"), json=CONFIG_REQUEST, timeout=5), 200,
                              CONFIG_RESPONSE)
    assert body["config"] == CONFIG_REQUEST


def test_replicate_the_seeds_body_to_the_configured_export_then_clean_up(seed_agent, sim, seed_source, control_plane, tmp_path):
    # The seed's flow: the control plane sets the export up (PUT /config), then asks for the replication with a body
    # that names no disks. The export is an nbdkit file server on the port PUT /config names.
    target = tmp_path / "target.img"
    with open(target, "wb") as handle:
        handle.truncate(8 * MiB)
    server = file_server(str(target), tcp=True).start()
    try:
        config = CONFIG_REQUEST | {"nbd_port": server.port}
        assert requests.put(url(seed_agent, "config"), json=config, timeout=5).status_code == 200
        request = lab_vcenter(sim, REPLICATE_REQUEST) | {"vm_paths": ["/DC0/vm/PGWINTESTBIOS"],
                                                         "oma_url": control_plane.url}
        body = assert_seed_answer(requests.post(url(seed_agent, "replicate"), json=request, timeout=30), 200,
                                  REPLICATE_RESPONSE)
        assert body["job_id"] == JOB_ID and body["status"] == "started" and body["vm_count"] == 1

        status = wait_finished(seed_agent, JOB_ID)
        assert status["status"] == "completed", status
        assert_seed_answer(requests.get(url(seed_agent, f"status/{JOB_ID}"), timeout=5), 200, STATUS_RESPONSE)
        assert target.read_bytes() == seed_source.read_bytes()
        assert control_plane.change_ids  # the change id was stored once the disk was written

        # The cleanup of the replicated job: the job is known; its snapshot was already removed, which the cleanup
        # confirms. (Here, not in a test of its own: under xdist another worker's agent would not know the job.)
        response = requests.post(url(seed_agent, "cleanup"), json=CLEANUP_REQUEST, timeout=60)
        body = assert_seed_answer(response, 200, CLEANUP_RESPONSE)
        assert body["status"] == "success" and body["removed_snapshots"] == []
    finally:
        server.stop()


def wait_finished(agent: AgentProcess, job_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = requests.get(url(agent, f"status/{job_id}"), timeout=5).json()
        assert status["status"] in STATUS_VALUES | {"cancelled"}, status
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {status} after {timeout}s")


def test_replicate_without_disks_or_configured_export_is_refused(sim, si, control_plane, tmp_path):
    # A fresh agent has no export configured: the seed's body cannot say where to write.
    proc = AgentProcess(agent_env(sim, si, tmp_path / "state", control_plane), tmp_path / "agent.log").start()
    try:
        request = lab_vcenter(sim, REPLICATE_REQUEST) | {"job_id": "repl-no-export-1"}
        body = assert_seed_answer(requests.post(url(proc, "replicate"), json=request, timeout=30), 400, COMMON_ERROR)
        assert "PUT /api/v1/config" in body["error"] and body["code"] == "INVALID_REQUEST"
    finally:
        proc.stop()


def test_cleanup_error(seed_agent):
    # "Cleanup Test": a job the agent never ran and that left no snapshot anywhere in the vCenter.
    response = requests.post(url(seed_agent, "cleanup"), json=CLEANUP_TEST_REQUEST, timeout=60)
    body = assert_seed_answer(response, 404, CLEANUP_ERROR)
    assert (body["job_id"], body["action"], body["status"]) == ("test-123", "delete_snapshot", "error")
    assert "test-123" in body["message"] and body["code"] == "JOB_NOT_FOUND"


def test_status_of_an_unknown_job(seed_agent):
    body = assert_seed_answer(requests.get(url(seed_agent, "status/repl-vm-unknown-1"), timeout=5), 404, COMMON_ERROR)
    assert body["code"] == "JOB_NOT_FOUND"


def test_common_error_for_a_bad_job_id(seed_agent):
    body = assert_seed_answer(requests.get(url(seed_agent, "status/bad%20id!"), timeout=5), 400, COMMON_ERROR)
    assert body == body | {"error": "Invalid job_id format", "code": "INVALID_REQUEST"}
