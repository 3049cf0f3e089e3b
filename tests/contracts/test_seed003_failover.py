"""Seed 003 (the failover API): every request and response example, replayed against the platform.

The seed's VM (PGWINTESTBIOS, VMware id 4205a841-0265-f4bd-39a6-39fd92196f53, network "VM Network") is a replicated
lab VM in the CloudStack emulator. The seed's CloudStack network ids ("production-network-id", "test-network-id")
name networks of the seed author's cloud: replays that must succeed use the lab's networks in their place, and the
network mapping example is also replayed verbatim, where the missing network is refused in the seed's error shape.
"""
from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.failover.models import FailoverJob
from apps.replication.choices import ReplicationStatus, ReplicationType
from apps.replication.models import ReplicationJob
from tests.contracts.shape import assert_seed_answer, shape_errors
from tests.failover.conftest import make_replicated_vm, map_networks

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

VM_ID = "4205a841-0265-f4bd-39a6-39fd92196f53"

# --- examples copied from seed 003 ---------------------------------------------------------------------------------

# "POST /api/v1/failover/live"
LIVE_REQUEST = {"vm_id": VM_ID, "vm_name": "PGWINTESTBIOS", "skip_validation": False,
                "network_mappings": {"VM Network": "production-network-id"},
                "custom_config": {"cpu_overcommit": 1.5, "memory_overcommit": 1.2},
                "notification_config": {"email": "admin@company.com", "slack_webhook": "https://hooks.slack.com/..."}}
LIVE_RESPONSE = {"success": True, "message": "Live failover execution started successfully",
                 "job_id": "live-failover-4205a841-0265-f4bd-39a6-39fd92196f53-1755530108",
                 "estimated_duration": "5-10 minutes",
                 "data": {"job_type": "live", "status": "executing", "vm_id": VM_ID, "vm_name": "PGWINTESTBIOS"}}
REFUSED_RESPONSE = {"success": False, "message": "Validation failed",
                    "error": "VM has active migration jobs - cannot perform failover",
                    "required_actions": ["Wait for active migration to complete", "Cancel active migration job"]}

# "POST /api/v1/failover/test"
TEST_REQUEST = {"vm_id": VM_ID, "vm_name": "PGWINTESTBIOS", "skip_validation": False, "test_duration": "2h",
                "auto_cleanup": True, "network_mappings": {"VM Network": "test-network-id"},
                "custom_config": {"test_environment": True, "debug_mode": False}, "notification_config": {}}
TEST_RESPONSE = {"success": True, "message": "Test failover execution started successfully",
                 "job_id": "test-failover-4205a841-0265-f4bd-39a6-39fd92196f53-1755530108",
                 "estimated_duration": "3-10 minutes (test duration: 2h0s)",
                 "data": {"job_type": "test", "status": "executing", "vm_id": VM_ID, "vm_name": "PGWINTESTBIOS",
                          "test_duration": "2h", "auto_cleanup": True}}

# "DELETE /api/v1/failover/test/{job_id}"
END_TEST_RESPONSE = {"success": True, "message": "Test failover cleanup initiated successfully",
                     "job_id": "test-failover-4205a841-0265-f4bd-39a6-39fd92196f53-1755530108",
                     "cleanup_status": "in_progress", "estimated_cleanup_time": "2-5 minutes"}
END_TEST_ERROR = {"success": False, "message": "Cannot cleanup test failover",
                  "error": "Job not found or not in a state that allows cleanup", "job_status": "failed"}

# "GET /api/v1/failover/{job_id}/status"
STATUS_RESPONSE = {
    "success": True, "message": "Retrieved status for test failover job",
    "job_id": "test-failover-4205a841-0265-f4bd-39a6-39fd92196f53-1755530108", "status": "executing",
    "progress": 45.5, "start_time": "2025-08-18T16:15:08+01:00", "duration": 125000000000,
    "job_details": {"job_type": "test", "vm_id": VM_ID, "vm_name": "PGWINTESTBIOS",
                    "destination_vm_id": "ossea-vm-12345", "snapshot_id": "snapshot-67890", "error_message": None,
                    "started_at": "2025-08-18T16:15:08+01:00", "completed_at": None,
                    "custom_config": {"test_duration": "2h0s", "auto_cleanup": True,
                                      "network_mappings": {"VM Network": "test-network-default"}}}}

# "GET /api/v1/failover/{vm_id}/readiness"
READY_RESPONSE = {
    "success": True, "message": "VM failover readiness validation completed", "is_valid": True,
    "readiness_score": 100.0,
    "validation_result": {
        "vm_id": VM_ID, "is_ready": True, "readiness_score": 100.0, "estimated_duration": "5-8 minutes",
        "checks": [{"check_name": "VM Existence", "check_type": "critical", "status": "pass",
                    "message": "VM exists and is accessible", "execution_time": 45000000}],
        "warnings": [], "errors": [], "execution_time": 258000000},
    "required_actions": []}
NOT_READY_RESPONSE = {
    "success": True, "message": "VM failover readiness validation completed", "is_valid": False,
    "readiness_score": 25.0,
    "validation_result": {
        "vm_id": VM_ID, "is_ready": False, "readiness_score": 25.0,
        "estimated_duration": "Cannot estimate - validation failed",
        "checks": [{"check_name": "Active Jobs", "check_type": "critical", "status": "fail",
                    "message": "VM has active migration job in progress", "execution_time": 23000000,
                    "details": {"active_job_id": "migration-job-12345", "job_status": "replicating"}}],
        "warnings": ["VM network 'Legacy Network' not mapped to OSSEA network"],
        "errors": ["Active migration job must complete before failover", "Network mappings incomplete"],
        "execution_time": 189000000},
    "required_actions": ["Wait for migration job migration-job-12345 to complete",
                         "Create network mapping for 'Legacy Network'"]}

# "GET /api/v1/failover/jobs"
JOBS_REQUEST = "/api/v1/failover/jobs?status=completed&type=test&limit=10"
JOBS_RESPONSE = {"success": True, "message": "Retrieved failover jobs list", "total_jobs": 25, "returned_jobs": 10,
                 "jobs": [{"job_id": "test-failover-4205a841-0265-f4bd-39a6-39fd92196f53-1755530108", "vm_id": VM_ID,
                           "vm_name": "PGWINTESTBIOS", "job_type": "test", "status": "completed",
                           "created_at": "2025-08-18T16:15:08+01:00", "started_at": "2025-08-18T16:15:15+01:00",
                           "completed_at": "2025-08-18T18:20:33+01:00", "duration": 7518000000000,
                           "destination_vm_id": "ossea-vm-test-12345"}]}

# "2. VM Validation"
SYNC_STATUS_RESPONSE = {"success": True, "message": "VM sync status retrieved", "vm_id": VM_ID,
                        "sync_status": {"has_valid_change_id": True,
                                        "latest_change_id": "52 3c ec 11 9e 2c 4c 3d-87 4a c3 4e 85 f2 ea 95/5",
                                        "last_sync_time": "2025-08-18T15:35:21+01:00",
                                        "replication_job_id": "job-20250818-153521", "sync_percentage": 100.0,
                                        "is_ready_for_failover": True}}
NETWORK_STATUS_RESPONSE = {
    "success": True, "message": "Network mapping status retrieved", "vm_id": VM_ID,
    "network_status": {"total_networks": 1, "mapped_networks": 1, "unmapped_networks": 0,
                       "test_networks_available": True,
                       "mappings": [{"source_network_name": "VM Network",
                                     "destination_network_id": "test-network-default",
                                     "destination_network_name": "Test Network", "is_test_network": True,
                                     "status": "mapped"}],
                       "unmapped": [], "is_ready_for_failover": True}}
VOLUME_STATUS_RESPONSE = {
    "success": True, "message": "Volume status retrieved", "vm_id": VM_ID,
    "volume_status": {"volume_id": "e915ef05-ddf5-48d5-8352-a01300609717",
                      "volume_name": "migration-PGWINTESTBIOS-PGWINTESTBIOS-disk-0", "volume_status": "attached",
                      "size_gb": 54, "volume_type": "ROOT", "attachment_status": "attached_to_oma",
                      "is_accessible": True, "is_ready_for_failover": True}}
ACTIVE_JOBS_RESPONSE = {"success": True, "message": "Active jobs status retrieved", "vm_id": VM_ID,
                        "active_jobs": {"has_active_jobs": False, "migration_jobs": [], "failover_jobs": [],
                                        "total_active": 0, "is_ready_for_failover": True}}

# "3. Network Management"
MAPPING_REQUEST = {"vm_id": VM_ID, "source_network_name": "VM Network", "destination_network_id": "network-production-123",
                   "destination_network_name": "Production Network", "is_test_network": False}
MAPPING_RESPONSE = {"success": True, "message": "Network mapping created successfully",
                    "mapping": {"id": 15, "vm_id": VM_ID, "source_network_name": "VM Network",
                                "destination_network_id": "network-production-123",
                                "destination_network_name": "Production Network", "is_test_network": False,
                                "created_at": "2025-08-18T16:30:00+01:00"}}
VM_MAPPINGS_RESPONSE = {"success": True, "message": "Network mappings retrieved", "vm_id": VM_ID,
                        "mappings": [{"id": 15, "source_network_name": "VM Network",
                                      "destination_network_id": "network-production-123",
                                      "destination_network_name": "Production Network", "is_test_network": False,
                                      "created_at": "2025-08-18T16:30:00+01:00",
                                      "updated_at": "2025-08-18T16:30:00+01:00"}],
                        "total_mappings": 1}

# "4. Debug Operations"
DEBUG_HEALTH_RESPONSE = {"success": True, "message": "System health check completed", "status": "healthy",
                         "components": {"database": "connected", "ossea_client": "configured",
                                        "failover_engines": "initialized", "api_server": "running"},
                         "metrics": {"active_failover_jobs": 2, "total_vms_discovered": 95, "ossea_volumes": 12,
                                     "network_mappings": 8}}

# "Error Handling" / "Standard Error Response Format"
STANDARD_ERROR = {"success": False, "message": "Error description", "error": "Detailed error message",
                  "error_code": "VALIDATION_FAILED", "timestamp": "2025-08-18T16:45:30+01:00",
                  "request_id": "req-12345-67890"}

# Sections without an example answer: what every answer of seed 003 has.
ANSWER = {"success": True, "message": ""}


# --- the seed's VM ---------------------------------------------------------------------------------------------------

@pytest.fixture
def seed_vm(cloud, cloud_config, client, networks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="PGWINTESTBIOS")
    vm.context.vm_id = VM_ID
    vm.context.save(update_fields=["vm_id"])
    map_networks(vm, networks)
    return vm


def lab_networks(body: dict, network: str) -> dict:
    """The seed's request with the lab's network where the seed names a network of its author's cloud."""
    return body | {"network_mappings": {"VM Network": network}}


def job_row(vm, job_type: str, status: str, **fields) -> FailoverJob:
    return FailoverJob.objects.create(job_id=f"{job_type}-failover-{VM_ID}-{1755530108 + FailoverJob.objects.count()}",
                                      vm_context=vm.context, job_type=job_type, status=status, **fields)


# --- 1. Failover Management ------------------------------------------------------------------------------------------

# The start answers come before the job's first step: data.status is the job's own ("pending"), where the seed's
# answer says "executing" (docs/api-compatibility.md).

def test_live_failover_starts(operator_client, seed_vm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # the worker would run it; the answer is what is checked here
        response = operator_client.post("/api/v1/failover/live", lab_networks(LIVE_REQUEST, "migration-net"),
                                        format="json")
    body = assert_seed_answer(response, 200, LIVE_RESPONSE)
    assert body["job_id"].startswith(f"live-failover-{VM_ID}-") and body["data"]["job_type"] == "live"
    assert body["data"]["vm_name"] == "PGWINTESTBIOS"


def test_live_failover_refused_while_a_migration_runs(operator_client, seed_vm):
    ReplicationJob.objects.create(job_id="migration-job-12345", vm_context=seed_vm.context,
                                  replication_type=ReplicationType.INCREMENTAL, status=ReplicationStatus.REPLICATING)
    response = operator_client.post("/api/v1/failover/live", lab_networks(LIVE_REQUEST, "migration-net"),
                                    format="json")
    body = assert_seed_answer(response, 409, REFUSED_RESPONSE, nonempty=("required_actions",))
    assert "migration-job-12345" in body["error"] + " ".join(body["required_actions"])


def test_test_failover_starts(operator_client, seed_vm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = operator_client.post("/api/v1/failover/test", lab_networks(TEST_REQUEST, "test-failover-net"),
                                        format="json")
    body = assert_seed_answer(response, 200, TEST_RESPONSE)
    assert body["data"]["test_duration"] == "2h" and body["data"]["auto_cleanup"] is True
    assert "(test duration: 2h" in body["estimated_duration"]


def test_test_failover_with_the_seeds_networks_is_refused_in_the_error_shape(operator_client, seed_vm):
    # The seed's body names "test-network-id", a network the lab's CloudStack does not have.
    response = operator_client.post("/api/v1/failover/test", TEST_REQUEST, format="json")
    body = assert_seed_answer(response, 400, STANDARD_ERROR)
    assert "test-network-id" in body["error"]
    assert not FailoverJob.objects.exists()


# A job that has taken no snapshot (yet, or failed before) answers snapshot_id null (docs/api-compatibility.md).
NO_SNAPSHOT_YET = {"job_details.snapshot_id": "null until the job's snapshot exists"}


def test_failed_test_failover_reports_its_error_in_its_status(operator_client, seed_vm):
    # "Current Known Issue": our start answers before any CloudStack call, so a snapshot failure is the failed job's
    # status (error_message), not the start answer (docs/api-compatibility.md).
    job = job_row(seed_vm, "test", "failed", started_at=timezone.now(), destination_vm_id="ossea-vm-12345",
                  network_overrides={"VM Network": "test-failover-net"},
                  error_message="Failed to create test snapshot: CloudStack API error 530")
    body = assert_seed_answer(operator_client.get(f"/api/v1/failover/{job.job_id}/status"), 200, STATUS_RESPONSE,
                              differences=NO_SNAPSHOT_YET)
    assert body["job_details"]["snapshot_id"] is None and body["status"] == "failed"
    assert "530" in body["job_details"]["error_message"]


def test_end_test_failover(operator_client, seed_vm, django_capture_on_commit_callbacks):
    job = job_row(seed_vm, "test", "completed", started_at=timezone.now(), completed_at=timezone.now(),
                  destination_vm_id="ossea-vm-12345")
    with django_capture_on_commit_callbacks():
        response = operator_client.delete(f"/api/v1/failover/test/{job.job_id}")
    body = assert_seed_answer(response, 200, END_TEST_RESPONSE)
    assert body["job_id"] == job.job_id and body["cleanup_status"] == "in_progress"


def test_end_test_failover_refused(operator_client, seed_vm):
    job = job_row(seed_vm, "test", "failed")
    body = assert_seed_answer(operator_client.delete(f"/api/v1/failover/test/{job.job_id}"), 409, END_TEST_ERROR)
    assert body["job_status"] == "failed" and body["message"] == "Cannot cleanup test failover"


def test_failover_job_status(operator_client, seed_vm):
    job = job_row(seed_vm, "test", "creating_vm", started_at=timezone.now() - timedelta(seconds=125),
                  progress=45.5, destination_vm_id="ossea-vm-12345", test_duration="2h0s", auto_cleanup=True,
                  network_overrides={"VM Network": "test-failover-net"})
    body = assert_seed_answer(operator_client.get(f"/api/v1/failover/{job.job_id}/status"), 200, STATUS_RESPONSE,
                              differences=NO_SNAPSHOT_YET)
    assert body["progress"] == 45.5 and 124e9 < body["duration"] < 130e9  # nanoseconds, as the seed
    assert body["job_details"]["custom_config"]["auto_cleanup"] is True
    # Beside the seed's names, the same figures in the names and units every answer uses.
    assert body["progress_percent"] == 45.5 and 124 < body["duration_seconds"] < 130
    assert body["state"] == "creating_vm"


def test_a_running_test_failover_says_so(viewer_client, seed_vm):
    # The seed's "completed" (failover successful) stays the status; state tells a test VM still running.
    running = job_row(seed_vm, "test", "completed", started_at=timezone.now(), completed_at=timezone.now())
    body = assert_seed_answer(viewer_client.get(f"/api/v1/failover/{running.job_id}/status"), 200, STATUS_RESPONSE,
                              differences=NO_SNAPSHOT_YET | {"job_details.destination_vm_id": "none in this row",
                                                             "job_details.custom_config.network_mappings.VM Network":
                                                             "no override in this row"})
    assert (body["status"], body["state"], body["test_running"]) == ("completed", "test_running", True)
    listed = viewer_client.get("/api/v1/failover/jobs").json()["jobs"]
    assert [j["state"] for j in listed] == ["test_running"]
    running.ended_at = timezone.now()
    running.save(update_fields=["ended_at"])
    assert viewer_client.get(f"/api/v1/failover/{running.job_id}/status").json()["state"] == "test_ended"


def test_readiness_of_a_ready_vm(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/failover/{VM_ID}/readiness"), 200, READY_RESPONSE)
    assert body["is_valid"] is True and body["validation_result"]["is_ready"] is True
    assert body["required_actions"] == []
    result = body["validation_result"]  # nanoseconds as the seed, and milliseconds beside them
    assert result["execution_time_ms"] == round(result["execution_time"] / 1e6, 3)
    assert all(c["execution_time_ms"] == round(c["execution_time"] / 1e6, 3) for c in result["checks"])


def test_readiness_of_a_vm_with_an_active_migration(viewer_client, seed_vm):
    ReplicationJob.objects.create(job_id="migration-job-12345", vm_context=seed_vm.context,
                                  replication_type=ReplicationType.INCREMENTAL, status=ReplicationStatus.REPLICATING)
    # A check's details are its own: the seed's (active_job_id, job_status) are the Active Jobs check's.
    documented = copy.deepcopy(NOT_READY_RESPONSE)
    active_check = documented["validation_result"]["checks"][0]
    documented["validation_result"]["checks"][0] = active_check | {"details": None}
    body = assert_seed_answer(viewer_client.get(f"/api/v1/failover/{VM_ID}/readiness"), 200, documented,
                              nonempty=("required_actions",))
    assert body["is_valid"] is False and body["validation_result"]["errors"]
    [failed] = [c for c in body["validation_result"]["checks"] if c["status"] == "fail"]
    assert not shape_errors(failed, active_check), shape_errors(failed, active_check)
    assert failed["details"]["active_job_id"] == "migration-job-12345"
    assert failed["details"]["job_status"] == "replicating"


def test_failover_jobs_list(viewer_client, seed_vm):
    job_row(seed_vm, "test", "completed", started_at=timezone.now() - timedelta(hours=2), completed_at=timezone.now(),
            destination_vm_id="ossea-vm-test-12345")
    job_row(seed_vm, "live", "failed")
    body = assert_seed_answer(viewer_client.get(JOBS_REQUEST), 200, JOBS_RESPONSE, nonempty=("jobs",))
    assert (body["total_jobs"], body["returned_jobs"]) == (1, 1) and body["jobs"][0]["job_type"] == "test"


# --- 2. VM Validation ------------------------------------------------------------------------------------------------

def test_vm_failover_readiness_is_the_readiness(viewer_client, seed_vm):
    assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/failover-readiness"), 200, READY_RESPONSE)


def test_vm_sync_status(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/sync-status"), 200, SYNC_STATUS_RESPONSE)
    assert body["sync_status"]["has_valid_change_id"] is True


def test_vm_network_mapping_status(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/network-mapping-status"), 200,
                              NETWORK_STATUS_RESPONSE)
    assert body["network_status"]["unmapped_networks"] == 0 and body["network_status"]["mappings"]


def test_vm_volume_status(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/volume-status"), 200, VOLUME_STATUS_RESPONSE)
    assert body["volume_status"]["volume_id"] == seed_vm.replicas[0].volume_id


def test_vm_active_jobs(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/active-jobs"), 200, ACTIVE_JOBS_RESPONSE)
    assert body["active_jobs"]["has_active_jobs"] is False


def test_vm_configuration_check(viewer_client, seed_vm):
    assert_seed_answer(viewer_client.get(f"/api/v1/vms/{VM_ID}/configuration-check"), 200, ANSWER)


def test_vm_validation_of_an_unknown_vm_is_the_standard_error(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get("/api/v1/vms/4205a841-0000-0000-0000-000000000000/sync-status"), 404,
                              STANDARD_ERROR)
    assert body["error_code"] == "VM_NOT_FOUND"


# --- 3. Network Management -------------------------------------------------------------------------------------------

def test_network_mapping_of_the_seeds_network_is_refused_in_the_error_shape(operator_client, seed_vm):
    # Verbatim: "network-production-123" is no network of the lab's CloudStack.
    body = assert_seed_answer(operator_client.post("/api/v1/network-mappings", MAPPING_REQUEST, format="json"), 400,
                              STANDARD_ERROR)
    assert body["error_code"] == "NETWORK_NOT_FOUND" and "network-production-123" in body["error"]


def test_network_mapping_created(operator_client, seed_vm, networks):
    seed_vm.context.network_mappings.all().delete()
    request = MAPPING_REQUEST | {"destination_network_id": networks["migration-net"]["id"]}
    # 201 Created (seed 001's status codes) for the new mapping; docs/api-compatibility.md.
    body = assert_seed_answer(operator_client.post("/api/v1/network-mappings", request, format="json"), 201,
                              MAPPING_RESPONSE)
    assert body["mapping"]["destination_network_name"] == "migration-net"


def test_network_mappings_of_a_vm(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get(f"/api/v1/network-mappings/{VM_ID}"), 200, VM_MAPPINGS_RESPONSE,
                              nonempty=("mappings",))
    assert body["total_mappings"] == 2


def test_network_mappings_put(operator_client, seed_vm, networks):
    request = {"source_network_name": "VM Network", "destination_network_id": networks["test-failover-net"]["id"],
               "is_test_network": True}
    body = assert_seed_answer(operator_client.put(f"/api/v1/network-mappings/{VM_ID}", request, format="json"), 200,
                              ANSWER | {"vm_id": VM_ID, "mappings": VM_MAPPINGS_RESPONSE["mappings"]})
    assert body["success"] is True


def test_network_mappings_delete(operator_client, seed_vm):
    assert_seed_answer(operator_client.delete(f"/api/v1/network-mappings/{VM_ID}"), 200, ANSWER | {"vm_id": VM_ID})
    assert not seed_vm.context.network_mappings.exists()


def test_network_mappings_list(viewer_client, seed_vm):
    assert_seed_answer(viewer_client.get("/api/v1/network-mappings"), 200, ANSWER)


# --- 4. Debug Operations ---------------------------------------------------------------------------------------------

def test_debug_health(viewer_client, seed_vm):
    body = assert_seed_answer(viewer_client.get("/api/v1/debug/health"), 200, DEBUG_HEALTH_RESPONSE)
    assert body["components"]["database"] == "connected"


def test_debug_failover_jobs(viewer_client, seed_vm):
    assert_seed_answer(viewer_client.get("/api/v1/debug/failover-jobs"), 200, ANSWER)


@pytest.mark.parametrize("path", ["/api/v1/debug/endpoints", "/api/v1/debug/logs"])
def test_debug_endpoints_and_logs(admin_client_api, seed_vm, path):
    # The endpoint list and the logs are for administrators.
    assert_seed_answer(admin_client_api.get(path), 200, ANSWER)


# --- Error Handling --------------------------------------------------------------------------------------------------

def test_standard_error_response_format(operator_client, seed_vm):
    response = operator_client.post("/api/v1/failover/live", LIVE_REQUEST | {"vm_id": "vm-does-not-exist"},
                                    format="json")
    body = assert_seed_answer(response, 404, STANDARD_ERROR)
    assert body["error_code"] == "VM_NOT_FOUND" and body["timestamp"].endswith("Z")
