"""The source VM's power in a live failover: the real agent (a process) powers a vcsim VM off, and a failed failover's
rollback powers it back on through the agent, only when the failover itself had powered it off.

Slow (vcsim and the agent start as processes); skipped with a reason only when vcsim cannot be built here.
"""
from __future__ import annotations

from functools import partial

import pytest

from apps.core.models import JobEvent
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.settings.models import VMwareCredential
from tests.failover.conftest import (
    HttpPeer,
    assert_back_on_control_plane,
    assert_documented,
    inject_nth,
    make_replicated_vm,
    map_networks,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration, pytest.mark.slow]

LIVE = {"power_off_source": True, "final_sync": False, "shutdown_timeout": 5}


@pytest.fixture(scope="module")
def vcsim():
    from lab.vcsim.simulator import Vcsim, VcsimUnavailable
    from tests.agent.vmlab import connect

    try:
        sim = Vcsim(vms=0, hosts=1)
        sim.start()
    except VcsimUnavailable as exc:
        pytest.skip(f"vcsim cannot be built here: {exc}")
    try:
        yield sim, connect(sim)
    finally:
        sim.stop()


@pytest.fixture
def vcenter_and_agent(cloud, vcsim, tmp_path, settings):  # after `cloud`, which points the agent URL at nothing
    from tests.agent.conftest import agent_env
    from tests.agent.vmlab import AgentProcess, FakeControlPlane

    sim, si = vcsim
    with FakeControlPlane() as control_plane:
        agent = AgentProcess(agent_env(sim, si, tmp_path / "agent-state", control_plane),
                             tmp_path / "agent.log").start()
        try:
            settings.AGENT_API_URL = agent.url
            yield sim, si, agent
        finally:
            agent.stop()


def source_vm(peers, cloud, cloud_config, client, networks, name: str, *, running: bool = True):
    """A VM in vcsim (running or not) and its replicated twin in the platform, pointing at it."""
    from tests.agent.vmlab import VmSpec, create_vm, wait_task

    sim, si, _ = peers
    source = create_vm(si, VmSpec(name, disks_mb=[1]))
    if running:
        wait_task(source.PowerOnVM_Task())
    vm = make_replicated_vm(cloud, cloud_config, client, name=name, disks=1)
    VMwareCredential.objects.filter(pk=vm.context.credential_id).update(
        vcenter_host=f"{sim.host}:{sim.port}", username=sim.username, password=sim.password, datacenter="DC0")
    VMContext.objects.filter(pk=vm.context.pk).update(moref=source._moId, vm_path=f"/DC0/vm/{name}",
                                                      power_state="poweredOn" if running else "poweredOff")
    map_networks(vm, networks)
    return source, vm


def start_live(api, vm, capture):
    with capture(execute=True):
        response = api.post("/api/v1/failover/live", {"vm_id": vm.context.vm_id, **LIVE}, format="json")
    assert response.status_code == 200, response.json()
    return FailoverJob.objects.get(job_id=assert_documented(response)["job_id"])


def rollback_lines(job) -> list[str]:
    return list(JobEvent.objects.filter(job_kind="failover", job_id=job.job_id, step__in=("rollback", "cleanup"))
                .order_by("id").values_list("message", flat=True))


def test_live_failover_powers_the_source_off_through_the_agent(operator_client, cloud, cloud_config, client, networks,
                                                                vcenter_and_agent, django_capture_on_commit_callbacks):
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-01")
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)
    assert job.status == "completed", job.error_message
    assert job.source_powered_off_at is not None and job.source_power_result == "guest_shutdown"
    assert job.source_powered_off_by_platform
    assert source.runtime.powerState == "poweredOff"  # and it stays off: a completed cut-over is final
    context = VMContext.objects.get()
    assert context.current_status == "failed_over" and context.power_state == "poweredOff"
    assert client.get_vm(job.destination_vm_id)["state"] == "Running"
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["source_powered_off"] is True and "stays powered off" in status["current_step"]
    assert status["source_powered_on"] is False


# The one-disk live failover's CloudStack calls after the source was powered off, first to last.
AFTER_POWER_OFF = [("detachVolume", 1), ("createSnapshot", 1), ("deployVirtualMachine", 1), ("attachVolume", 1),
                   ("startVirtualMachine", 1)]


@pytest.mark.parametrize("command, nth", AFTER_POWER_OFF, ids=[f"{c}#{n}" for c, n in AFTER_POWER_OFF])
def test_failure_after_power_off_powers_the_source_back_on(operator_client, cloud, cloud_config, client, networks,
                                                            vcenter_and_agent, command, nth,
                                                            django_capture_on_commit_callbacks):
    name = f"erp-back-{command.lower()}"
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, name)
    inject_nth(cloud, command, nth, errortext=f"storage trouble during {command}")
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    assert job.status == "failed" and f"storage trouble during {command}" in job.error_message
    assert not job.needs_cleanup and job.cleanup_status == "completed", job.error_message
    # The platform had shut it down, so the rollback gave it back: it runs in vCenter again.
    assert job.source_power_result == "guest_shutdown" and job.source_powered_off_by_platform
    assert source.runtime.powerState == "poweredOn"
    assert job.source_powered_on_at is not None and not job.source_power_on_error
    assert f"powered the source VM '{name}' ({source._moId}) back on" in job.error_message
    assert "rolled back:" in job.error_message and "NOT undone" not in job.error_message
    assert VMContext.objects.get().power_state == "poweredOn"
    # Last, after the failover VM is gone: the source and its copy never ran at once.
    lines = rollback_lines(job)
    assert lines[-1].startswith(f"powered the source VM '{name}'"), lines
    assert job.rollback_log[-1]["left"] == [] and job.rollback_log[-1]["problems"] == []
    assert_back_on_control_plane(vm, client)
    assert VMContext.objects.get().current_status == "ready_for_failover"

    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["source_powered_off"] is True and status["source_powered_on"] is True
    assert status["source_power_on_error"] is None and "powered on again" in status["current_step"]
    decision = assert_documented(operator_client.get(f"/api/v1/failover/rollback/decision/live/{name}"))
    assert decision["rollback_possible"] is False and decision["source_vm_powered_off"] is False
    again = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert again.status_code == 409 and "rolled back completely" in assert_documented(again)["error"]
    assert source.runtime.powerState == "poweredOn"


def test_source_already_off_before_the_failover_stays_off(operator_client, cloud, cloud_config, client, networks,
                                                          vcenter_and_agent, django_capture_on_commit_callbacks):
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-was-off", running=False)
    inject_nth(cloud, "startVirtualMachine")
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    assert job.status == "failed" and not job.needs_cleanup, job.error_message
    assert job.source_power_result == "already_off" and not job.source_powered_off_by_platform
    assert source.runtime.powerState == "poweredOff"  # the operator's choice, not ours to undo
    assert job.source_powered_on_at is None
    assert "already powered off before this failover and stays off" in job.error_message
    assert not any("powered the source VM" in line for line in rollback_lines(job))
    assert_back_on_control_plane(vm, client)
    decision = assert_documented(operator_client.get("/api/v1/failover/rollback/decision/live/erp-was-off"))
    assert decision["rollback_possible"] is False and decision["source_vm_powered_off"] is True
    refused = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert refused.status_code == 409
    assert source.runtime.powerState == "poweredOff"


def test_unreachable_agent_at_power_on_is_reported_then_rollback_retries_it(
        operator_client, cloud, cloud_config, client, networks, vcenter_and_agent, settings,
        django_capture_on_commit_callbacks):
    from tests.failover.conftest import cleanup_failed_clears_cloudstack

    _, _, agent = vcenter_and_agent
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-no-agent")
    inject_nth(cloud, "startVirtualMachine")
    cloud.inject("destroyVirtualMachine", fail=True, errortext="hypervisor unreachable")
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    # The failover VM could not be destroyed: the source must not run next to it, so it stays off for now.
    assert job.status == "failed" and job.needs_cleanup, job.error_message
    assert source.runtime.powerState == "poweredOff" and job.source_powered_on_at is None
    assert f"stays powered off while failover VM {job.destination_vm_id} exists" in job.error_message

    agent.stop()  # the agent goes away before the operator cleans up
    # CloudStack is clean (nothing holds the VM back); the source's power is the operator's, and said so.
    cleanup_failed_clears_cloudstack(operator_client, vm, client, job, django_capture_on_commit_callbacks)
    assert source.runtime.powerState == "poweredOff"
    assert "could not power the source VM 'erp-no-agent' back on: No agent is connected" in job.error_message
    assert "Power it on in vCenter if it should keep serving, or retry with POST /api/v1/failover/rollback" \
        in job.error_message
    assert "No agent is connected" in job.source_power_on_error
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["source_powered_on"] is False and "No agent is connected" in status["source_power_on_error"]
    assert "the source VM is still powered off" in status["current_step"]
    assert any("could not power the source VM" in e["message"] and e["level"] == "error" for e in status["events"])
    decision = assert_documented(operator_client.get("/api/v1/failover/rollback/decision/live/erp-no-agent"))
    assert decision["rollback_possible"] and decision["recommended"] and decision["source_vm_powered_off"]
    assert decision["actions"] == ["power the source VM 'erp-no-agent' on again (this failover powered it off)"]

    agent.start()  # back (on a new port): the operator asks for the rollback again
    settings.AGENT_API_URL = agent.url
    with django_capture_on_commit_callbacks(execute=True):
        retried = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert retried.status_code == 200 and "powered on again" in assert_documented(retried)["message"]
    job.refresh_from_db()
    assert source.runtime.powerState == "poweredOn"
    assert job.status == "failed" and job.source_powered_on_at is not None and not job.source_power_on_error
    assert "power-on of the source VM - rolled back: powered the source VM 'erp-no-agent'" in job.error_message
    assert VMContext.objects.get().power_state == "poweredOn"
    refused = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert refused.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_source_gone_from_vcenter_at_power_on_is_reported_not_a_500(operator_client, cloud, cloud_config, client,
                                                                     networks, vcenter_and_agent):
    from tests.agent.vmlab import wait_task
    from tests.failover.conftest import start_in_worker, wait_for_status

    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-gone")
    moref = source._moId
    cloud.inject("deployVirtualMachine", delay=2.0, fail=True, errortext="no capacity")
    errors: list = []
    thread = start_in_worker(vm, "live", LIVE, errors)
    job = wait_for_status("creating_vm", errors)  # powered off, snapshotted, deploying
    assert job.source_powered_off_by_platform
    wait_task(source.Destroy_Task())  # someone deletes the source meanwhile
    thread.join(60)
    assert not errors, errors
    job.refresh_from_db()

    assert job.status == "failed" and "no capacity" in job.error_message
    assert not job.needs_cleanup and job.cleanup_status == "completed", job.error_message
    assert_back_on_control_plane(vm, client)
    assert job.source_powered_on_at is None and "not found" in job.source_power_on_error
    assert f"could not power the source VM 'erp-gone' back on: Agent refused the request: VM {moref!r} not found" \
        in job.error_message
    status = operator_client.get(f"/api/v1/failover/{job.job_id}/status")
    assert status.status_code == 200 and "not found" in assert_documented(status)["source_power_on_error"]

    # Retried through the rollback endpoint: still gone, still reported, never a 500.
    retried = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert retried.status_code == 200, retried.json()
    job.refresh_from_db()
    assert job.status == "failed" and not job.needs_cleanup and job.source_powered_on_at is None
    assert job.error_message.count("could not power the source VM 'erp-gone' back on") == 2


@pytest.mark.django_db(transaction=True)
def test_rollback_request_of_a_running_live_failover_powers_the_source_back_on(operator_client, cloud, cloud_config,
                                                                              client, networks, vcenter_and_agent):
    from tests.failover.conftest import rollback_between_steps, start_in_worker, wait_for_status

    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-stop")
    cloud.inject("deployVirtualMachine", delay=2.0)
    errors: list = []
    thread = start_in_worker(vm, "live", LIVE, errors)
    job = wait_for_status("creating_vm", errors)
    assert source.runtime.powerState == "poweredOff"
    rollback_between_steps(operator_client, job, thread, errors)
    assert "powered the source VM 'erp-stop'" in job.error_message
    assert source.runtime.powerState == "poweredOn" and job.source_powered_on_at is not None
    assert_back_on_control_plane(vm, client)


# -- the power-off's answer is lost ---------------------------------------------------------------------------


class LossyTunnel(HttpPeer):
    """A real HTTP hop between the platform and the real agent, like the SSH tunnel: power calls pass through,
    except that the answer to POST /power-off is lost as `mode` says. "drop": the agent carried it out, then the
    connection closes without an answer; "gateway": the agent carried it out, the hop answers 504; "before": the
    connection closes before the call reaches the agent (nothing was powered off)."""

    def __init__(self, agent_url: str, mode: str):
        self.agent_url, self.mode = agent_url, mode
        self.agent_answers: dict[str, dict] = {}
        super().__init__({path: partial(self.pass_on, path) for path in ("/api/v1/power-off", "/api/v1/power-on")})

    @property
    def paths(self) -> list[str]:
        return [request["path"] for request in self.requests]

    def pass_on(self, path: str, body: dict) -> tuple[int, dict] | None:
        lossy = path == "/api/v1/power-off"
        if lossy and self.mode == "before":
            return None
        status, answer = self.forward(path, body)
        if lossy and self.mode == "drop":
            return None
        if lossy and self.mode == "gateway":
            return 504, {"error": "gateway timeout: no answer from the agent"}
        return status, answer

    def forward(self, path: str, body: dict) -> tuple[int, dict]:
        import requests

        answer = requests.post(self.agent_url + path, json=body, timeout=120)
        self.agent_answers[path] = answer.json()
        return answer.status_code, self.agent_answers[path]


@pytest.fixture
def lossy_tunnel(vcenter_and_agent, settings):
    """Route the platform's agent calls through a LossyTunnel; the test sets `.mode`."""
    with LossyTunnel(vcenter_and_agent[2].url, "drop") as tunnel:
        settings.AGENT_API_URL = tunnel.url
        yield tunnel


def assert_nothing_changed_in_cloudstack(job, vm, client):
    assert not job.volumes.exists() and not job.destination_vm_id
    assert_back_on_control_plane(vm, client)
    assert VMContext.objects.get().current_status == "ready_for_failover"


@pytest.mark.parametrize("mode", ["drop", "gateway"])
def test_lost_power_off_answer_powers_a_source_that_was_on_back_on(operator_client, cloud, cloud_config, client,
                                                                    networks, vcenter_and_agent, lossy_tunnel, mode,
                                                                    django_capture_on_commit_callbacks):
    name = f"erp-lost-{mode}"
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, name)
    lossy_tunnel.mode = mode
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    # vCenter did power it off: the agent answered, but the answer never reached the platform.
    assert lossy_tunnel.agent_answers["/api/v1/power-off"]["result"] == "guest_shutdown"
    assert job.status == "failed" and "got no clear answer from the agent" in job.error_message
    assert job.error_code == {"drop": "AGENT_UNREACHABLE", "gateway": "OPERATION_FAILED"}[mode]
    assert job.source_power_uncertain and job.source_power_state_before == "poweredOn"
    assert job.source_powered_off_at is None and not job.source_powered_off_by_platform
    # It was on before the failover, so the rollback powered it on again, and says why.
    assert source.runtime.powerState == "poweredOn"
    assert lossy_tunnel.paths == ["/api/v1/power-off", "/api/v1/power-on"]
    assert lossy_tunnel.agent_answers["/api/v1/power-on"]["result"] == "powered_on"
    why = (f"the answer to the power-off of the source VM '{name}' ({source._moId}) was lost; the VM was on before the "
           "failover, so it was powered on again")
    assert why in job.error_message and "NOT undone" not in job.error_message
    assert job.rollback_log[-1]["done"] == [why] and job.rollback_log[-1]["left"] == []
    assert job.source_powered_on_at is not None and not job.needs_cleanup and job.cleanup_status == "completed"
    assert VMContext.objects.get().power_state == "poweredOn"
    assert_nothing_changed_in_cloudstack(job, vm, client)

    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["source_power_uncertain"] is True and status["source_power_state_before"] == "poweredOn"
    assert status["source_powered_on"] is True and "powered on again" in status["current_step"]
    assert any(e["step"] == "power_off" and "answer was lost" in e["message"] for e in status["events"])
    decision = assert_documented(operator_client.get(f"/api/v1/failover/rollback/decision/live/{name}"))
    assert decision["rollback_possible"] is False and decision["source_power_uncertain"] is False
    assert operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json").status_code == 409


def test_lost_power_off_call_that_never_ran_finds_the_source_already_on(operator_client, cloud, cloud_config, client,
                                                                       networks, vcenter_and_agent, lossy_tunnel,
                                                                       django_capture_on_commit_callbacks):
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-lost-early")
    lossy_tunnel.mode = "before"
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    assert "/api/v1/power-off" not in lossy_tunnel.agent_answers  # it never reached vCenter
    assert job.status == "failed" and job.source_power_uncertain
    assert lossy_tunnel.agent_answers["/api/v1/power-on"]["result"] == "already_on"
    assert source.runtime.powerState == "poweredOn"
    assert (f"the answer to the power-off of the source VM 'erp-lost-early' ({source._moId}) was lost; the VM was on "
            "before the failover, so it is already on") in job.error_message
    assert_nothing_changed_in_cloudstack(job, vm, client)


def test_lost_power_off_answer_leaves_a_source_that_was_off_to_the_operator(operator_client, cloud, cloud_config,
                                                                           client, networks, vcenter_and_agent,
                                                                           lossy_tunnel,
                                                                           django_capture_on_commit_callbacks):
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-lost-off", running=False)
    lossy_tunnel.mode = "drop"
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    assert lossy_tunnel.agent_answers["/api/v1/power-off"]["result"] == "already_off"
    assert job.status == "failed" and job.source_power_uncertain and job.source_power_state_before == "poweredOff"
    # Not known to be on before: never powered on; the operator is told what is theirs to check.
    assert lossy_tunnel.paths == ["/api/v1/power-off"]
    assert source.runtime.powerState == "poweredOff" and job.source_powered_on_at is None
    left = ("the answer to the power-off of the source VM 'erp-lost-off' was lost, so vCenter may have powered it off; "
            "it was not known to be powered on before this failover (last known power state: poweredOff), so it was "
            "not powered on: check it in vCenter and power it on if it should keep serving")
    assert f"NOT undone, left to the operator: {left}" in job.error_message
    assert job.rollback_log[-1]["left"] == [left] and job.rollback_log[-1]["done"] == []
    assert not job.needs_cleanup and "power state is unknown: check it in vCenter" in job.current_step
    assert_nothing_changed_in_cloudstack(job, vm, client)

    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["source_power_uncertain"] is True and status["source_power_state_before"] == "poweredOff"
    decision = assert_documented(operator_client.get("/api/v1/failover/rollback/decision/live/erp-lost-off"))
    assert decision["rollback_possible"] is False and decision["source_power_uncertain"] is True
    assert "operator's call" in decision["reason"]
    refused = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert refused.status_code == 409 and "left to the operator" in assert_documented(refused)["error"]
    assert source.runtime.powerState == "poweredOff" and lossy_tunnel.paths == ["/api/v1/power-off"]


def test_clear_refusal_of_the_power_off_is_not_uncertain(operator_client, cloud, cloud_config, client, networks,
                                                         vcenter_and_agent, django_capture_on_commit_callbacks):
    source, vm = source_vm(vcenter_and_agent, cloud, cloud_config, client, networks, "erp-refused")
    VMContext.objects.filter(pk=vm.context.pk).update(moref="vm-404404")  # vCenter has no such VM: a clear 4xx
    job = start_live(operator_client, vm, django_capture_on_commit_callbacks)

    assert job.status == "failed" and "not found" in job.error_message
    assert not job.source_power_uncertain and job.source_powered_on_at is None and not job.rollback_log
    assert source.runtime.powerState == "poweredOn"
    assert not any("power" in line for line in rollback_lines(job))
