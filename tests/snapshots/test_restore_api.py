"""The restore endpoints' refusals, roles, feature toggle and cancel (the seed's {"detail"} errors, never a 500)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.settings import volumes
from apps.snapshots import restore, tasks
from apps.snapshots.choices import RestoreStatus
from apps.snapshots.models import RestoreJob


def _job(**fields) -> RestoreJob:
    defaults = {"project_id": "admin", "vm_id": "vm-1", "vm_name": "web-01", "restore_point_id": "s-1",
                "steps": restore.steps_for("NEW")}
    return RestoreJob.objects.create(**{**defaults, **fields})


@pytest.mark.django_db
def test_config_toggle_and_roles(viewer_client, operator_client, settings):
    assert viewer_client.get("/restore/config").json() == {"enabled": True, "dry_run": False, "cleanup_volumes": True}
    assert viewer_client.post("/restore/plan", {}, format="json").json() == {
        "detail": "Permission denied: requires restore:write"}
    job = _job(status=RestoreStatus.FAILED)
    refused = operator_client.post(f"/restore/jobs/{job.job_id}/retry", {}, format="json")
    assert refused.json() == {"detail": "Permission denied: requires restore:admin"}
    settings.MP_RESTORE_ENABLED = False
    for path in ("/restore/config", "/restore/jobs", f"/restore/jobs/{job.job_id}"):
        answer = viewer_client.get(path)
        assert answer.status_code == 404 and "RESTORE_ENABLED" in answer.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("body, text", [
    ({}, "project_id"),
    ({"project_id": "p", "vm_id": "v", "restore_point_id": "s", "mode": "SIDEWAYS"}, "mode"),
    ({"project_id": "p", "vm_id": "v", "restore_point_id": "s", "ip_strategy": "ANY"}, "ip_strategy"),
    ({"project_id": "p", "vm_id": "v", "restore_point_id": "s", "manual_ips": {"n": "10.0.0.300"},
      "ip_strategy": "MANUAL_IP"}, "manual_ips"),
    ({"project_id": "p", "vm_id": "v", "restore_point_id": "s", "manual_ips": {"n": "10.0.0.3"}}, "MANUAL_IP"),
    ({"project_id": "p", "vm_id": "v", "restore_point_id": "s", "mode": "REPLACE", "new_vm_name": "x"}, "new_vm_name"),
])
def test_bad_plans_are_400(operator_client, body, text):
    answer = operator_client.post("/restore/plan", body, format="json")
    assert answer.status_code == 400 and text in answer.json()["detail"]


@pytest.mark.django_db
def test_no_cloud_is_503(operator_client, viewer_client):
    answer = operator_client.post("/restore/plan", {"project_id": "p", "vm_id": "v", "restore_point_id": "s"},
                                  format="json")
    assert answer.status_code == 503 and "not configured" in answer.json()["detail"]
    assert viewer_client.get("/restore/snapshots").json() == {"detail": "tenant_name is required"}
    assert viewer_client.get("/restore/vm/v/restore-points").json() == {"detail": "project_id is required"}


@pytest.mark.django_db
def test_job_state_refusals(operator_client, admin_client_api):
    assert operator_client.get("/restore/jobs/nope").status_code == 404
    assert operator_client.post("/restore/execute", {"plan_id": "nope"}, format="json").status_code == 404
    done = _job(status=RestoreStatus.COMPLETED)
    again = operator_client.post("/restore/execute", {"plan_id": done.job_id}, format="json")
    assert again.status_code == 409 and "not PLANNED" in again.json()["detail"]
    assert operator_client.post(f"/restore/cancel/{done.job_id}", {}, format="json").status_code == 409
    assert admin_client_api.post(f"/restore/jobs/{done.job_id}/cleanup", {}, format="json").status_code == 409
    assert admin_client_api.post(f"/restore/jobs/{done.job_id}/retry", {}, format="json").status_code == 409
    bad = admin_client_api.post(f"/restore/jobs/{done.job_id}/cleanup-storage?delete_old_volume=maybe")
    assert bad.status_code == 400
    planned = _job(status=RestoreStatus.PLANNED)
    cancelled = operator_client.post(f"/restore/cancel/{planned.job_id}", {"reason": "wrong VM"}, format="json")
    assert cancelled.json()["status"] == "CANCELED" and cancelled.json()["cancel_reason"] == "wrong VM"
    assert admin_client_api.post(f"/restore/jobs/{planned.job_id}/cleanup-storage").status_code == 409
    listed = operator_client.get("/restore/jobs?status=CANCELED").json()
    assert listed["total"] == 1 and listed["results"][0]["job_id"] == planned.job_id
    assert operator_client.get("/restore/jobs?status=LOST").status_code == 400


@pytest.mark.integration
def test_cancel_while_running_rolls_back(operator_client, cloud, web, monkeypatch, django_capture_on_commit_callbacks):
    point = cloud.create_snapshot(web.root["id"])
    planned = operator_client.post("/restore/plan", {"project_id": "admin", "vm_id": web.vm["id"],
                                                     "restore_point_id": point["id"]}, format="json").json()
    real = restore.Run.CREATE_VOLUMES

    def then_cancel(self):
        said = real(self)
        # The operator's cancel arrives while the job runs, through the endpoint.
        answer = operator_client.post(f"/restore/cancel/{self.job.job_id}", {"reason": "changed my mind"},
                                      format="json")
        assert answer.json()["status"] == "RUNNING" and answer.json()["cancel_requested"] is True
        return said

    monkeypatch.setattr(restore.Run, "CREATE_VOLUMES", then_cancel)
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post("/restore/execute", {"plan_id": planned["job_id"]}, format="json")
    job = RestoreJob.objects.get(job_id=planned["job_id"])
    assert job.status == "CANCELED" and "changed my mind" in job.error
    assert job.result_vm_id == ""  # it stopped before creating the VM
    assert all(cloud.find("volume", m["volume_id"]) is None for m in job.created_volume_ids)
    assert [s["status"] for s in job.steps][:3] == ["completed", "completed", "skipped"]


@pytest.mark.integration
def test_dry_run_validates_and_creates_nothing(operator_client, cloud, web, settings,
                                               django_capture_on_commit_callbacks):
    settings.MP_RESTORE_DRY_RUN = True
    point = cloud.create_snapshot(web.root["id"])
    volumes = {v["id"] for v in cloud.list_volumes()}
    planned = operator_client.post("/restore/plan", {"project_id": "admin", "vm_id": web.vm["id"],
                                                     "restore_point_id": point["id"]}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post("/restore/execute", {"plan_id": planned["job_id"]}, format="json")
    job = operator_client.get(f"/restore/jobs/{planned['job_id']}").json()
    assert job["status"] == "COMPLETED" and job["result_vm_id"] == ""
    assert [s["status"] for s in job["steps"]] == ["completed"] + ["skipped"] * 5
    assert {v["id"] for v in cloud.list_volumes()} == volumes
    assert operator_client.get("/restore/config").json()["dry_run"] is True


@pytest.mark.integration
def test_a_restore_whose_worker_died_is_failed_and_rolled_back_by_beat(cloud, web, cs_config):
    point = cloud.create_snapshot(web.root["id"])
    job = _job(status=RestoreStatus.RUNNING, vm_id=web.vm["id"])
    recorded = volumes.write_ahead(config=cs_config, owner=job.owner, kind="volume", name="half-restored")
    made = cloud.create_volume_from_snapshot(snapshot_id=point["id"], name="half-restored", on_submitted=recorded)
    made_row = {"volume_id": made["id"], "snapshot_id": point["id"], "device_id": 0, "source_volume_id": web.root["id"]}
    RestoreJob.objects.filter(pk=job.pk).update(created_volume_ids=[made_row],
                                                updated_at=timezone.now() - timedelta(hours=1))
    waiting = _job(status=RestoreStatus.PENDING)
    RestoreJob.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    tasks.run_due_policies()
    job.refresh_from_db()
    waiting.refresh_from_db()
    assert job.status == "FAILED" and "stopped reporting" in job.error
    assert cloud.find("volume", made["id"]) is None and any("deleted volume" in line for line in job.rollback)
    assert waiting.status == "FAILED" and "no worker took it up" in waiting.error
