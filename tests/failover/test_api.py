"""Failover endpoints: every bad input and wrong state answers a 4xx in seed 003's error shape; lists and states."""
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.failover import jobs, services
from apps.failover.models import FailoverJob
from apps.failover.steps.snapshot import release_from_oma, snapshot
from apps.failover.steps.validate import make_plan
from apps.inventory.choices import VMContextStatus
from tests.factories import OsseaConfigFactory, vm_with_disks
from tests.failover.conftest import assert_back_on_control_plane, assert_documented

pytestmark = pytest.mark.django_db


@pytest.fixture
def vm(db):
    return vm_with_disks(2, vm_name="pgtest1", current_status=VMContextStatus.READY_FOR_FAILOVER)


def job_row(vm, job_type="test", status="completed", **fields):
    return FailoverJob.objects.create(job_id=f"{job_type}-failover-{vm.vm_id}-{FailoverJob.objects.count() + 1}",
                                      vm_context=vm, job_type=job_type, status=status, **fields)


def assert_error(response, status, text, code=None):
    assert response.status_code == status, response.json()
    body = assert_documented(response)
    assert body["success"] is False and text in body["error"], body
    if code:
        assert body["error_code"] == code and body["timestamp"].endswith("Z")
    return body


@pytest.mark.parametrize("body, text", [
    ({}, "test_duration: This field is required"),
    ({"test_duration": "1h"}, "vm_id: This field is required"),
    ({"vm_id": "pgtest1"}, "test_duration"),
    ({"vm_id": "pgtest1", "test_duration": "2 hours"}, "not a duration"),
    ({"vm_id": "pgtest1", "test_duration": "200h"}, "between 1m and 168h"),
    ({"vm_id": "pgtest1", "test_duration": "30s"}, "between 1m and 168h"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "skip_validation": "perhaps"}, "skip_validation"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "network_mappings": ["VM Network"]}, "network_mappings"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "custom_config": "fast"}, "custom_config"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "custom_config": {"service_offering_id": 5}}, "service_offering_id"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "notification_config": {"sms": "+1"}}, "unknown key(s) sms"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "notification_config": {"email": "not-an-address"}}, "email"),
    ({"vm_id": "pgtest1", "test_duration": "1h", "notification_config": {"webhook_url": "ftp:/x"}}, "webhook_url"),
])
def test_test_failover_bad_inputs(operator_client, vm, body, text):
    assert_error(operator_client.post("/api/v1/failover/test", body, format="json"), 400, text)
    assert not FailoverJob.objects.exists()


@pytest.mark.parametrize("body, status, text, code", [
    ({"vm_id": "nope"}, 404, "not found", "VM_NOT_FOUND"),
    ({"vm_id": "pgtest1", "vm_name": "other"}, 400, "does not match", None),
    ({"vm_id": "pgtest1", "shutdown_timeout": -1}, 400, "shutdown_timeout", None),
    ({"vm_id": "pgtest1", "power_off_source": "later"}, 400, "power_off_source", None),
])
def test_live_failover_bad_inputs(operator_client, vm, body, status, text, code):
    assert_error(operator_client.post("/api/v1/failover/live", body, format="json"), status, text, code)


def test_body_must_be_an_object_and_json(operator_client, vm):
    assert_error(operator_client.post("/api/v1/failover/live", [1], format="json"), 400, "JSON object")
    response = operator_client.post("/api/v1/failover/live", "{not json", content_type="application/json")
    assert_error(response, 400, "Malformed request body")


def test_no_cloudstack_is_503(operator_client, vm):
    body = assert_error(operator_client.post("/api/v1/failover/test", {"vm_id": vm.vm_id, "test_duration": "1h"},
                                             format="json"), 503, "not configured", "OSSEA_NOT_CONFIGURED")
    assert body["error_code"] == "OSSEA_NOT_CONFIGURED"


@pytest.mark.parametrize("status, text, code", [
    (VMContextStatus.DISCOVERED, "not ready for failover", "VALIDATION_FAILED"),
    (VMContextStatus.FAILED_OVER, "already been failed over", "INVALID_STATE"),
])
def test_vm_state_conflicts(operator_client, vm, status, text, code):
    OsseaConfigFactory()
    type(vm).objects.filter(pk=vm.pk).update(current_status=status)
    body = assert_error(operator_client.post("/api/v1/failover/live", {"vm_id": vm.vm_id}, format="json"), 409, text,
                        code)
    assert body["message"] == "Failover refused"


def test_running_failover_blocks_another(operator_client, vm):
    OsseaConfigFactory()
    running = job_row(vm, status="completed")  # a test VM still up
    assert running.active_slot == vm.pk
    body = assert_error(operator_client.post("/api/v1/failover/live", {"vm_id": vm.vm_id}, format="json"), 409,
                        "already has an active failover job", "ACTIVE_JOBS")
    assert body["required_actions"] == [f"End test failover {running.job_id} (DELETE /api/v1/failover/test/"
                                        f"{running.job_id})"]


def test_missing_replica_volumes_refused_even_when_skipping_validation(operator_client, vm):
    OsseaConfigFactory()
    body = assert_error(operator_client.post("/api/v1/failover/test", {"vm_id": vm.vm_id, "test_duration": "1h",
                                                                       "skip_validation": True}, format="json"),
                        409, "no replica volume", "VOLUME_NOT_AVAILABLE")
    assert "POST /api/v1/replications" in body["required_actions"][0]


def test_viewer_cannot_start_or_end(viewer_client, vm):
    assert viewer_client.post("/api/v1/failover/test", {}, format="json").status_code == 403
    assert viewer_client.post("/api/v1/failover/live", {}, format="json").status_code == 403
    assert viewer_client.post("/api/v1/failover/unified", {}, format="json").status_code == 403
    assert viewer_client.post("/api/v1/failover/rollback", {}, format="json").status_code == 403
    assert viewer_client.delete("/api/v1/failover/test/x").status_code == 403
    assert viewer_client.get("/api/v1/failover/jobs").status_code == 200


def test_anonymous_is_refused(anon_client):
    assert anon_client.get("/api/v1/failover/jobs").status_code in (401, 403)


def test_end_test_wrong_states(operator_client, vm):
    assert_error(operator_client.delete("/api/v1/failover/test/test-failover-nope"), 404, "not found", "JOB_NOT_FOUND")
    live = job_row(vm, "live", "completed")
    body = assert_error(operator_client.delete(f"/api/v1/failover/test/{live.job_id}"), 409, "is a live failover")
    assert body["message"] == "Cannot cleanup test failover" and body["job_status"] == "completed"
    FailoverJob.objects.all().delete()
    failed = job_row(vm, "test", "failed")
    body = assert_error(operator_client.delete(f"/api/v1/failover/test/{failed.job_id}"), 409,
                        "Job not found or not in a state that allows cleanup")
    assert body["job_status"] == "failed" and body["message"] == "Cannot cleanup test failover"
    running = job_row(vm, "test", "creating_vm")
    assert_error(operator_client.delete(f"/api/v1/failover/test/{running.job_id}"), 409, "failover/rollback")
    ended = job_row(vm, "test", "completed", ended_at=timezone.now())
    assert_error(operator_client.delete(f"/api/v1/failover/test/{ended.job_id}"), 409, "not in a state")
    assert_error(operator_client.post("/api/v1/failover/cleanup/pgtest1"), 409, "still running (creating_vm)")
    running.delete()
    assert_error(operator_client.post("/api/v1/failover/cleanup/pgtest1"), 409, "no running test failover")
    assert_error(operator_client.post("/api/v1/failover/cleanup/nope"), 404, "not found")
    assert_error(operator_client.post("/api/v1/failover/pgtest1/cleanup-failed"), 409, "left anything behind")
    assert_error(operator_client.post("/api/v1/failover/nope/cleanup-failed"), 404, "not found")


def test_rollback_wrong_states_and_inputs(operator_client, vm):
    assert_error(operator_client.post("/api/v1/failover/rollback", {}, format="json"), 400, "job_id")
    assert_error(operator_client.post("/api/v1/failover/rollback", {"job_id": "nope"}, format="json"), 404, "not found")
    assert_error(operator_client.post("/api/v1/failover/rollback", {"vm_name": "pgtest1", "failover_type": "test"},
                                      format="json"), 404, "has no test failover job")
    assert_error(operator_client.post("/api/v1/failover/rollback", {"vm_name": "pgtest1", "failover_type": "x"},
                                      format="json"), 400, "failover_type")
    failed = job_row(vm, "test", "failed")
    assert_error(operator_client.post("/api/v1/failover/rollback", {"job_id": failed.job_id}, format="json"), 409,
                 "already rolled back")
    cleaning = job_row(vm, "test", "cleanup")
    assert_error(operator_client.post("/api/v1/failover/rollback", {"job_id": cleaning.job_id}, format="json"), 409,
                 "already being rolled back")


def test_rollback_of_a_pending_job_cancels_it(operator_client, vm):
    pending = job_row(vm, "live", "pending")
    response = operator_client.post("/api/v1/failover/rollback", {"job_id": pending.job_id}, format="json")
    assert response.status_code == 200 and assert_documented(response)["status"] == "failed"
    pending.refresh_from_db()
    assert pending.error_code == "CANCELLED" and pending.cancel_requested


def test_status_and_jobs_list(viewer_client, vm):
    other = vm_with_disks(1, vm_name="other")
    a = job_row(vm, "test", "completed", started_at=timezone.now() - timedelta(minutes=5),
                completed_at=timezone.now(), destination_vm_id="ossea-vm-test-12345")
    job_row(vm, "live", "failed")
    job_row(other, "live", "pending")
    status = assert_documented(viewer_client.get(f"/api/v1/failover/{a.job_id}/status"))
    assert status["success"] and status["message"] == "Retrieved status for test failover job"
    assert status["status"] == "completed" and status["job_details"]["destination_vm_id"] == "ossea-vm-test-12345"
    assert status["job_details"]["job_type"] == "test" and status["job_details"]["vm_name"] == "pgtest1"
    assert 299_000_000_000 < status["duration"] < 301_000_000_000  # nanoseconds, as seed 003
    assert assert_documented(viewer_client.get(f"/api/v1/failover/test/{a.job_id}"))["job_id"] == a.job_id
    assert_error(viewer_client.get("/api/v1/failover/nope/status"), 404, "not found", "JOB_NOT_FOUND")

    listed = assert_documented(viewer_client.get("/api/v1/failover/jobs"))
    assert listed["success"] and listed["total_jobs"] == 3 and listed["returned_jobs"] == 3
    item = next(j for j in listed["jobs"] if j["job_id"] == a.job_id)
    assert set(item) >= {"job_id", "vm_id", "vm_name", "job_type", "status", "created_at", "started_at",
                         "completed_at", "duration", "destination_vm_id"}
    assert viewer_client.get("/api/v1/failover/jobs", {"type": "test"}).json()["total_jobs"] == 1
    assert viewer_client.get("/api/v1/failover/jobs", {"status": "failed"}).json()["total_jobs"] == 1
    assert viewer_client.get("/api/v1/failover/jobs", {"vm_id": other.vm_id}).json()["total_jobs"] == 1
    assert viewer_client.get("/api/v1/failover/jobs", {"vm_id": "pgtest1"}).json()["total_jobs"] == 2
    page = assert_documented(viewer_client.get("/api/v1/failover/jobs", {"limit": 1, "offset": 1}))
    assert page["total_jobs"] == 3 and page["returned_jobs"] == 1
    assert_error(viewer_client.get("/api/v1/failover/jobs", {"status": "bogus"}), 400, "status")
    assert viewer_client.get("/api/v1/failover/jobs", {"type": "bogus"}).status_code == 400
    assert viewer_client.get("/api/v1/failover/jobs", {"limit": "ten"}).status_code == 400
    assert viewer_client.get("/api/v1/failover/jobs", {"limit": 5000}).status_code == 400
    assert viewer_client.get("/api/v1/failover/jobs", {"offset": -1}).status_code == 400
    assert viewer_client.get("/api/v1/failover/jobs", {"offset": 2**31 - 1}).json()["returned_jobs"] == 0

    debug = assert_documented(viewer_client.get("/api/v1/debug/failover-jobs"))
    assert debug["total_jobs"] == 3 and debug["active_jobs"] == 1 and "events" in debug["jobs"][0]
    health = viewer_client.get("/api/v1/debug/health").json()
    assert health["metrics"]["active_failover_jobs"] == 1 and health["metrics"]["network_mappings"] == 0


@pytest.mark.parametrize("path", ["/api/v1/failover/jobs", "/api/v1/network-mappings", "/api/v1/debug/failover-jobs"])
def test_offset_beyond_what_the_database_takes_is_400(viewer_client, vm, path):
    job_row(vm)
    # Past a 64-bit integer SQLite refused the slice ("datatype mismatch"): a 500 before.
    assert_error(viewer_client.get(path, {"offset": "99999999999999999999"}), 400,
                 "offset between 0 and 2147483647", "INVALID_REQUEST")


def test_unified_and_preflight_inputs(operator_client, vm):
    assert_error(operator_client.post("/api/v1/failover/unified", {"vm_id": vm.vm_id}, format="json"), 400,
                 "failover_type")
    assert_error(operator_client.post("/api/v1/failover/unified", {"vm_id": vm.vm_id, "failover_type": "dry"},
                                      format="json"), 400, "failover_type")
    assert_error(operator_client.post("/api/v1/failover/unified", {"vm_id": vm.vm_id, "failover_type": "test"},
                                      format="json"), 400, "test_duration")
    assert_error(operator_client.post("/api/v1/failover/unified", {"vm_id": vm.vm_id, "failover_type": "live"},
                                      format="json"), 503, "not configured", "OSSEA_NOT_CONFIGURED")
    assert_error(operator_client.get(f"/api/v1/failover/preflight/config/dry/{vm.vm_name}"), 400, "failover_type",
                 "INVALID_FAILOVER_TYPE")
    assert_error(operator_client.get("/api/v1/failover/preflight/config/test/nope"), 404, "not found")
    assert_error(operator_client.post("/api/v1/failover/preflight/validate", {}, format="json"), 400, "vm_id")
    assert_error(operator_client.post("/api/v1/failover/preflight/validate", {"vm_name": "nope"}, format="json"), 404,
                 "not found", "VM_NOT_FOUND")
    assert_error(operator_client.get("/api/v1/failover/test/test-failover-nope"), 404, "not found", "JOB_NOT_FOUND")
    assert_error(operator_client.post("/api/v1/failover/unified", {"vm_id": "nope", "failover_type": "live"},
                                      format="json"), 404, "not found", "VM_NOT_FOUND")
    assert_error(operator_client.put("/api/v1/network-mappings/nope", {"mappings": []}, format="json"), 404,
                 "not found")
    assert_error(operator_client.post("/api/v1/failover/preflight/validate",
                                      {"vm_id": vm.vm_id, "network_mappings": {"Storage": "x"}}, format="json"),
                 400, "is not a network of VM", "INVALID_SOURCE_NETWORK")
    assert_error(operator_client.get(f"/api/v1/failover/rollback/decision/dry/{vm.vm_name}"), 400, "failover_type")
    decision = assert_documented(operator_client.get(f"/api/v1/failover/rollback/decision/live/{vm.vm_name}"))
    assert decision["rollback_possible"] is False and decision["job_id"] is None
    assert_error(operator_client.get("/api/v1/failover/nope/readiness"), 404, "not found", "VM_NOT_FOUND")
    assert_error(operator_client.get(f"/api/v1/failover/{vm.vm_id}/readiness", {"failover_type": "x"}), 400,
                 "failover_type")
    for section in ("sync-status", "network-mapping-status", "volume-status", "active-jobs", "configuration-check"):
        assert_error(operator_client.get(f"/api/v1/vms/nope/{section}"), 404, "not found")
    assert_error(operator_client.get(f"/api/v1/vms/{vm.vm_id}/volume-status"), 503, "not configured")


def test_readiness_without_cloudstack_says_what_to_do(viewer_client, vm):
    body = assert_documented(viewer_client.get(f"/api/v1/vms/{vm.vm_id}/failover-readiness"))
    assert body["is_valid"] is False
    connectivity = next(c for c in body["validation_result"]["checks"] if c["check_name"] == "CloudStack Connectivity")
    assert connectivity["status"] == "fail" and "POST /api/v1/ossea/config" in body["required_actions"][1]


@pytest.mark.integration
def test_auto_cleanup_ends_the_test_after_its_duration(operator_client, lab_vm, client,
                                                       django_capture_on_commit_callbacks):
    from apps.failover.tasks import failover_housekeeping

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/test", {"vm_id": lab_vm.context.vm_id, "test_duration": "30m",
                                                                  "auto_cleanup": True}, format="json")
    job = FailoverJob.objects.get(job_id=response.json()["job_id"])
    assert job.status == "completed" and job.cleanup_due_at is not None
    assert 29 * 60 < (job.cleanup_due_at - job.completed_at).total_seconds() <= 30 * 60
    assert failover_housekeeping()["auto_cleanup"] == 0  # not due yet
    FailoverJob.objects.filter(pk=job.pk).update(cleanup_due_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert failover_housekeeping()["auto_cleanup"] == 1
    job.refresh_from_db()
    assert job.status == "completed" and job.ended_at and job.cleanup_status == "completed"
    assert_back_on_control_plane(lab_vm, client)


@pytest.mark.integration
def test_stale_step_is_reaped_and_rolled_back(lab_vm, client, cloud_config, django_capture_on_commit_callbacks):
    """A worker that died mid-snapshotting: the housekeeping beat rolls the half-done work back."""
    from apps.failover.tasks import failover_housekeeping

    job = services.failover_start(vm_context=lab_vm.context, failover_type="test",
                                  options={"test_duration": "1h", "test_duration_seconds": 3600})
    assert jobs.claim(job, "pending", "validating")
    make_plan(job, client)
    jobs.set_status(job, "snapshotting")
    boot = job.volumes.get(is_root=True)
    release_from_oma(job, boot, client)
    snapshot(job, boot, client)
    assert client.get_volume(boot.volume_id).get("virtualmachineid") is None
    assert failover_housekeeping()["stale"] == 0
    FailoverJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert failover_housekeeping()["stale"] == 1
    job.refresh_from_db()
    assert job.status == "failed" and "stopped reporting" in job.error_message and not job.needs_cleanup
    assert_back_on_control_plane(lab_vm, client)


def test_the_vm_context_shows_which_failover_holds_its_replicas(vm):
    """Replication reads the hold from the VM context; the failover keeps it true as its jobs change and go."""
    def held():
        vm.refresh_from_db()
        return vm.held_by_failover

    queued = job_row(vm, "live", "pending")
    assert held() == ""  # a queued live failover starts its own final sync
    jobs.set_status(queued, "validating")
    assert held() == f"live failover {queued.job_id} (validating)"
    leftover = job_row(vm, "test", "failed", needs_cleanup=True)
    jobs.set_status(queued, "failed")
    assert held() == f"test failover {leftover.job_id} (failed)"
    leftover.delete()
    assert held() == ""


def test_a_failover_holding_the_volumes_blocks_replication(operator_client, vm):
    OsseaConfigFactory()
    vm.disks.update(capacity_bytes=1024 ** 3)
    running = job_row(vm, "live", "switching_volume")
    response = operator_client.post("/api/v1/replications", {"vm_name": vm.vm_name}, format="json")
    body = assert_error(response, 409, f"held by live failover {running.job_id}", "ACTIVE_JOBS")
    assert "switching_volume" in body["error"]
    running.delete()
    job_row(vm, "live", "failed", needs_cleanup=True)
    assert_error(operator_client.post("/api/v1/replications", {"vm_name": vm.vm_name}, format="json"), 409,
                 "cleaned up", "ACTIVE_JOBS")
    FailoverJob.objects.all().delete()
    job_row(vm, "live", "pending")  # a queued live failover starts its own final sync
    assert operator_client.post("/api/v1/replications", {"vm_name": vm.vm_name}, format="json").status_code == 202
