"""Faults injected into a running failover: the CloudStack emulator (a separate process) SIGKILLed while the failover
waits on a deploy, restarted on the same port; teardown with a user key. Every test ends with the job's state and
message true, and with every CloudStack resource recorded (the emulator's VMs and volumes compared with the records).
"""
from __future__ import annotations

import time

import pytest

from apps.core.models import JobEvent
from apps.failover import validation
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.settings import cloudstack as cs
from apps.settings.models import CloudResource, OsseaConfig
from tests.failover.conftest import (
    HttpPeer,
    assert_back_on_control_plane,
    assert_documented,
    inject_nth,
    make_replicated_vm,
    map_networks,
    start_in_worker,
    wait_for_status,
)

pytestmark = [pytest.mark.integration]

LIVE = {"power_off_source": True, "final_sync": False, "shutdown_timeout": 5}
SEEDED_VMS = {"oma", "web-01"}


@pytest.fixture
def power_agent(cloud, settings):  # after `cloud`, which points the agent URL at nothing
    """The agent's /power-off and /power-on as a stand-in answering like the agent; it records the calls."""
    vm = {"vm_id": "vm-42", "vm_path": "/DC0/vm/faulty"}
    with HttpPeer({"/api/v1/power-off": (200, {**vm, "result": "guest_shutdown", "power_state": "poweredOff"}),
                   "/api/v1/power-on": (200, {**vm, "result": "powered_on", "power_state": "poweredOn"})}) as peer:
        settings.AGENT_API_URL = peer.url
        yield peer


def wait_until(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)


def assert_everything_recorded(client, job: FailoverJob, replicas: set[str]) -> None:
    """Every VM the emulator holds beyond the seeded ones is a recorded resource of the job, and every volume is a
    replica, a seeded VM's root or the disk of such a recorded VM."""
    recorded_vms = set(CloudResource.objects.filter(owner=job.job_id, kind="vm").values_list("resource_id", flat=True))
    vms = {vm["id"]: vm for vm in client.list_virtual_machines()}
    extra = {vm_id for vm_id, vm in vms.items() if vm["name"] not in SEEDED_VMS}
    assert extra <= recorded_vms, (extra, recorded_vms)
    seeded_ids = {vm_id for vm_id, vm in vms.items() if vm["name"] in SEEDED_VMS}
    for volume in client.list_volumes():
        owner = volume.get("virtualmachineid")
        assert volume["id"] in replicas or owner in seeded_ids or owner in recorded_vms, volume


@pytest.mark.django_db(transaction=True)
def test_cloudstack_killed_during_a_live_deploy_then_cleanup_failed_removes_the_vm_and_only_then_powers_on(
        operator_client, cloud, cloud_config, client, networks, power_agent, django_capture_on_commit_callbacks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="faulty")
    map_networks(vm, networks)
    replicas = {r.volume_id for r in vm.replicas}
    cloud.inject("deployVirtualMachine", delay=20)
    errors: list = []
    thread = start_in_worker(vm, "live", LIVE, errors)
    job = wait_for_status("creating_vm", errors)
    # Write-ahead: the VM's id and its deploy job are recorded while CloudStack still works on the deploy.
    vm_id = wait_until(lambda: FailoverJob.objects.get(pk=job.pk).destination_vm_id, "the VM id being recorded")
    row = CloudResource.objects.get(owner=job.job_id, kind="vm")
    assert row.resource_id == vm_id and row.cloudstack_job_id and row.state == "created"

    cloud.kill()  # the management server dies mid-deploy
    thread.join(120)
    assert not thread.is_alive() and not errors, errors
    job.refresh_from_db()
    # The rollback could not see CloudStack: it says so, and keeps the source off while the VM may exist.
    assert job.status == "failed" and job.needs_cleanup and job.cleanup_status == "failed", job.error_message
    assert "NOT undone" in job.error_message and f"could not look up VM {vm_id}" in job.error_message
    assert "Cleaned up" not in job.current_step
    assert [r["path"] for r in power_agent.requests] == ["/api/v1/power-off"]
    assert job.source_powered_on_at is None and "stays powered off while failover VM" in job.error_message

    # Back on a new port (another process may have taken the old one meanwhile): the configuration follows it.
    cloud.restart()
    OsseaConfig.objects.filter(pk=cloud_config.pk).update(api_url=cloud.url)
    client = cs.CloudStackClient(cloud.url, cloud.api_key, cloud.secret_key, poll_interval=0.02, job_timeout=30)
    # What the crash left: the half-made VM (state Error) with its ROOT volume, and it is on the record.
    left = client.find("vm", vm_id)
    assert left is not None and left["state"] == "Error"
    assert len(client.list_volumes(vm_id=vm_id)) == 1
    assert_everything_recorded(client, job, replicas)

    with django_capture_on_commit_callbacks(execute=True):
        cleaned = operator_client.post(f"/api/v1/failover/{vm.context.vm_name}/cleanup-failed")
    assert cleaned.status_code == 200, cleaned.json()
    assert_documented(cleaned)
    job.refresh_from_db()
    assert job.status == "failed" and not job.needs_cleanup and job.cleanup_status == "completed", job.error_message
    assert f"destroyed VM {vm_id}" in job.error_message
    assert client.find("vm", vm_id) is None and client.list_volumes(vm_id=vm_id) == []
    assert CloudResource.objects.get(pk=row.pk).state == "removed"
    # The source was powered on, after the VM was destroyed, not before.
    assert [r["path"] for r in power_agent.requests] == ["/api/v1/power-off", "/api/v1/power-on"]
    events = list(JobEvent.objects.filter(job_kind="failover", job_id=job.job_id).order_by("id")
                  .values_list("message", flat=True))
    destroyed = next(i for i, m in enumerate(events) if m.startswith(f"destroyed VM {vm_id}"))
    powered = next(i for i, m in enumerate(events) if m.startswith("powered the source VM"))
    assert destroyed < powered
    assert job.source_powered_on_at is not None
    vm.context.ossea_config.refresh_from_db()
    assert_back_on_control_plane(vm, client)
    assert_everything_recorded(client, job, replicas)
    # A new readiness check no longer trips over a leftover VM of that name.
    VMContext.objects.filter(pk=vm.context.pk).update(current_status="ready_for_failover")
    result, _ = validation.validate(VMContext.objects.get(pk=vm.context.pk), "live")
    name_check = next(c for c in result["checks"] if c["check_name"] == "Destination VM Name")
    assert name_check["status"] == "pass", name_check


@pytest.mark.django_db
def test_a_user_key_tears_down_without_expunge_and_says_so(operator_client, cloud, cloud_config, client, networks,
                                                           django_capture_on_commit_callbacks):
    OsseaConfig.objects.filter(pk=cloud_config.pk).update(api_key=cloud.user_api_key,
                                                          secret_key=cloud.user_secret_key)
    cloud_config.refresh_from_db()
    vm = make_replicated_vm(cloud, cloud_config, client, name="userkey")
    map_networks(vm, networks)
    # The readiness check names what the user key may not do.
    result, _ = validation.validate(VMContext.objects.get(pk=vm.context.pk), "test")
    permissions = next(c for c in result["checks"] if c["check_name"] == "CloudStack Permissions")
    assert permissions["status"] == "fail" and "allow.user.expunge.recover.vm" in permissions["message"]
    assert any("allow.user.expunge.recover.vm" in w for w in result["warnings"]) and result["is_ready"]

    inject_nth(cloud, "startVirtualMachine", 1, errortext="no host with capacity")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/test", {"vm_id": vm.context.vm_id, "test_duration": "1h"},
                                        format="json")
    assert response.status_code == 200, response.json()
    job = FailoverJob.objects.get()
    assert job.status == "failed" and not job.needs_cleanup, job.error_message
    assert "may not expunge: CloudStack expunges it after its expunge delay" in job.error_message
    assert CloudResource.objects.get(owner=job.job_id, kind="vm").state == "destroyed"
    user = cs.CloudStackClient(cloud.url, cloud.user_api_key, cloud.user_secret_key, poll_interval=0.02)
    assert user.find("vm", job.destination_vm_id) is None  # a user does not see destroyed VMs
    assert client.find("vm", job.destination_vm_id)["state"] == "Destroyed"  # the admin does, until it is expunged
    assert_back_on_control_plane_except_destroyed(vm, client, job.destination_vm_id)


def assert_back_on_control_plane_except_destroyed(vm, client, destroyed_vm_id: str) -> None:
    """As assert_back_on_control_plane, with the destroyed (not yet expunged) failover VM still listed to an admin."""
    oma = vm.context.ossea_config.oma_vm_id
    for replica in vm.replicas:
        assert client.get_volume(replica.volume_id).get("virtualmachineid") == oma
    assert vm.current_digests() == vm.digests
    assert client.list_snapshots() == []
    assert {v["id"] for v in client.list_virtual_machines() if v["name"] not in SEEDED_VMS} == {destroyed_vm_id}
