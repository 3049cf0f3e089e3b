"""Readiness validation against the emulator: every check for real, each failure with an action."""
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.failover.models import NetworkMapping
from apps.replication.choices import ReplicationStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob
from tests.factories import VMNicFactory
from tests.failover.conftest import make_replicated_vm, map_networks

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def readiness(api, vm, failover_type="live"):
    response = api.get(f"/api/v1/failover/{vm.context.vm_id}/readiness", {"failover_type": failover_type})
    assert response.status_code == 200, response.json()
    return response.json()


def check(body, name):
    return next(c for c in body["validation_result"]["checks"] if c["check_name"] == name)


@pytest.mark.parametrize("failover_type", ["live", "test"])
def test_ready_vm_passes_every_check(viewer_client, lab_vm, failover_type):
    body = readiness(viewer_client, lab_vm, failover_type)
    assert body["success"] and body["is_valid"] and body["readiness_score"] == 100.0
    result = body["validation_result"]
    assert result["is_ready"] and result["errors"] == [] and result["warnings"] == [] and body["required_actions"] == []
    names = [c["check_name"] for c in result["checks"]]
    assert names[:3] == ["VM Existence", "VM State", "Sync Status"]
    assert ("Destination VM Name" in names) == (failover_type == "live")
    for item in result["checks"]:
        assert item["status"] == "pass" and item["check_type"] in ("critical", "warning")
        assert isinstance(item["execution_time"], int) and item["execution_time"] > 0 and item["message"]
    sync = check(body, "Sync Status")
    assert sync["details"]["job_id"] == "job-seed-pgtest1" and sync["details"]["change_id"].endswith("/5")
    assert "minutes" in result["estimated_duration"]
    # The same answer on the seed's other path.
    other = viewer_client.get(f"/api/v1/vms/{lab_vm.context.vm_name}/failover-readiness",
                              {"failover_type": failover_type}).json()
    assert other["is_valid"] and [c["check_name"] for c in other["validation_result"]["checks"]] == names


def test_active_replication_fails_with_the_job_and_what_to_do(operator_client, lab_vm):
    ReplicationJob.objects.create(job_id="job-20250818-153521", vm_context=lab_vm.context,
                                  replication_type="incremental", status=ReplicationStatus.REPLICATING)
    body = readiness(operator_client, lab_vm)
    assert not body["is_valid"] and body["readiness_score"] < 100
    active = check(body, "Active Jobs")
    assert active["status"] == "fail" and active["check_type"] == "critical"
    assert active["details"]["active_job_id"] == "job-20250818-153521" and active["details"]["job_status"] == "replicating"
    assert "Wait for migration job job-20250818-153521 to complete, or cancel it" in body["required_actions"][0]
    assert body["validation_result"]["estimated_duration"] == "Cannot estimate - validation failed"
    started = operator_client.post("/api/v1/failover/live", {"vm_id": lab_vm.context.vm_id}, format="json")
    assert started.status_code == 409
    refusal = started.json()
    assert refusal["success"] is False and refusal["message"] == "Validation failed"
    assert refusal["error"] == "VM has active migration jobs - cannot perform failover"
    assert refusal["error_code"] == "ACTIVE_JOBS" and refusal["timestamp"]
    assert refusal["required_actions"][0] == "Wait for migration job job-20250818-153521 to complete"
    assert operator_client.get(f"/api/v1/vms/{lab_vm.context.vm_id}/active-jobs").json()["active_jobs"][
        "migration_jobs"][0]["job_id"] == "job-20250818-153521"


def test_unmapped_network_and_test_networks(operator_client, lab_vm, networks):
    VMNicFactory(vm_context=lab_vm.context, label="Network adapter 2", network_name="Legacy Network")
    body = readiness(operator_client, lab_vm)
    mapping = check(body, "Network Mapping")
    assert mapping["status"] == "fail" and mapping["details"]["unmapped"] == ["Legacy Network"]
    assert "Create network mapping for 'Legacy Network'" in body["required_actions"][0]
    started = operator_client.post("/api/v1/failover/live", {"vm_id": lab_vm.context.vm_id}, format="json")
    assert started.status_code == 400 and started.json()["error_code"] == "NETWORK_MAPPING_MISSING"
    assert "Legacy Network" in started.json()["error"]
    assert started.json()["validation_result"]["readiness_score"] < 100
    # A request's network_mappings fill the gap (by CloudStack network name or id).
    ok = operator_client.post("/api/v1/failover/preflight/validate",
                              {"vm_id": lab_vm.context.vm_id, "failover_type": "live",
                               "network_mappings": {"Legacy Network": "oma-net"}}, format="json").json()
    assert ok["is_valid"], ok["required_actions"]
    status = operator_client.get(f"/api/v1/vms/{lab_vm.context.vm_id}/network-mapping-status").json()["network_status"]
    assert status["total_networks"] == 2 and status["mapped_networks"] == 1 and status["unmapped"] == ["Legacy Network"]
    assert status["test_networks_available"] is True and not status["is_ready_for_failover"]

    # Only production mappings: a test failover needs test networks.
    NetworkMapping.objects.filter(is_test_network=True).delete()
    VMNicFactory._meta.model.objects.filter(network_name="Legacy Network").delete()
    test = readiness(operator_client, lab_vm, "test")
    assert check(test, "Network Mapping")["status"] == "fail" and "is_test_network=true" in test["required_actions"][0]
    assert readiness(operator_client, lab_vm, "live")["is_valid"]


def test_mapping_to_a_network_that_is_gone(operator_client, lab_vm):
    NetworkMapping.objects.filter(is_test_network=False).update(destination_network_id="deleted-net")
    body = readiness(operator_client, lab_vm)
    destination = check(body, "Destination Networks")
    assert destination["status"] == "fail" and "deleted-net" in destination["message"]


def test_no_sync_and_missing_change_ids(operator_client, lab_vm):
    ChangeIdRecord.objects.filter(disk_id="disk-1").delete()
    body = readiness(operator_client, lab_vm)
    sync = check(body, "Sync Status")
    assert sync["status"] == "fail" and "disk-1" in sync["message"]
    ReplicationJob.objects.update(status=ReplicationStatus.FAILED)
    body = readiness(operator_client, lab_vm)
    assert check(body, "Sync Status")["message"] == "VM has no completed sync"
    assert any("Run a replication" in a for a in body["required_actions"])
    sync_status = operator_client.get(f"/api/v1/vms/{lab_vm.context.vm_id}/sync-status").json()["sync_status"]
    assert sync_status["has_valid_change_id"] is False and sync_status["replication_job_id"] is None


def test_old_sync_is_a_warning_only(operator_client, lab_vm):
    type(lab_vm.context).objects.filter(pk=lab_vm.context.pk).update(last_sync_at=timezone.now() - timedelta(days=3))
    body = readiness(operator_client, lab_vm, "test")
    age = check(body, "Sync Age")
    assert age["check_type"] == "warning" and age["status"] == "fail" and "72.0 hours old" in age["message"]
    assert body["is_valid"] and body["readiness_score"] < 100 and body["validation_result"]["warnings"]
    assert "incremental sync" in body["required_actions"][0]


def test_volume_detached_or_gone(operator_client, lab_vm, client):
    boot, data = lab_vm.replicas
    client.detach_volume(data.volume_id)
    body = readiness(operator_client, lab_vm)
    volumes = check(body, "Volume Status")
    assert volumes["status"] == "fail" and f"volume {data.volume_id} of disk-1 is detached" in volumes["message"]
    status = operator_client.get(f"/api/v1/vms/{lab_vm.context.vm_id}/volume-status").json()
    assert status["volume_status"]["volume_id"] == boot.volume_id and status["volume_status"]["volume_type"] == "ROOT"
    assert status["volume_status"]["attachment_status"] == "attached_to_oma" and status["volume_status"]["is_accessible"]
    assert status["volumes"][1]["attachment_status"] == "detached" and not status["is_ready_for_failover"]
    client.delete_volume(data.volume_id)
    body = readiness(operator_client, lab_vm)
    assert "gone from CloudStack" in check(body, "Volume Status")["message"]
    assert any("recreates the missing volume" in a for a in body["required_actions"])
    started = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h"},
                                   format="json")
    assert started.status_code == 409 and started.json()["error_code"] == "VOLUME_NOT_AVAILABLE"


def test_offering_that_does_not_fit(operator_client, lab_vm, client, cloud_config):
    small = next(o for o in client.list_service_offerings() if o["name"] == "Small Instance")
    cloud_config.service_offering_id = small["id"]
    cloud_config.save()
    body = readiness(operator_client, lab_vm)
    compute = check(body, "Compute Offering")
    assert compute["status"] == "fail" and "smaller than the VM (2 vCPU, 2048 MB)" in compute["message"]
    # Without a configured offering the smallest that fits is chosen; the customized one when none fits.
    cloud_config.service_offering_id = ""
    cloud_config.save()
    assert check(readiness(operator_client, lab_vm), "Compute Offering")["details"]["service_offering_name"] == \
        "Medium Instance"
    type(lab_vm.context).objects.filter(pk=lab_vm.context.pk).update(cpu_count=16, memory_mb=65536)
    details = check(readiness(operator_client, lab_vm), "Compute Offering")["details"]
    assert details["customized"] and details["cpu_number"] == 16 and details["memory_mb"] == 65536


def test_destination_name_taken_for_live(operator_client, cloud, cloud_config, client, networks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="web-01", disks=1)
    map_networks(vm, networks)
    body = readiness(operator_client, vm)
    name = check(body, "Destination VM Name")
    assert name["status"] == "fail" and "named 'web-01' already exists" in name["message"]
    assert "custom_config.vm_name" in body["required_actions"][0]
    ok = operator_client.post("/api/v1/failover/preflight/validate",
                              {"vm_name": "web-01", "custom_config": {"vm_name": "web-01-migrated"}}, format="json")
    assert ok.json()["is_valid"]


def test_cloudstack_unreachable_skips_what_needs_it(operator_client, lab_vm, cloud_config):
    cloud_config.api_url = "http://127.0.0.1:1/client/api"
    cloud_config.save()
    body = readiness(operator_client, lab_vm)
    connectivity = check(body, "CloudStack Connectivity")
    assert connectivity["status"] == "fail" and "Cannot reach CloudStack" in connectivity["message"]
    assert check(body, "Volume Status")["status"] == "skip" and not body["is_valid"]
    started = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "1h"},
                                   format="json")
    assert started.status_code == 502 and started.json()["error_code"] == "OSSEA_API_ERROR"


def test_configuration_check_combines_everything(viewer_client, lab_vm):
    NetworkMapping.objects.filter(is_test_network=True).delete()
    body = viewer_client.get(f"/api/v1/vms/{lab_vm.context.vm_id}/configuration-check").json()
    assert body["is_valid"] is True and body["is_valid_for_test"] is False
    assert body["configuration"]["live"]["is_ready"] and not body["configuration"]["test"]["is_ready"]
    assert body["sync_status"]["has_valid_change_id"] and body["active_jobs"]["total_active"] == 0
    assert any("is_test_network=true" in a for a in body["required_actions"])


def test_preflight_config_shows_the_plan(viewer_client, lab_vm, networks):
    body = viewer_client.get(f"/api/v1/failover/preflight/config/test/{lab_vm.context.vm_name}").json()
    assert body["is_ready"] and body["failover_type"] == "test"
    configuration = body["configuration"]
    assert configuration["networks"][0]["destination_network_id"] == networks["test-failover-net"]["id"]
    assert configuration["compute"]["service_offering_name"] == "Medium Instance"
    assert [v["role"] for v in configuration["volumes"]] == ["root", "data"]
    assert configuration["volumes"][0]["volume_id"] == lab_vm.replicas[0].volume_id
    live = viewer_client.get(f"/api/v1/failover/preflight/config/live/{lab_vm.context.vm_name}").json()
    assert live["configuration"]["destination_vm_name"] == "pgtest1" and live["configuration"]["final_sync"] is True


def test_two_nics_on_one_cloudstack_network_warn_that_they_become_one(operator_client, cloud, cloud_config, client,
                                                                      networks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="two-nics", disks=1, nics=("VM Network", "Backup"))
    map_networks(vm, networks)
    body = readiness(operator_client, vm)
    # A warning, not a refusal: the failover may go ahead with one NIC there.
    assert body["is_valid"] and body["readiness_score"] < 100
    layout = check(body, "NIC Layout")
    assert layout["status"] == "fail" and layout["check_type"] == "warning"
    assert layout["details"]["source_nics"] == 2 and layout["details"]["destination_nics"] == 1
    assert layout["details"]["shared_networks"][0]["destination_network_id"] == networks["migration-net"]["id"]
    assert "one NIC per network" in body["validation_result"]["warnings"][0]
    assert any("Map 'Backup' to another CloudStack network" in action for action in body["required_actions"])
    # Mapped apart (here for the test failover's networks), the warning goes.
    NetworkMapping.objects.filter(vm_context=vm.context, source_network_name="Backup", is_test_network=True).update(
        destination_network_id=networks["oma-net"]["id"], destination_network_name="oma-net")
    apart = readiness(operator_client, vm, "test")
    assert check(apart, "NIC Layout")["status"] == "pass" and apart["validation_result"]["warnings"] == []
