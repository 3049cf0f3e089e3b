"""The validation sections and the preflight answers match what the OpenAPI schema documents (tests/openapi.py):
once for a VM with nothing replicated and no CloudStack (nulls, empty sections), once for a replicated lab VM in
the CloudStack emulator (every check run, volumes as CloudStack sees them, a job in the way)."""
import pytest

from apps.failover.models import FailoverJob
from apps.replication.models import ReplicationJob
from tests.factories import vm_with_disks
from tests.failover.conftest import assert_documented

pytestmark = pytest.mark.django_db

SECTIONS = ("failover-readiness", "sync-status", "network-mapping-status", "active-jobs", "configuration-check")


@pytest.fixture
def bare_vm(db):
    """Discovered, never replicated: no change ids, no replica volumes, no CloudStack configuration."""
    return vm_with_disks(2, vm_name="bare-01")


def test_sections_of_a_vm_never_replicated(viewer_client, bare_vm):
    answers = {section: assert_documented(viewer_client.get(f"/api/v1/vms/{bare_vm.vm_id}/{section}"))
               for section in SECTIONS}
    assert set(answers["sync-status"]["sync_status"]["disks"].values()) == {None}
    assert answers["sync-status"]["sync_status"]["last_sync_time"] is None
    assert answers["configuration-check"]["is_valid"] is False
    assert answers["failover-readiness"]["validation_result"]["checks"]
    for failover_type in ("live", "test"):
        config = assert_documented(
            viewer_client.get(f"/api/v1/failover/preflight/config/{failover_type}/{bare_vm.vm_name}"))
        assert config["configuration"]["cloudstack_config"] is None and config["configuration"]["compute"] is None
        assert {v["volume_id"] for v in config["configuration"]["volumes"]} == {None}
    validated = viewer_client.post("/api/v1/failover/preflight/validate",
                                   {"vm_name": bare_vm.vm_name, "failover_type": "test"}, format="json")
    assert validated.status_code == 200 and assert_documented(validated)["is_valid"] is False
    unknown = viewer_client.get("/api/v1/vms/nope/volume-status")
    assert unknown.status_code == 404 and assert_documented(unknown)["error_code"] == "VM_NOT_FOUND"


@pytest.mark.integration
def test_sections_and_preflight_of_a_replicated_vm(viewer_client, operator_client, lab_vm):
    context = lab_vm.context
    volumes = assert_documented(viewer_client.get(f"/api/v1/vms/{context.vm_id}/volume-status"))
    assert volumes["is_ready_for_failover"] and volumes["volume_status"]["volume_type"] == "ROOT"
    readiness = assert_documented(viewer_client.get(f"/api/v1/vms/{context.vm_id}/failover-readiness"))
    assert readiness["is_valid"], readiness["required_actions"]
    for failover_type in ("live", "test"):
        config = assert_documented(
            viewer_client.get(f"/api/v1/failover/preflight/config/{failover_type}/{context.vm_name}"))
        assert config["is_ready"] and config["configuration"]["compute"] and config["configuration"]["networks"]
    validated = operator_client.post("/api/v1/failover/preflight/validate",
                                     {"vm_id": context.vm_id, "network_mappings": {"VM Network": "migration-net"}},
                                     format="json")
    assert validated.status_code == 200 and assert_documented(validated)["is_valid"]

    # Jobs in the way: a replication running, a failover running, a failed one that left resources behind.
    ReplicationJob.objects.create(job_id="job-running-sync", vm_context=context, status="replicating",
                                  replication_type="incremental", progress_percent=42.0)
    FailoverJob.objects.create(job_id="test-failover-running", vm_context=context, job_type="test",
                               status="creating_vm")
    FailoverJob.objects.create(job_id="live-failover-left", vm_context=context, job_type="live", status="failed",
                               needs_cleanup=True)
    answers = {section: assert_documented(viewer_client.get(f"/api/v1/vms/{context.vm_id}/{section}"))
               for section in SECTIONS}
    active = answers["active-jobs"]["active_jobs"]
    assert active["migration_jobs"] and active["failover_jobs"] and active["failed_jobs_needing_cleanup"]
    assert answers["sync-status"]["sync_status"]["active_replication_job_id"] == "job-running-sync"
    assert answers["configuration-check"]["is_valid"] is False and answers["configuration-check"]["required_actions"]
