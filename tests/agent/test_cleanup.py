"""Cleanup and power-off through the agent API (agent and vcsim as processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.agent.test_discovery import TIMESTAMP
from tests.agent.vmlab import (
    AgentProcess,
    VmSpec,
    create_vm,
    snapshot_names,
    wait_task,
)

pytestmark = pytest.mark.integration


def assert_error(response: requests.Response, status: int, code: str, contains: str = "") -> dict:
    """A refused cleanup: seed 002's cleanup error (job_id, action, status "error", message) and the common error
    keys beside it; a body that is not a cleanup request at all: the common error only."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and TIMESTAMP.match(body["timestamp"])
    assert contains.lower() in body["error"].lower(), body["error"]
    if status != 400:
        assert set(body) == {"job_id", "action", "status", "message", "error", "code", "timestamp"}
        assert body["status"] == "error" and body["message"] == body["error"]
    else:
        assert set(body) == {"error", "code", "timestamp"}
    return body


def snapshot(vm: Any, name: str) -> Any:
    return wait_task(vm.CreateSnapshot_Task(name=name, description="", memory=False, quiesce=False))


def test_delete_snapshot_with_seed_body_uses_configured_vcenter(configured_agent: AgentProcess, si: Any) -> None:
    a = create_vm(si, VmSpec("clean-a", disks_mb=[1]))
    b = create_vm(si, VmSpec("clean-b", disks_mb=[1]))
    snapshot(a, "vma-repl-vm-1-1754407216")
    snapshot(a, "keep-me")
    snapshot(b, "vma-repl-vm-1-1754407216")
    snapshot(b, "vma-repl-vm-1-17544072160")  # another job whose id merely starts the same

    response = requests.post(f"{configured_agent.url}/api/v1/cleanup",
                             json={"job_id": "repl-vm-1-1754407216", "action": "delete_snapshot"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job_id"] == "repl-vm-1-1754407216" and body["action"] == "delete_snapshot"
    assert body["status"] == "success"
    assert sorted(s["vm_id"] for s in body["removed_snapshots"]) == sorted([a._moId, b._moId])
    assert snapshot_names(a) == ["keep-me"]
    assert snapshot_names(b) == ["vma-repl-vm-1-17544072160"]

    again = requests.post(f"{configured_agent.url}/api/v1/cleanup",
                          json={"job_id": "repl-vm-1-1754407216", "action": "delete_snapshot"}, timeout=60)
    assert_error(again, 404, "JOB_NOT_FOUND", "repl-vm-1-1754407216")


def test_cleanup_all_removes_checkpoints_and_state(configured_agent: AgentProcess, si: Any) -> None:
    vm = create_vm(si, VmSpec("clean-c", disks_mb=[1]))
    snapshot(vm, "vma-job-files-1")
    state: Path = configured_agent.state_dir  # type: ignore[attr-defined]
    state.mkdir(parents=True, exist_ok=True)
    for name in ("job-files-1.json", "job-files-1-disk-0.ckpt", "job-files-1-disk-1.ckpt", "job-files-10.json"):
        (state / name).write_text("{}")
    response = requests.post(f"{configured_agent.url}/api/v1/cleanup",
                             json={"job_id": "job-files-1", "action": "cleanup_all", "vm": vm._moId}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted_files"] == ["job-files-1-disk-0.ckpt", "job-files-1-disk-1.ckpt", "job-files-1.json"]
    assert [s["name"] for s in body["removed_snapshots"]] == ["vma-job-files-1"]
    assert sorted(p.name for p in state.iterdir()) == ["job-files-10.json"]
    assert snapshot_names(vm) == []


def test_cleanup_with_request_credentials(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    vm = create_vm(si, VmSpec("clean-d", disks_mb=[1]))
    snapshot(vm, "vma-job-creds-1")
    response = requests.post(f"{agent.url}/api/v1/cleanup",
                             json={"job_id": "job-creds-1", "action": "delete_snapshot", **vcenter}, timeout=60)
    assert response.status_code == 200, response.text
    assert snapshot_names(vm) == []


def test_cleanup_errors(agent: AgentProcess, vcenter: dict) -> None:
    url = f"{agent.url}/api/v1/cleanup"
    # The session agent has no default vCenter and never ran this job.
    assert_error(requests.post(url, json={"job_id": "job-unknown-1", "action": "delete_snapshot"}, timeout=30),
                 404, "JOB_NOT_FOUND", "job-unknown-1")
    assert_error(requests.post(url, json={"job_id": "job-unknown-1", "action": "delete_snapshot", **vcenter},
                               timeout=30), 404, "JOB_NOT_FOUND", "no job, snapshot or checkpoint")
    assert_error(requests.post(url, json={"job_id": "job-1", "action": "explode"}, timeout=30),
                 400, "INVALID_REQUEST", "action")
    assert_error(requests.post(url, json={"action": "cleanup_all"}, timeout=30), 400, "INVALID_REQUEST", "job_id")
    assert_error(requests.post(url, json={"job_id": "job-1", "action": "cleanup_all", **vcenter,
                                          "password": "bad-password"}, timeout=30),
                 502, "OPERATION_FAILED", "invalid credentials")


def test_power_off_source_vm(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    vm = create_vm(si, VmSpec("power-02", disks_mb=[1]))
    wait_task(vm.PowerOnVM_Task())
    response = requests.post(f"{agent.url}/api/v1/power-off",
                             json={**vcenter, "datacenter": "DC0", "vm_path": "/DC0/vm/power-02",
                                   "timeout_seconds": 5}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == {"vm_id": vm._moId, "vm_path": "/DC0/vm/power-02", "result": "guest_shutdown",
                               "power_state": "poweredOff"}
    again = requests.post(f"{agent.url}/api/v1/power-off", json={**vcenter, "vm": vm._moId}, timeout=60)
    assert again.json()["result"] == "already_off"
    assert_error(requests.post(f"{agent.url}/api/v1/power-off", json={**vcenter}, timeout=30),
                 400, "INVALID_REQUEST", "name the VM")
