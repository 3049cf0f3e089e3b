"""Seed 001 (the control plane API): every request and response example, replayed against the platform.

Each test names the seed section it copies. Values that name the seed author's environment (a CloudStack URL, the
database id of a configuration) are replaced by what the test's fixtures provide, as the comments say.
"""
from __future__ import annotations

import pytest
from django.utils import timezone

from apps.core.models import hash_token
from apps.enrollment.choices import ApplianceStatus
from apps.enrollment.services.appliances import appliance_identity_create
from apps.replication.choices import ReplicationStatus, ReplicationType, VolumeStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume, VMExportMapping
from apps.settings.models import OsseaConfig
from tests.contracts.shape import assert_seed_answer
from tests.contracts.test_seed002_agent import DISCOVER_RESPONSE
from tests.factories import CredentialFactory, OsseaConfigFactory, VMContextFactory, VMDiskFactory, vm_with_disks
from tests.failover.conftest import HttpPeer
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

# --- examples copied from seed 001 ---------------------------------------------------------------------------------

# "Authentication" / "Login"
LOGIN_REQUEST = {"appliance_id": "test-vma", "token": "vma_test_token_abc123def456789012345678", "version": "1.0.0"}
LOGIN_RESPONSE = {"success": True, "message": "Authentication successful",
                  "session_token": "oma_session_xyz789abc456def123", "expires_at": "2025-08-06T12:00:00Z"}

# "OSSEA Configuration Management"
CONFIGURATION = {"id": 1, "name": "production-ossea", "api_url": "http://10.245.241.101:8080/client/api",
                 "api_key": "GdsWBVHco0OOW4vBlgfnyzjru65FV-U1l1kKJ7n2WwH0gn3soTaZQZZyXfgUsxX7PyP06WrOOOcNRKmhRWDSlA",
                 "secret_key": "[REDACTED]", "domain": "/", "zone": "OSSEA-Zone",
                 "oma_vm_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "is_active": True,
                 "created_at": "2025-08-06T11:25:47Z", "updated_at": "2025-08-06T11:26:17Z"}
GET_ALL_REQUEST = {"action": "get"}
GET_ALL_RESPONSE = {"success": True, "configurations": [CONFIGURATION]}
GET_BY_ID_REQUEST = {"action": "get", "id": 1}
CREATE_REQUEST = {"action": "create", "configuration": {
    "name": "production-ossea", "api_url": "http://10.245.241.101:8080/client/api",
    "api_key": "GdsWBVHco0OOW4vBlgfnyzjru65FV-U1l1kKJ7n2WwH0gn3soTaZQZZyXfgUsxX7PyP06WrOOOcNRKmhRWDSlA",
    "secret_key": "uTCroKUkHZaNybhBXkcQsCb_eKDvZKbhHaZK4I1nHrGJYLKN-j0O-t9EGUx9yBdHH3F8dN5wVelitvdpQjwdcQ",
    "domain": "/", "zone": "OSSEA-Zone", "oma_vm_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"}}
UPDATE_REQUEST = {"action": "update", "id": 1,
                  "configuration": {"name": "production-ossea-updated", "zone": "OSSEA-Zone-Updated"}}
DELETE_REQUEST = {"action": "delete", "id": 1}
TEST_REQUEST = {"action": "test", "configuration": {
    "api_url": "http://10.245.241.101:8080/client/api",
    "api_key": "GdsWBVHco0OOW4vBlgfnyzjru65FV-U1l1kKJ7n2WwH0gn3soTaZQZZyXfgUsxX7PyP06WrOOOcNRKmhRWDSlA",
    "secret_key": "uTCroKUkHZaNybhBXkcQsCb_eKDvZKbhHaZK4I1nHrGJYLKN-j0O-t9EGUx9yBdHH3F8dN5wVelitvdpQjwdcQ",
    "domain": "/", "zone": "OSSEA-Zone"}}
TEST_RESPONSE = {"success": True, "message": "OSSEA connection test successful",
                 "details": {"zones_found": 1, "zone_verified": "OSSEA-Zone", "api_accessible": True}}

# "Replication Job Management" / "Create Automated Migration Job"
REPLICATION_REQUEST = {
    "source_vm": {"id": "vm-143233", "name": "PGWINTESTBIOS", "path": "/DatabanxDC/vm/PGWINTESTBIOS",
                  "datacenter": "DatabanxDC", "cpus": 2, "memory_mb": 4096,
                  "disks": [{"id": "disk-001", "path": "[datastore1] PGWINTESTBIOS/PGWINTESTBIOS.vmdk", "size_gb": 40,
                             "datastore": "datastore1", "capacity_bytes": 42949672960}]},
    "ossea_config_id": 1, "replication_type": "initial"}
REPLICATION_RESPONSE = {
    # The seed shows source_vm as {"..."}: an object.
    "job_id": "job-20250812-080802", "status": "ready_for_sync", "progress_percent": 100.0, "source_vm": {},
    "created_volumes": [{"volume_id": "vol-123456", "volume_name": "migration-pgtest2-pgtest2-disk-0", "size_gb": 40,
                         "status": "created"}],
    "nbd_exports": [{"export_name": "migration-vm-4205784a-098a-40f1-1f1e-a5cd2597fd59-disk0", "device_path": "/dev/vdc",
                     "port": 10809, "reused": True, "vm_id": "4205784a-098a-40f1-1f1e-a5cd2597fd59",
                     "disk_unit_number": 0}],
    "started_at": "2025-08-12T08:08:02Z",
    "message": "Migration workflow started - VM export reused without SIGHUP operation"}

# "Health and Monitoring"
HEALTH_RESPONSE = {"status": "healthy", "timestamp": "2025-08-06T11:18:06Z", "database": "connected",
                   "version": "1.0.0"}

# "Error Handling" / "Standard Error Response"
ERROR_RESPONSE = {"success": False, "error": "Configuration not found",
                  "details": "No OSSEA configuration found with ID: 999"}

# "VM Context API" / "Example Response (Detailed)" (the seed's /* comments */ become empty arrays)
VM_CONTEXT_RESPONSE = {
    "context": {"context_id": "ctx-pgtest1-20250909-113839", "vm_name": "pgtest1", "current_status": "replicating",
                "total_jobs_run": 2, "successful_jobs": 0, "failed_jobs": 0},
    "current_job": {"id": "job-20250909-114850", "status": "replicating", "progress_percent": 49.31,
                    "current_operation": "Transferring Data", "vma_throughput_mbps": 11.46, "vma_eta_seconds": 1631},
    "job_history": [], "disks": [], "cbt_history": []}

# The seed's lists are plain arrays ("Response: Array of VM contexts"); the rows' keys are not shown.
ARRAY = []


# --- replays -------------------------------------------------------------------------------------------------------

def enroll_seed_agent():
    """The seed's appliance with its pre-shared token, as an approved agent."""
    appliance_identity_create(appliance_id="test-vma", name="", version="", status=ApplianceStatus.APPROVED,
                              token_hash=hash_token(LOGIN_REQUEST["token"]))


def test_login_as_the_seed_agent(anon_client):
    enroll_seed_agent()
    body = assert_seed_answer(anon_client.post("/api/v1/auth/login", LOGIN_REQUEST, format="json"), 200,
                              LOGIN_RESPONSE)
    assert body["success"] is True and body["expires_at"].endswith("Z")


def test_login_error_is_the_standard_error(anon_client):
    response = anon_client.post("/api/v1/auth/login", LOGIN_REQUEST, format="json")  # nobody enrolled it
    assert_seed_answer(response, 401, ERROR_RESPONSE | {"details": None})


def test_logout_revokes_the_session(anon_client):
    enroll_seed_agent()
    token = anon_client.post("/api/v1/auth/login", LOGIN_REQUEST, format="json").json()["session_token"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_seed_answer(anon_client.post("/api/v1/auth/logout"), 200, {"success": True, "message": ""})
    assert_seed_answer(anon_client.post("/api/v1/auth/logout"), 401, ERROR_RESPONSE | {"details": None})


@pytest.fixture
def seed_config():
    """The seed's configuration (its id is whatever the database gives: the requests name it)."""
    return OsseaConfig.objects.create(**{k: v for k, v in CREATE_REQUEST["configuration"].items()})


def test_ossea_config_get_all(operator_client, seed_config):
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", GET_ALL_REQUEST, format="json"), 200,
                              GET_ALL_RESPONSE, nonempty=("configurations",))
    assert body["configurations"][0]["secret_key"] == "[REDACTED]"


def test_ossea_config_get_by_id(operator_client, seed_config):
    request = GET_BY_ID_REQUEST | {"id": seed_config.id}
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", request, format="json"), 200,
                              {"success": True, "configuration": CONFIGURATION})
    assert body["configuration"]["name"] == "production-ossea"


def test_ossea_config_create(operator_client, db):
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", CREATE_REQUEST, format="json"), 201,
                              {"success": True, "message": "", "configuration": CONFIGURATION})
    assert body["configuration"]["secret_key"] == "[REDACTED]"
    assert OsseaConfig.objects.get().secret_key == CREATE_REQUEST["configuration"]["secret_key"]


def test_ossea_config_update(operator_client, seed_config):
    request = UPDATE_REQUEST | {"id": seed_config.id}
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", request, format="json"), 200,
                              {"success": True, "configuration": CONFIGURATION})
    assert (body["configuration"]["name"], body["configuration"]["zone"]) == ("production-ossea-updated",
                                                                              "OSSEA-Zone-Updated")


def test_ossea_config_delete(operator_client, seed_config):
    request = DELETE_REQUEST | {"id": seed_config.id}
    assert_seed_answer(operator_client.post("/api/v1/ossea/config", request, format="json"), 200,
                       {"success": True, "message": ""})
    assert not OsseaConfig.objects.exists()


def test_ossea_config_test_connection(operator_client, cs_lab):
    # The seed's CloudStack is the lab emulator: its URL and keys replace the seed author's.
    request = {"action": "test", "configuration": TEST_REQUEST["configuration"] | {
        "api_url": cs_lab.url, "api_key": cs_lab.api_key, "secret_key": cs_lab.secret_key}}
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", request, format="json"), 200,
                              TEST_RESPONSE)
    assert body["details"] == {**body["details"], "zones_found": 1, "zone_verified": "OSSEA-Zone",
                               "api_accessible": True}


def test_standard_error_for_an_unknown_configuration(operator_client, db):
    # "Standard Error Response": the seed's own example is the configuration 999 that does not exist.
    response = operator_client.post("/api/v1/ossea/config", {"action": "get", "id": 999}, format="json")
    body = assert_seed_answer(response, 404, ERROR_RESPONSE)
    assert "999" in body["error"] + str(body["details"])


def test_bad_json_is_400_in_the_standard_error(operator_client, db):
    # "Common HTTP Status Codes": 400 - Bad Request (invalid JSON, missing fields)
    response = operator_client.post("/api/v1/ossea/config", "{not json", content_type="application/json")
    assert_seed_answer(response, 400, ERROR_RESPONSE | {"details": None})
    # A missing field: details holds the field errors as an object, where the seed's example has a sentence.
    body = assert_seed_answer(operator_client.post("/api/v1/ossea/config", {}, format="json"), 400, ERROR_RESPONSE,
                              differences={"details": "field errors, keyed by field"})
    assert body["details"] == {"action": ["This field is required."]}


def test_unauthorized_is_401_in_the_standard_error(anon_client, db):
    # "Common HTTP Status Codes": 401 - Unauthorized (invalid session token)
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer oma_session_xyz789abc456def123")
    assert_seed_answer(anon_client.get("/api/v1/vms"), 401, ERROR_RESPONSE | {"details": None})


def test_list_vms_is_an_array(operator_client, db):
    vm_with_disks(1, vm_name="pgtest1")
    body = assert_seed_answer(operator_client.get("/api/v1/vms"), 200, ARRAY, nonempty=("",))
    assert body[0]["vm_name"] == "pgtest1"


def test_list_vm_contexts_is_an_array(operator_client, db):
    vm_with_disks(1, vm_name="pgtest1")
    body = assert_seed_answer(operator_client.get("/api/v1/vm-contexts"), 200, ARRAY, nonempty=("",))
    assert {"context_id", "vm_name", "current_status"} <= set(body[0])


def test_lists_page_only_when_asked(operator_client, db):
    # Not in the seed: a client that gives limit or offset gets the page object (documented in the schema).
    vm_with_disks(1, vm_name="pgtest1")
    for path in ("/api/v1/vms", "/api/v1/vm-contexts", "/api/v1/replications", "/api/v1/replication/jobs"):
        paged = operator_client.get(f"{path}?limit=1")
        assert set(paged.json()) == {"count", "next", "previous", "results"}, path
        # Both answers are the ones the published schema documents.
        assert_matches_schema(paged, path, "get")
        assert_matches_schema(operator_client.get(path), path, "get")


def seed_vm():
    """The seed's VM (PGWINTESTBIOS, moref vm-143233, one 40 GiB disk) in the inventory."""
    context = VMContextFactory(vm_name="PGWINTESTBIOS", moref="vm-143233", vm_path="/DatabanxDC/vm/PGWINTESTBIOS",
                               datacenter="DatabanxDC", cpu_count=2, memory_mb=4096,
                               vm_id="4205784a-098a-40f1-1f1e-a5cd2597fd59")
    VMDiskFactory(vm_context=context, unit_number=0, disk_id="disk-001", disk_key=2000, capacity_bytes=42949672960)
    return context


# POST /replications: our job provisions and syncs in the background, so its first answer is the job as it starts
# (status "pending", progress 0) where the seed shows a job whose volumes were made before answering
# (docs/api-compatibility.md). Every key and type of the seed's answer holds.
FIRST_SYNC_DIFFERENCES = {"created_volumes[].volume_id": "null until the background provisioning created it"}


def test_create_replication_job_first_sync(operator_client, db):
    config = OsseaConfigFactory()
    seed_vm()
    request = REPLICATION_REQUEST | {"ossea_config_id": config.id}  # the seed's "1" is its database's id
    body = assert_seed_answer(operator_client.post("/api/v1/replications", request, format="json"), 202,
                              REPLICATION_RESPONSE, differences=FIRST_SYNC_DIFFERENCES, nonempty=("created_volumes",))
    assert body["status"] == "pending" and body["progress_percent"] == 0
    assert body["created_volumes"][0]["status"] == "pending" and body["created_volumes"][0]["size_gb"] == 40
    assert body["nbd_exports"] == [] and body["source_vm"]["name"] == "PGWINTESTBIOS"


def test_create_replication_job_reuses_the_vm_export(operator_client, db):
    # The seed's case: the VM's volume and NBD export exist from an earlier sync and are reused.
    config = OsseaConfigFactory()
    context = seed_vm()
    ReplicaVolume.objects.create(vm_context=context, disk_id="disk-001", disk_unit_number=0, volume_id="vol-123456",
                                 volume_name="migration-PGWINTESTBIOS-disk-0", size_bytes=42949672960,
                                 device_path="/dev/vdc", status=VolumeStatus.ATTACHED_TO_OMA)
    VMExportMapping.objects.create(vm_id=context.vm_id, disk_unit_number=0, vm_name=context.vm_name,
                                   export_name=f"migration-vm-{context.vm_id}-disk0", device_path="/dev/vdc",
                                   port=10809)
    request = REPLICATION_REQUEST | {"ossea_config_id": config.id}
    body = assert_seed_answer(operator_client.post("/api/v1/replications", request, format="json"), 202,
                              REPLICATION_RESPONSE, nonempty=("created_volumes", "nbd_exports"))
    assert body["created_volumes"][0] | {"status": "reused"} == body["created_volumes"][0]
    assert body["created_volumes"][0]["volume_id"] == "vol-123456"
    export = body["nbd_exports"][0]
    assert export["export_name"] == "migration-vm-4205784a-098a-40f1-1f1e-a5cd2597fd59-disk0"
    assert (export["port"], export["reused"], export["disk_unit_number"]) == (10809, True, 0)


def a_replicating_job():
    context = vm_with_disks(1, vm_name="pgtest1", current_status="replicating")
    job = ReplicationJob.objects.create(
        job_id="job-20250909-114850", vm_context=context, replication_type=ReplicationType.INITIAL,
        status=ReplicationStatus.REPLICATING, progress_percent=49.31, current_operation="Transferring Data",
        throughput_mbps=11.46, eta_seconds=1631, started_at=timezone.now())
    ChangeIdRecord.objects.create(vm_context=context, job=job, vm_path=context.vm_path, disk_id="disk-0",
                                  change_id="52 3c ec 11 9e 2c 4c 3d-87 4a c3 4e 85 f2 ea 95/5")
    return context, job


def test_list_replication_jobs_is_an_array(operator_client, db):
    a_replicating_job()
    body = assert_seed_answer(operator_client.get("/api/v1/replication/jobs"), 200, ARRAY, nonempty=("",))
    assert body[0]["job_id"] == "job-20250909-114850"
    assert_seed_answer(operator_client.get("/api/v1/replications"), 200, ARRAY, nonempty=("",))


def test_get_job_status(operator_client, db):
    a_replicating_job()
    body = assert_seed_answer(operator_client.get("/api/v1/replication/jobs/job-20250909-114850"), 200,
                              {"job_id": "", "status": "", "progress_percent": 0.0})
    assert body["status"] == "replicating" and body["progress_percent"] == 49.31


def test_unknown_job_is_404_in_the_standard_error(operator_client, db):
    assert_seed_answer(operator_client.get("/api/v1/replication/jobs/job-nope"), 404,
                       ERROR_RESPONSE | {"details": None})


def test_health(anon_client, db):
    body = assert_seed_answer(anon_client.get("/health"), 200, HEALTH_RESPONSE)
    assert body["status"] == "healthy" and body["database"] == "connected"


def test_vm_context_detail(operator_client, db):
    context, job = a_replicating_job()
    body = assert_seed_answer(operator_client.get("/api/v1/vm-contexts/pgtest1"), 200, VM_CONTEXT_RESPONSE,
                              nonempty=("job_history", "disks", "cbt_history"))
    assert body["current_job"]["id"] == job.job_id and body["current_job"]["vma_eta_seconds"] == 1631
    # Beside the seed's vma_ names, the names every answer uses.
    assert (body["current_job"]["throughput_mbps"], body["current_job"]["eta_seconds"]) == (11.46, 1631)
    assert body["context"]["context_id"] == context.context_id


def test_discover_vms_of_an_unknown_vcenter_is_the_standard_error(operator_client, db):
    # "Discover VMs": GET /vms/discover?vcenter=vcenter.example.com, with no credentials saved for that vCenter.
    body = assert_seed_answer(operator_client.get("/api/v1/vms/discover?vcenter=vcenter.example.com"), 404,
                              ERROR_RESPONSE | {"details": None})
    assert "vcenter.example.com" in body["error"]


def test_discover_vms_through_the_agent(operator_client, db, settings):
    # The agent is a stand-in HTTP server answering seed 002's discover example (tests/agent replays the real one).
    CredentialFactory(vcenter_host="vcenter.example.com", datacenter="DatabanxDC")
    with HttpPeer({"/api/v1/discover": (200, DISCOVER_RESPONSE)}) as agent:
        settings.AGENT_API_URL = agent.url
        response = operator_client.get("/api/v1/vms/discover?vcenter=vcenter.example.com")
    body = assert_seed_answer(response, 200, {"success": True, "vcenter": {}, "vms": []}, nonempty=("vms",))
    assert body["vms"][0]["name"] == "PGWINTESTBIOS"
    assert agent.requests[0]["body"]["vcenter"] == "vcenter.example.com"
