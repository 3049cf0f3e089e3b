"""A failure injected at each step (CloudStack emulator) rolls a failover back completely, and says what it did."""

import pytest

from apps.core.models import JobEvent
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.settings.models import CloudResource
from tests.failover.conftest import (
    assert_back_on_control_plane,
    assert_documented,
    cleanup_failed_clears_cloudstack,
    inject_nth,
    make_replicated_vm,
    map_networks,
    rollback_between_steps,
    start_in_worker,
    wait_for_status,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# The test failover's CloudStack calls, in order, for a VM with two disks:
#   detachVolume (disk-0 off the control plane), createSnapshot, detachVolume (disk-1), createSnapshot,
#   deployVirtualMachine, detachVolume (template root), attachVolume (boot replica at device 0),
#   deleteVolume (template root), attachVolume (disk-1), startVirtualMachine
STEPS = [
    ("detachVolume", 1, "snapshotting", "OSSEA_API_ERROR"),
    ("createSnapshot", 1, "snapshotting", "SNAPSHOT_FAILED"),
    ("detachVolume", 2, "snapshotting", "OSSEA_API_ERROR"),
    ("createSnapshot", 2, "snapshotting", "SNAPSHOT_FAILED"),
    ("deployVirtualMachine", 1, "creating_vm", "OSSEA_API_ERROR"),
    ("detachVolume", 3, "switching_volume", "OSSEA_API_ERROR"),
    ("attachVolume", 1, "switching_volume", "OSSEA_API_ERROR"),
    ("deleteVolume", 1, "switching_volume", "OSSEA_API_ERROR"),
    ("attachVolume", 2, "switching_volume", "OSSEA_API_ERROR"),
    ("startVirtualMachine", 1, "powering_on", "OSSEA_API_ERROR"),
]


def run_test_failover(api, vm, capture):
    with capture(execute=True):
        response = api.post("/api/v1/failover/test", {"vm_id": vm.context.vm_id, "test_duration": "1h"}, format="json")
    assert response.status_code == 200, response.json()
    return FailoverJob.objects.get(job_id=assert_documented(response)["job_id"])


@pytest.mark.parametrize("command, nth, step, code", STEPS, ids=[f"{c}#{n}" for c, n, _, _ in STEPS])
def test_failure_at_each_step_rolls_back_completely(operator_client, cloud, lab_vm, client, command, nth, step, code,
                                                     django_capture_on_commit_callbacks):
    inject_nth(cloud, command, nth, errortext=f"storage trouble during {command}")
    job = run_test_failover(operator_client, lab_vm, django_capture_on_commit_callbacks)
    assert job.status == "failed" and job.error_code == code, job.error_message
    assert f"storage trouble during {command}" in job.error_message
    assert not job.needs_cleanup and job.cleanup_status == "completed"
    assert "rolled back:" in job.error_message  # it says what it did
    events = list(JobEvent.objects.filter(job_kind="failover", job_id=job.job_id).values_list("step", "level"))
    statuses = [s for s, _ in events]
    assert ("failed", "error") in events and "rollback" in statuses
    assert not any(level == "error" for s, level in events if s == "rollback")
    # Nothing left: no failover VM, no snapshot, every replica back on the control plane with its synced data.
    assert_back_on_control_plane(lab_vm, client)
    assert VMContext.objects.get().current_status == "ready_for_failover"
    assert set(CloudResource.objects.filter(owner=job.job_id).values_list("state", flat=True)) <= {"removed"}
    # Where it failed is recorded: the step's status came before reverting.
    assert job.rollback_log[-1]["problems"] == []
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["job_details"]["error_code"] == code and status["rollback_log"][-1]["problems"] == []
    decision = assert_documented(
        operator_client.get(f"/api/v1/failover/rollback/decision/test/{lab_vm.context.vm_name}"))
    assert decision["rollback_possible"] is False and "rolled back completely" in decision["reason"]


@pytest.mark.parametrize("command, nth", [("attachVolume", 2), ("startVirtualMachine", 1)])
def test_live_failover_failure_rolls_back_and_vm_stays_ready(operator_client, cloud, lab_vm, client, command, nth,
                                                             django_capture_on_commit_callbacks):
    inject_nth(cloud, command, nth)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/live", {"vm_id": lab_vm.context.vm_id,
                                                                  "power_off_source": False, "final_sync": False},
                                        format="json")
    job = FailoverJob.objects.get(job_id=response.json()["job_id"])
    assert job.status == "failed" and not job.needs_cleanup, job.error_message
    assert_back_on_control_plane(lab_vm, client)
    assert VMContext.objects.get().current_status == "ready_for_failover"


def test_failed_rollback_is_reported_then_cleanup_failed_finishes_it(operator_client, cloud, lab_vm, client,
                                                                      django_capture_on_commit_callbacks):
    inject_nth(cloud, "startVirtualMachine")
    cloud.inject("destroyVirtualMachine", fail=True, errortext="hypervisor unreachable")
    job = run_test_failover(operator_client, lab_vm, django_capture_on_commit_callbacks)
    assert job.status == "failed" and job.needs_cleanup and job.cleanup_status == "failed"
    assert "NOT undone" in job.error_message and "hypervisor unreachable" in job.error_message
    # The replicas were detached from the VM before the destroy failed; nothing was reverted or reattached
    # while the VM still exists.
    assert client.get_vm(job.destination_vm_id)
    assert VMContext.objects.get().current_status == "test_failover"

    readiness = assert_documented(
        operator_client.get(f"/api/v1/failover/{lab_vm.context.vm_id}/readiness?failover_type=test"))
    assert readiness["is_valid"] is False
    assert any("cleanup-failed" in action for action in readiness["required_actions"])
    refused = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h"},
                                   format="json")
    assert refused.status_code == 409 and assert_documented(refused)["error_code"] in ("CLEANUP_REQUIRED", "ACTIVE_JOBS")
    decision = assert_documented(
        operator_client.get(f"/api/v1/failover/rollback/decision/test/{lab_vm.context.vm_name}"))
    assert decision["rollback_possible"] and decision["recommended"]
    debug = assert_documented(operator_client.get("/api/v1/debug/failover-jobs"))
    assert debug["jobs_needing_cleanup"] == 1 and debug["jobs"][0]["cloud_resources"]
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["needs_cleanup"] and status["rollback_log"][-1]["problems"]
    assert any("destroy" in a for a in decision["actions"])

    cleanup_failed_clears_cloudstack(operator_client, lab_vm, client, job, django_capture_on_commit_callbacks)
    assert VMContext.objects.get().current_status == "ready_for_failover"
    again = operator_client.post(f"/api/v1/failover/{lab_vm.context.vm_name}/cleanup-failed")
    assert again.status_code == 409 and assert_documented(again)["message"] == "Nothing to clean up"


def test_test_cleanup_failure_then_cleanup_failed_ends_the_test(operator_client, cloud, lab_vm, client,
                                                               django_capture_on_commit_callbacks):
    job = run_test_failover(operator_client, lab_vm, django_capture_on_commit_callbacks)
    assert job.status == "completed"
    cloud.inject("stopVirtualMachine", reset=True)  # the connection drops: the client sees a network error
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(f"/api/v1/failover/cleanup/{lab_vm.context.vm_name}")
    assert response.status_code == 200 and assert_documented(response)["cleanup_status"] == "in_progress"
    job.refresh_from_db()
    assert job.status == "failed" and job.cleanup_status == "failed" and job.needs_cleanup
    assert client.get_vm(job.destination_vm_id)["state"] == "Running"

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert response.status_code == 200, response.json()
    assert_documented(response)
    job.refresh_from_db()
    # The test itself had worked: once cleaned up it counts as an ended test.
    assert job.status == "completed" and job.ended_at and job.cleanup_status == "completed", job.error_message
    assert_back_on_control_plane(lab_vm, client)


def test_rollback_of_running_test_ends_it_and_decision_explains(operator_client, lab_vm, client,
                                                                 django_capture_on_commit_callbacks):
    job = run_test_failover(operator_client, lab_vm, django_capture_on_commit_callbacks)
    decision = assert_documented(
        operator_client.get(f"/api/v1/failover/rollback/decision/test/{lab_vm.context.vm_name}"))
    assert decision["rollback_possible"] is True and decision["job_id"] == job.job_id
    assert len([a for a in decision["actions"] if a.startswith("revert")]) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/rollback",
                                        {"vm_name": lab_vm.context.vm_name, "failover_type": "test"}, format="json")
    assert response.status_code == 200 and "ended" in assert_documented(response)["message"]
    assert_back_on_control_plane(lab_vm, client)
    refused = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert refused.status_code == 409 and "already ended" in assert_documented(refused)["error"]


@pytest.mark.django_db(transaction=True)
def test_rollback_request_stops_a_running_job_between_steps(operator_client, cloud, cloud_config, client, networks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="slowvm")
    map_networks(vm, networks)
    cloud.inject("deployVirtualMachine", delay=2.0)
    errors = []
    thread = start_in_worker(vm, "test", {"test_duration": "1h", "test_duration_seconds": 3600}, errors)
    job = wait_for_status("creating_vm", errors)
    rollback_between_steps(operator_client, job, thread, errors)
    assert_back_on_control_plane(vm, client)
