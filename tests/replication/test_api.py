import pytest

from apps.replication import services
from apps.replication.choices import ReplicationStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob
from tests.factories import OsseaConfigFactory, vm_with_disks
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def config():
    return OsseaConfigFactory()


@pytest.fixture
def vm(config):
    return vm_with_disks(2, vm_name="pgtest1")


def start(client, **body):
    return client.post("/api/v1/replications", body, format="json")


def running(job):
    for status in (ReplicationStatus.PROVISIONING, ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.REPLICATING):
        services.replication_set_status(job, status)
    return job


def test_start_by_name_answers_seed_shape(operator_client, vm, config):
    response = start(operator_client, vm_name="pgtest1", ossea_config_id=config.id, replication_type="initial")
    assert response.status_code == 202
    assert_matches_schema(response, "/api/v1/replications", "post")
    body = response.json()
    assert body["job_id"].startswith("job-") and body["status"] == "pending"
    assert {v["disk_id"] for v in body["created_volumes"]} == {"disk-0", "disk-1"}
    assert body["nbd_exports"] == [] and body["started_at"].endswith("Z") and body["message"]
    job = ReplicationJob.objects.get(job_id=body["job_id"])
    assert job.requested_by == "operator1" and job.ossea_config == config


def test_start_with_seed_source_vm(operator_client, vm, config):
    body = {"source_vm": {"id": vm.moref, "name": "pgtest1", "path": vm.vm_path, "datacenter": "DC0",
                          "disks": [{"id": "disk-0", "size_gb": 1}, {"id": "disk-1", "size_gb": 1}]},
            "ossea_config_id": config.id, "replication_type": "initial"}
    response = start(operator_client, **body)
    assert response.status_code == 202
    assert_matches_schema(response, "/api/v1/replications", "post")


def test_second_active_job_is_409(operator_client, vm):
    assert start(operator_client, vm_name="pgtest1").status_code == 202
    response = start(operator_client, vm_name="pgtest1")
    assert response.status_code == 409
    assert_matches_schema(response, "/api/v1/replications", "post")
    assert "already has an active replication job" in response.json()["error"]
    assert ReplicationJob.objects.count() == 1


def test_disk_set_mismatch_is_400(operator_client, vm):
    body = {"source_vm": {"id": vm.moref, "name": "pgtest1", "path": vm.vm_path,
                          "disks": [{"id": "disk-0", "size_gb": 1}, {"id": "disk-9", "size_gb": 1}]}}
    response = start(operator_client, **body)
    assert response.status_code == 400
    assert response.json()["details"]["unknown_disks"] == ["disk-9"]
    assert response.json()["details"]["missing_disks"] == ["disk-1"]


@pytest.mark.parametrize("body, status, text", [
    ({}, 400, "source_vm"),
    ({"vm_name": "nope"}, 404, "not found"),
    ({"vm_name": "pgtest1", "replication_type": "full"}, 400, "replication_type"),
    ({"vm_name": "pgtest1", "ossea_config_id": 999}, 404, "Configuration not found"),
    ({"source_vm": {"id": "x"}}, 400, "source_vm.name"),
    ({"source_vm": {"id": "vm-9", "name": "new", "path": "/DC0/vm/new"}}, 400, "give its disks"),
])
def test_bad_inputs(operator_client, vm, body, status, text):
    response = start(operator_client, **body)
    assert response.status_code == status, response.json()
    assert_matches_schema(response, "/api/v1/replications", "post")
    assert text in response.json()["error"]


def test_no_cloudstack_config_is_503(operator_client, db):
    vm_with_disks(1, vm_name="lonely")
    response = start(operator_client, vm_name="lonely")
    assert response.status_code == 503 and "not configured" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/replications", "post")


def test_viewer_cannot_start(viewer_client, vm):
    assert start(viewer_client, vm_name="pgtest1").status_code == 403


def test_changeid_round_trip_and_rules(operator_client, vm):
    job = ReplicationJob.objects.get(job_id=start(operator_client, vm_name="pgtest1").json()["job_id"])
    get = operator_client.get("/api/v1/replications/changeid", {"vm_path": vm.vm_path, "disk_id": "disk-0"})
    assert get.status_code == 200 and get.json()["change_id"] is None
    assert_matches_schema(get, "/api/v1/replications/changeid", "get")
    running(job)
    url = f"/api/v1/replications/{job.job_id}/changeid"
    stored = operator_client.post(url, {"vm_path": vm.vm_path, "disk_id": "disk-0", "change_id": "52 aa/1"}, format="json")
    assert stored.status_code == 201
    assert_matches_schema(stored, "/api/v1/replications/{job_id}/changeid", "post")
    again = operator_client.get("/api/v1/replications/changeid", {"vm_path": vm.vm_path, "disk_id": "disk-0"})
    assert again.json()["change_id"] == "52 aa/1"
    assert_matches_schema(again, "/api/v1/replications/changeid", "get")
    assert operator_client.post(url, {"vm_path": vm.vm_path, "disk_id": "disk-7", "change_id": "x"},
                                format="json").status_code == 400
    assert operator_client.post(url, {"disk_id": "disk-0"}, format="json").status_code == 400
    assert operator_client.get("/api/v1/replications/changeid").status_code == 400
    assert operator_client.post("/api/v1/replications/job-nope/changeid",
                                {"vm_path": "p", "disk_id": "d", "change_id": "c"}, format="json").status_code == 404
    services.replication_finish(job=job, status=ReplicationStatus.FAILED, error="boom")
    # A failed job stores nothing: the previous change id stays the base.
    assert operator_client.post(url, {"vm_path": vm.vm_path, "disk_id": "disk-0", "change_id": "52 aa/2"},
                                format="json").status_code == 409
    assert ChangeIdRecord.objects.get().change_id == "52 aa/1"


def test_progress_push_then_completion_updates_context(operator_client, vm):
    job = ReplicationJob.objects.get(job_id=start(operator_client, vm_name="pgtest1").json()["job_id"])
    services.replication_set_status(job, ReplicationStatus.PROVISIONING)
    services.replication_set_status(job, ReplicationStatus.READY_FOR_SYNC)
    url = f"/api/v1/replications/{job.job_id}/progress"
    push = operator_client.post(url, {"status": "running", "progress_percent": 49.3, "bytes_transferred": 1000,
                                      "bytes_total": 2000, "throughput_mbps": 11.46, "eta_seconds": 30,
                                      "current_operation": "Transferring Data"}, format="json")
    assert push.status_code == 200 and push.json()["status"] == "replicating"
    assert_matches_schema(push, "/api/v1/replications/{job_id}/progress", "post")
    detail = operator_client.get(f"/api/v1/vm-contexts/{vm.vm_name}").json()
    assert detail["current_job"]["progress_percent"] == 49.3
    assert detail["current_job"]["vma_throughput_mbps"] == 11.46 and detail["current_job"]["vma_eta_seconds"] == 30
    assert detail["current_job"]["current_operation"] == "Transferring Data"
    done = operator_client.post(url, {"status": "completed", "bytes_transferred": 2000}, format="json")
    assert done.json()["status"] == "completed"
    vm.refresh_from_db()
    assert vm.current_status == "ready_for_failover" and vm.successful_jobs == 1 and vm.last_sync_at
    stored = operator_client.get(url)
    assert_matches_schema(stored, "/api/v1/replications/{job_id}/progress", "get")
    stored = stored.json()
    assert stored["status"] == "completed" and stored["progress_percent"] == 100.0
    assert operator_client.post(url, {"progress_percent": 500}, format="json").status_code == 400


def test_job_shows_data_and_zero_bytes_summed_over_disks(operator_client, vm):
    job = ReplicationJob.objects.get(job_id=start(operator_client, vm_name="pgtest1").json()["job_id"])
    services.replication_set_status(job, ReplicationStatus.PROVISIONING)
    services.replication_set_status(job, ReplicationStatus.READY_FOR_SYNC)
    disks = [{"disk_id": "disk-2000", "bytes_copied": 300, "bytes_zeroed": 700},
             {"disk_id": "disk-2001", "bytes_copied": 50, "bytes_zeroed": 0},
             # What a confused agent might push must not break the job's view.
             {"disk_id": "disk-2002", "bytes_copied": "lots", "bytes_zeroed": -5}, "not a disk"]
    operator_client.post(f"/api/v1/replications/{job.job_id}/progress",
                         {"status": "running", "bytes_transferred": 1050, "bytes_total": 4000, "disks": disks},
                         format="json")
    detail = operator_client.get(f"/api/v1/replications/{job.job_id}")
    assert_matches_schema(detail, "/api/v1/replications/{job_id}", "get")
    detail = detail.json()
    assert (detail["bytes_copied"], detail["bytes_zeroed"], detail["bytes_transferred"]) == (350, 700, 1050)
    listed = operator_client.get("/api/v1/replications").json()[0]
    assert (listed["bytes_copied"], listed["bytes_zeroed"]) == (350, 700)
    current = operator_client.get(f"/api/v1/vm-contexts/{vm.vm_name}").json()["current_job"]
    assert (current["bytes_copied"], current["bytes_zeroed"]) == (350, 700)


def test_cancel_pending_job_and_delete_rules(operator_client, vm):
    job_id = start(operator_client, vm_name="pgtest1").json()["job_id"]
    response = operator_client.delete(f"/api/v1/replications/{job_id}")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert operator_client.delete(f"/api/v1/replications/{job_id}").status_code == 409
    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "pending"}, format="json").status_code == 409
    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "bogus"}, format="json").status_code == 400
    assert operator_client.delete("/api/v1/replications/job-unknown").status_code == 404


def test_retry_failed_job(operator_client, vm):
    job = ReplicationJob.objects.get(job_id=start(operator_client, vm_name="pgtest1").json()["job_id"])
    services.replication_finish(job=job, status=ReplicationStatus.FAILED, error="agent died")
    response = operator_client.put(f"/api/v1/replications/{job.job_id}", {"status": "pending"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "pending" and response.json()["attempt"] == 2


def test_list_filters_and_aliases(operator_client, vm, config):
    other = vm_with_disks(1, vm_name="other")
    a = start(operator_client, vm_name="pgtest1", replication_type="initial").json()["job_id"]
    start(operator_client, vm_name="other", replication_type="incremental")
    assert len(operator_client.get("/api/v1/replications").json()) == 2
    assert [j["job_id"] for j in operator_client.get("/api/v1/replications?vm=pgtest1").json()] == [a]
    assert operator_client.get("/api/v1/replications?type=incremental").json()[0]["vm_name"] == other.vm_name
    assert operator_client.get("/api/v1/replications?status=completed&limit=5").json()["count"] == 0
    assert operator_client.get("/api/v1/replications?status=bogus").status_code == 400
    assert operator_client.get("/api/v1/replications?limit=1").json()["next"]
    assert len(operator_client.get("/api/v1/replication/jobs").json()) == 2
    assert operator_client.get(f"/api/v1/replication/jobs/{a}").json()["job_id"] == a
    assert operator_client.post("/api/v1/replication/jobs", {}, format="json").status_code == 405


def test_reaper_fails_silent_jobs(operator_client, vm, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.replication.tasks import reap_stale_jobs

    job = running(ReplicationJob.objects.get(job_id=start(operator_client, vm_name="pgtest1").json()["job_id"]))
    settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = 60
    assert reap_stale_jobs() == 0
    ReplicationJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=5),
                                                    last_heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "failed" and "stopped reporting" in job.error_message


def test_progress_proxy_without_agent_is_503(operator_client, vm, settings):
    settings.AGENT_API_URL = "http://127.0.0.1:1"
    job_id = start(operator_client, vm_name="pgtest1").json()["job_id"]
    response = operator_client.get(f"/api/v1/progress/{job_id}")
    assert response.status_code == 503
    assert_matches_schema(response, "/api/v1/progress/{job_id}", "get")
    assert operator_client.get("/api/v1/progress/job-unknown").status_code == 404


def test_progress_proxy_relays_the_agent_record(operator_client, vm, monkeypatch):
    from agent.jobs import Job
    from apps.enrollment.agent_client import AgentClient

    job_id = start(operator_client, vm_name="pgtest1").json()["job_id"]
    record = Job(job_id=job_id, vm_path=vm.vm_path, vm_id=vm.vm_id, vm_name=vm.vm_name,
                 replication_type="initial").progress()
    monkeypatch.setattr(AgentClient, "progress", lambda self, jid: record)
    response = operator_client.get(f"/api/v1/progress/{job_id}")
    assert response.status_code == 200 and response.json()["job_id"] == job_id
    assert_matches_schema(response, "/api/v1/progress/{job_id}", "get")
