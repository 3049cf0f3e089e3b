"""Test failover against the CloudStack emulator: boot, data kept, end it, volumes back as they were."""
import pytest

from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from tests.failover.conftest import assert_back_on_control_plane, assert_documented, write_at

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def start_test(api, vm, django_capture_on_commit_callbacks, **extra):
    body = {"vm_id": vm.context.vm_id, "vm_name": vm.context.vm_name, "test_duration": "2h", **extra}
    with django_capture_on_commit_callbacks(execute=True):
        return api.post("/api/v1/failover/test", body, format="json")


def test_test_failover_boots_replicas_on_test_networks_then_ends_clean(operator_client, lab_vm, client, networks,
                                                                        django_capture_on_commit_callbacks):
    response = start_test(operator_client, lab_vm, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.json()
    body = assert_documented(response)
    assert body["job_id"] == FailoverJob.objects.get().job_id
    assert body["job_id"].startswith(f"test-failover-{lab_vm.context.vm_id}-")
    job = FailoverJob.objects.get()
    assert job.status == "completed", (job.error_message, job.current_step)
    vm = client.get_vm(job.destination_vm_id)
    assert vm["state"] == "Running"
    assert [n["networkid"] for n in vm["nic"]] == [networks["test-failover-net"]["id"]]
    attached = {v["id"]: v for v in client.list_volumes(vm_id=vm["id"])}
    boot, data = lab_vm.replicas
    assert attached[boot.volume_id]["deviceid"] == 0 and attached[boot.volume_id]["type"] == "ROOT"
    assert data.volume_id in attached and len(attached) == 2
    assert len(client.list_snapshots()) == 2
    assert VMContext.objects.get().current_status == "test_failover"
    assert assert_documented(operator_client.get(f"/api/v1/failover/test/{job.job_id}"))["test_running"] is True

    # The test VM writes to its disks.
    for replica in lab_vm.replicas:
        write_at(lab_vm.backing_file(replica.volume_id), 0, b"guest was here" * 100)
    assert lab_vm.current_digests() != lab_vm.digests

    with django_capture_on_commit_callbacks(execute=True):
        ended = operator_client.delete(f"/api/v1/failover/test/{job.job_id}")
    assert ended.status_code == 200, ended.json()
    assert assert_documented(ended)["cleanup_status"] == "in_progress"
    job.refresh_from_db()
    assert job.status == "completed" and job.ended_at is not None and job.cleanup_status == "completed", job.error_message
    assert_back_on_control_plane(lab_vm, client)
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["rollback_log"] and status["volumes"] and status["events"]
    assert VMContext.objects.get().current_status == "ready_for_failover"



def test_unified_with_request_networks_and_skip_validation(operator_client, cloud, cloud_config, client, networks,
                                                           django_capture_on_commit_callbacks):
    from tests.failover.conftest import make_replicated_vm

    vm = make_replicated_vm(cloud, cloud_config, client, name="app-01", disks=1, nics=("VM Network", "Backup"))
    body = {"failover_type": "test", "vm_name": "app-01", "test_duration": "4h30m", "skip_validation": True,
            "network_mappings": {"VM Network": "test-failover-net", "Backup": networks["oma-net"]["id"]},
            "custom_config": {"service_offering_id": "Large Instance", "debug_mode": False}}
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/unified", body, format="json")
    assert response.status_code == 200, response.json()
    assert assert_documented(response)["data"]["test_duration"] == "4h30m"
    assert "test duration: 4h30m" in response.json()["estimated_duration"]
    job = FailoverJob.objects.get()
    assert job.status == "completed" and job.skip_validation and job.test_duration_seconds == 4.5 * 3600
    destination = client.get_vm(job.destination_vm_id)
    assert [n["networkid"] for n in destination["nic"]] == [networks["test-failover-net"]["id"],
                                                            networks["oma-net"]["id"]]
    assert destination["serviceofferingname"] == "Large Instance"
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["job_details"]["custom_config"]["network_mappings"] == {
        "VM Network": networks["test-failover-net"]["id"], "Backup": networks["oma-net"]["id"]}
    assert status["job_details"]["custom_config"]["debug_mode"] is False
    # The running test blocks a second failover of the VM until it ends.
    again = operator_client.post("/api/v1/failover/live", {"vm_id": vm.context.vm_id}, format="json")
    assert again.status_code == 409 and assert_documented(again)["error_code"] == "ACTIVE_JOBS"
    with django_capture_on_commit_callbacks(execute=True):
        ended = operator_client.post("/api/v1/failover/cleanup/app-01")
    assert ended.status_code == 200 and assert_documented(ended)["job_id"] == job.job_id
    job.refresh_from_db()
    assert job.status == "completed" and job.ended_at
    assert_back_on_control_plane(vm, client)


def test_skip_validation_still_needs_every_nic_mapped(operator_client, lab_vm, networks):
    from apps.failover.models import NetworkMapping

    NetworkMapping.objects.filter(is_test_network=True).delete()
    response = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h",
                                                              "skip_validation": True}, format="json")
    assert response.status_code == 400 and assert_documented(response)["error_code"] == "NETWORK_MAPPING_MISSING"
    bad = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h",
                                                         "skip_validation": True,
                                                         "network_mappings": {"VM Network": "nope"}}, format="json")
    assert bad.status_code == 400 and bad.json()["error_code"] == "NETWORK_NOT_FOUND"
    assert not FailoverJob.objects.exists()
    assert VMContext.objects.get().current_status == "ready_for_failover"
