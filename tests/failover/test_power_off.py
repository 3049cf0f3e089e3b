"""Live failover with power_off_source: the real agent (a process) shuts the source down in vcsim.

Slow (vcsim and the agent start as processes); skipped with a reason only when vcsim cannot be built here.
"""
from __future__ import annotations

import pytest

from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.settings.models import VMwareCredential
from tests.failover.conftest import make_replicated_vm, map_networks

pytestmark = [pytest.mark.django_db, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def vcenter_and_agent(cloud, tmp_path, settings):  # after `cloud`, which points the agent URL at nothing
    from lab.vcsim.simulator import Vcsim, VcsimUnavailable
    from tests.agent.conftest import agent_env
    from tests.agent.vmlab import AgentProcess, FakeControlPlane, connect

    try:
        sim = Vcsim(vms=0, hosts=1)
        sim.start()
    except VcsimUnavailable as exc:
        pytest.skip(f"vcsim cannot be built here: {exc}")
    try:
        si = connect(sim)
        with FakeControlPlane() as control_plane:
            agent = AgentProcess(agent_env(sim, si, tmp_path / "agent-state", control_plane),
                                 tmp_path / "agent.log").start()
            try:
                settings.AGENT_API_URL = agent.url
                yield sim, si, agent
            finally:
                agent.stop()
    finally:
        sim.stop()


def test_live_failover_powers_the_source_off_through_the_agent(operator_client, cloud, cloud_config, client, networks,
                                                                vcenter_and_agent, django_capture_on_commit_callbacks):
    from tests.agent.vmlab import VmSpec, create_vm, wait_task

    sim, si, agent = vcenter_and_agent
    source = create_vm(si, VmSpec("erp-01", disks_mb=[1]))
    wait_task(source.PowerOnVM_Task())
    vm = make_replicated_vm(cloud, cloud_config, client, name="erp-01", disks=1)
    VMwareCredential.objects.filter(pk=vm.context.credential_id).update(
        vcenter_host=f"{sim.host}:{sim.port}", username=sim.username, password=sim.password, datacenter="DC0")
    VMContext.objects.filter(pk=vm.context.pk).update(moref=source._moId, vm_path="/DC0/vm/erp-01")
    map_networks(vm, networks)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/live", {"vm_id": vm.context.vm_id, "power_off_source": True,
                                                                  "final_sync": False, "shutdown_timeout": 5},
                                        format="json")
    assert response.status_code == 202, response.json()
    job = FailoverJob.objects.get()
    assert job.status == "completed", job.error_message
    assert job.source_powered_off_at is not None and job.source_power_result == "guest_shutdown"
    assert source.runtime.powerState == "poweredOff"  # and it stays off: nothing powers it back on
    context = VMContext.objects.get()
    assert context.current_status == "failed_over" and context.power_state == "poweredOff"
    assert client.get_vm(job.destination_vm_id)["state"] == "Running"
    status = operator_client.get(f"/api/v1/failover/{job.job_id}/status").json()
    assert status["source_powered_off"] is True and "stays powered off" in status["current_step"]
