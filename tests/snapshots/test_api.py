"""The policy, assignment, run and pipeline endpoints: seed 004's shapes, its {"detail"} errors, roles and paging."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.snapshots.choices import PipelineStatus
from apps.snapshots.models import OnDemandRun, SnapshotPolicy, SnapshotRun, SnapshotRunVolume
from tests.conftest import make_user

POLICY = {"name": "daily_5", "interval_minutes": 1440, "retention_count": 5}


@pytest.mark.django_db
def test_policy_crud_and_paging(admin_client_api, viewer_client):
    made = admin_client_api.post("/snapshot-policies", POLICY, format="json")
    assert made.status_code == 201 and made.json()["next_run_at"] is None and made.json()["created_by"] == "admin1"
    for n in range(3):
        admin_client_api.post("/snapshot-policies", {**POLICY, "name": f"p{n}"}, format="json")
    page = viewer_client.get("/snapshot-policies?limit=2&offset=1").json()
    assert (page["total"], page["limit"], page["offset"], len(page["results"])) == (4, 2, 1, 2)
    pid = made.json()["id"]
    changed = admin_client_api.put(f"/snapshot-policies/{pid}", {"retention_count": 7, "enabled": False},
                                   format="json")
    assert changed.status_code == 200 and changed.json()["retention_count"] == 7
    assert changed.json()["enabled"] is False and changed.json()["name"] == "daily_5"
    assert admin_client_api.delete(f"/snapshot-policies/{pid}").status_code == 204
    assert admin_client_api.delete(f"/snapshot-policies/{pid}").json() == {"detail": f"Snapshot policy {pid} not found"}


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({**POLICY, "interval_minutes": 0}, "interval_minutes"),
    ({**POLICY, "retention_count": "many"}, "retention_count"),
    ({**POLICY, "retention_days": 0}, "retention_days"),
])
def test_bad_policies_are_400_naming_the_field(admin_client_api, body, field):
    answer = admin_client_api.post("/snapshot-policies", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["detail"]


@pytest.mark.django_db
def test_roles_and_errors(admin_client_api, operator_client, viewer_client, anon_client):
    assert anon_client.get("/snapshot-policies").json() == {"detail": "Not authenticated"}
    refused = operator_client.post("/snapshot-policies", POLICY, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Permission denied: requires snapshots:admin"}
    assert viewer_client.post("/snapshot/run-now").status_code == 403
    assert viewer_client.get("/snapshot/run-now/status").json()["status"] == "idle"
    admin_client_api.post("/snapshot-policies", POLICY, format="json")
    again = admin_client_api.post("/snapshot-policies", POLICY, format="json")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert admin_client_api.get("/snapshot/runs/999/progress").status_code == 404
    assert admin_client_api.get("/snapshot-runs?status=weird").status_code == 400
    assert admin_client_api.get("/snapshot-runs?limit=0").json() == {
        "detail": "Invalid parameter: limit must be between 1 and 1000"}
    assert admin_client_api.get("/snapshot-assignments?policy_set_id=x").status_code == 400


@pytest.mark.django_db
def test_assignment_input(admin_client_api):
    policy = SnapshotPolicy.objects.create(name="p", interval_minutes=60, retention_count=1)
    missing = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk}, format="json")
    assert missing.status_code == 400 and "volume_ids" in missing.json()["detail"]
    unknown = admin_client_api.post("/snapshot-assignments", {"policy_set_id": 999, "target_type": "tenant",
                                                              "target_id": "acme"}, format="json")
    assert unknown.status_code == 404
    tenant = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "target_type": "tenant",
                                                             "target_id": "acme"}, format="json")
    assert tenant.status_code == 201 and tenant.json()["assignments"][0]["volume_id"] is None
    twice = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "target_type": "tenant",
                                                            "target_id": "acme"}, format="json")
    assert twice.status_code == 409
    no_cloud = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "volume_ids": ["v1"]},
                                     format="json")
    assert no_cloud.status_code == 503 and "not configured" in no_cloud.json()["detail"]
    listed = admin_client_api.get(f"/snapshot-assignments?policy_set_id={policy.pk}").json()
    assert listed["total"] == 1
    aid = listed["results"][0]["id"]
    assert admin_client_api.delete(f"/snapshot-assignments/{aid}").status_code == 204
    assert admin_client_api.delete(f"/snapshot-assignments/{aid}").status_code == 404


@pytest.mark.integration
def test_assigning_a_volume_cloudstack_does_not_have_is_400(admin_client_api, cloud):
    policy = SnapshotPolicy.objects.create(name="p", interval_minutes=60, retention_count=1)
    answer = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "volume_ids": ["nope"]},
                                   format="json")
    assert answer.status_code == 400 and answer.json() == {"detail": "CloudStack has no volume nope"}


@pytest.mark.integration
def test_run_now_runs_the_pipeline_in_a_task(admin_client_api, cloud, web, django_capture_on_commit_callbacks):
    policy = SnapshotPolicy.objects.create(name="weekly_1", interval_minutes=10080, retention_count=1)
    admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "volume_ids": [web.data["id"]]},
                          format="json")
    with django_capture_on_commit_callbacks(execute=True):
        queued = admin_client_api.post("/snapshot/run-now")
    assert queued.status_code == 202 and queued.json()["status"] == "pending"
    status = admin_client_api.get("/snapshot/run-now/status").json()
    assert status["job_id"] == queued.json()["job_id"] and status["status"] == "completed", status
    assert [s["status"] for s in status["steps"]] == ["completed"] * 4
    assert [s["key"] for s in status["steps"]] == ["policy_assign", "rvtools_pre", "auto_snapshots", "rvtools_post"]
    assert "1 created" in status["steps"][2]["message"]
    assert len(cloud.list_snapshots(volume_id=web.data["id"])) == 1
    assert status["triggered_by"] == "admin1"


@pytest.mark.django_db
def test_run_now_refuses_a_second_pipeline(admin_client_api):
    OnDemandRun.objects.create(status=PipelineStatus.RUNNING)
    answer = admin_client_api.post("/snapshot/run-now")
    assert answer.status_code == 409
    assert answer.json() == {"detail": "An on-demand snapshot pipeline is already pending or running."}


@pytest.mark.django_db
def test_ids_that_cannot_name_a_cloudstack_object_are_400(admin_client_api, operator_client):
    policy = SnapshotPolicy.objects.create(name="p", interval_minutes=60, retention_count=1)
    bad = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "volume_ids": ["a~b"]},
                                format="json")
    assert bad.status_code == 400 and "volume_ids" in bad.json()["detail"]
    vm = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.pk, "target_type": "vm",
                                                         "target_id": "x y"}, format="json")
    assert vm.status_code == 400 and "target_id" in vm.json()["detail"]
    plan = operator_client.post("/restore/plan", {"project_id": "p", "vm_id": "v~1", "restore_point_id": "s"},
                                format="json")
    assert plan.status_code == 400 and "vm_id" in plan.json()["detail"]


@pytest.mark.django_db
def test_lists_cost_a_fixed_number_of_queries(admin_client_api, django_assert_max_num_queries):
    for n in range(20):
        policy = SnapshotPolicy.objects.create(name=f"p{n}", interval_minutes=60, retention_count=1)
        run = SnapshotRun.objects.create(trigger="scheduled", status="completed", total_volumes=2)
        SnapshotRunVolume.objects.create(run=run, batch_number=1, policy=policy, policy_name=policy.name,
                                         volume_id=f"v{n}", status="created")
    with django_assert_max_num_queries(8):
        runs = admin_client_api.get("/snapshot-runs").json()
    assert runs["total"] == 20 and runs["results"][0]["progress_pct"] == 50.0
    with django_assert_max_num_queries(8):
        assert admin_client_api.get("/snapshot-policies").json()["results"][0]["assignment_count"] == 0


@pytest.mark.django_db
def test_a_pipeline_whose_worker_died_no_longer_blocks_run_now(admin_client_api):
    old = timezone.now() - timedelta(hours=2)
    dead_run = SnapshotRun.objects.create(trigger="on_demand", heartbeat_at=old)
    stuck = OnDemandRun.objects.create(status=PipelineStatus.RUNNING, snapshot_run=dead_run)
    OnDemandRun.objects.filter(pk=stuck.pk).update(created_at=old)
    assert admin_client_api.post("/snapshot/run-now").status_code == 202
    stuck.refresh_from_db()
    dead_run.refresh_from_db()
    assert stuck.status == "failed" and dead_run.status == "failed"


@pytest.mark.django_db
def test_the_console_shows_runs_to_viewers_and_changes_nothing(client):
    viewer = make_user("console-viewer", "viewer")
    viewer.is_staff = True
    viewer.save()
    run = SnapshotRun.objects.create(trigger="scheduled", status="completed")
    client.force_login(viewer)
    assert client.get("/console/snapshots/snapshotrun/").status_code == 200
    page = client.get(f"/console/snapshots/snapshotrun/{run.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert client.get("/console/snapshots/snapshotpolicy/add/").status_code == 403
