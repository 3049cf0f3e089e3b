"""Power-on through the agent API (agent and vcsim as processes): what a failed live failover's rollback calls to
give the source VM back."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.agent.test_discovery import assert_error
from tests.agent.vmlab import AgentProcess, VmSpec, create_vm, wait_task

pytestmark = pytest.mark.integration


def power_on(agent: AgentProcess, body: dict) -> requests.Response:
    return requests.post(f"{agent.url}/api/v1/power-on", json=body, timeout=60)


def test_power_on_source_vm_then_idempotent(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    vm = create_vm(si, VmSpec("power-on-01", disks_mb=[1]))
    assert vm.runtime.powerState == "poweredOff"
    response = power_on(agent, {**vcenter, "datacenter": "DC0", "vm_path": "/DC0/vm/power-on-01"})
    assert response.status_code == 200, response.text
    assert response.json() == {"vm_id": vm._moId, "vm_path": "/DC0/vm/power-on-01", "result": "powered_on",
                               "power_state": "poweredOn"}
    assert vm.runtime.powerState == "poweredOn"
    # Someone (or an earlier attempt) already powered it on: nothing to do, said so.
    again = power_on(agent, {**vcenter, "vm": {"id": vm._moId}})
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "already_on" and again.json()["power_state"] == "poweredOn"


def test_power_on_after_power_off_round_trip(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    vm = create_vm(si, VmSpec("power-on-02", disks_mb=[1]))
    wait_task(vm.PowerOnVM_Task())
    off = requests.post(f"{agent.url}/api/v1/power-off", json={**vcenter, "vm": vm._moId, "timeout_seconds": 5},
                        timeout=60)
    assert off.json()["power_state"] == "poweredOff"
    on = power_on(agent, {**vcenter, "vm": vm._moId})
    assert on.status_code == 200 and on.json()["result"] == "powered_on", on.text
    assert vm.runtime.powerState == "poweredOn"


def test_power_on_resumes_a_suspended_vm(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    vm = create_vm(si, VmSpec("power-on-03", disks_mb=[1]))
    wait_task(vm.PowerOnVM_Task())
    wait_task(vm.SuspendVM_Task())
    response = power_on(agent, {**vcenter, "vm": "/DC0/vm/power-on-03"})
    assert response.status_code == 200 and response.json()["result"] == "powered_on", response.text
    assert vm.runtime.powerState == "poweredOn"


def test_power_on_errors(agent: AgentProcess, vcenter: dict, si: Any) -> None:
    assert_error(power_on(agent, {**vcenter}), 400, "INVALID_REQUEST", "name the VM")
    assert_error(power_on(agent, {**vcenter, "vm": "vm-99999"}), 400, "INVALID_REQUEST", "not found")
    assert_error(power_on(agent, {**vcenter, "vm_path": "/DC0/vm/no-such-vm"}), 400, "INVALID_REQUEST", "not found")
    # A power-off option is not a power-on one: unknown fields are refused, not ignored.
    assert_error(power_on(agent, {**vcenter, "vm": "vm-1", "timeout_seconds": 5}), 400, "INVALID_REQUEST",
                 "timeout_seconds")
    # The session agent has no default vCenter.
    assert_error(power_on(agent, {"vm": "vm-1"}), 400, "INVALID_REQUEST", "vcenter is required")
    vm = create_vm(si, VmSpec("power-on-04", disks_mb=[1]))
    assert_error(power_on(agent, {**vcenter, "password": "bad-password", "vm": vm._moId}),
                 502, "OPERATION_FAILED", "invalid credentials")
    assert vm.runtime.powerState == "poweredOff"
