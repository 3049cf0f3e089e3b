"""Snapshot policies against the CloudStack emulator: a policy snapshots what it is assigned on schedule, retention
prunes only its own snapshots, a run records each volume's outcome, and a CloudStack failure mid-run says what was done."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource
from apps.snapshots import tasks
from apps.snapshots.models import PolicySnapshot, SnapshotPolicy, SnapshotRun

pytestmark = pytest.mark.integration


def _policy(admin, **fields) -> dict:
    body = {"name": "hourly_2", "interval_minutes": 60, "retention_count": 2, **fields}
    answer = admin.post("/snapshot-policies", body, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def _assign(admin, policy_id: int, **target) -> list[dict]:
    answer = admin.post("/snapshot-assignments", {"policy_set_id": policy_id, **target}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()["assignments"]


def _age(policy_id: int, minutes: int) -> None:
    SnapshotPolicy.objects.filter(pk=policy_id).update(last_run_at=timezone.now() - timedelta(minutes=minutes))


def test_policy_snapshots_a_vms_volumes_on_schedule_and_prunes_by_retention(admin_client_api, cloud, web):
    policy = _policy(admin_client_api)
    assigned = _assign(admin_client_api, policy["id"], target_type="vm", target_id=web.vm["id"])
    assert assigned[0]["target_name"] == "web-01"
    manual = cloud.create_snapshot(web.root["id"], name="by-hand")  # not the policy's: retention never touches it

    first = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    assert (first.status, first.total_volumes, first.snapshots_created) == ("completed", 2, 2)
    for volume in (web.root, web.data):
        made = [s for s in cloud.list_snapshots(volume_id=volume["id"]) if s["name"].startswith("hourly_2-")]
        assert len(made) == 1 and made[0]["state"] == "BackedUp"
    assert tasks.run_due_policies() is None  # not due again before its interval

    ids = []
    for _ in range(2):
        _age(policy["id"], 61)
        ids.append(tasks.run_due_policies())
    last = SnapshotRun.objects.get(pk=ids[-1])
    assert (last.snapshots_created, last.snapshots_deleted) == (2, 2)
    oldest = set(PolicySnapshot.objects.filter(run=first).values_list("snapshot_id", flat=True))
    for volume in (web.root, web.data):
        in_cloud = {s["id"]: s for s in cloud.list_snapshots(volume_id=volume["id"])}
        policy_snaps = [s for s in in_cloud.values() if s["name"].startswith("hourly_2-")]
        assert len(policy_snaps) == 2  # retention 2
        assert not oldest & in_cloud.keys()  # the first run's snapshots were the ones deleted
    assert cloud.find("snapshot", manual["id"]) is not None
    # Kept snapshots are handed over: the orphan sweep leaves them alone.
    assert not CloudResource.objects.filter(kind=CloudResourceKind.SNAPSHOT, state=CloudResourceState.CREATED).exists()

    runs = admin_client_api.get("/snapshot-runs?limit=2").json()
    assert runs["total"] == 3 and runs["limit"] == 2 and len(runs["results"]) == 2
    progress = admin_client_api.get(f"/snapshot/runs/{last.pk}/progress").json()
    assert progress["run"]["progress_pct"] == 100.0 and progress["is_active"] is False
    assert progress["batches"] == [{"batch_number": 1, "tenant_names": ["admin"], "total_volumes": 2,
                                    "snapshots_created": 2, "failed": 0, "status": "completed"}]
    assert sorted(len(v["deleted_snapshot_ids"]) for v in progress["volumes"]) == [1, 1]
    assert admin_client_api.get("/snapshot/runs/active/progress").json() == {"active": False, "run": None,
                                                                             "batches": []}


def test_tenant_assignment_covers_every_volume_of_the_account(admin_client_api, cloud, web):
    policy = _policy(admin_client_api, name="tenant_daily", interval_minutes=1440, retention_count=1)
    _assign(admin_client_api, policy["id"], target_type="tenant", target_id="admin")
    run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    ready = [v for v in cloud.list_volumes() if v["state"] == "Ready"]
    assert run.snapshots_created == len(ready) >= 3  # oma's and web-01's roots and web-01's data disk
    assert run.skipped == run.total_volumes - len(ready)


def test_a_failing_volume_is_recorded_and_the_others_are_snapshotted(admin_client_api, cloud, web, cs_lab):
    policy = _policy(admin_client_api)
    _assign(admin_client_api, policy["id"], volume_ids=[web.root["id"], web.data["id"]])
    cs_lab.inject("createSnapshot", fail=True, errortext="Maximum number of resources of type 'snapshot' for "
                  "account name=admin in domain id=1 has been exceeded.", errorcode=535)
    run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    assert (run.status, run.snapshots_created, run.quota_blocked) == ("partial", 1, 1)
    progress = admin_client_api.get(f"/snapshot/runs/{run.pk}/progress").json()
    block = progress["quota_blocks"][0]
    assert block["tenant_name"] == "admin" and block["quota_needed_gb"] >= 1
    assert "Maximum number of resources" in block["block_reason"]
    assert progress["batches"][0]["status"] == "completed_with_errors"


def test_cloudstack_lost_mid_run_records_what_was_done(admin_client_api, cloud, web, cs_lab):
    policy = _policy(admin_client_api)
    _assign(admin_client_api, policy["id"], volume_ids=[web.root["id"], web.data["id"]])
    cs_lab.inject("createSnapshot", count=1)  # the first volume's snapshot goes through
    cs_lab.inject("createSnapshot", reset=True, count=None)  # then CloudStack stops answering
    try:
        run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    finally:
        cs_lab.clear_injections()
    assert run.status == "failed" and run.error.startswith("CloudStack failed after 1 snapshot(s); 0 volume(s) not run")
    done = run.volumes.get(volume_id=web.root["id"])
    assert done.status == "created" and cloud.find("snapshot", done.snapshot_id)["state"] == "BackedUp"
    lost = run.volumes.get(volume_id=web.data["id"])
    assert lost.status == "failed" and "Cannot reach CloudStack" in lost.error
    assert cloud.list_snapshots(volume_id=web.data["id"]) == []
    # Its policy is due again at the next pass only after its interval; the run's history says what happened.
    listed = admin_client_api.get("/snapshot-runs?status=failed").json()
    assert listed["total"] == 1 and listed["results"][0]["snapshots_created"] == 1


def test_retention_days_deletes_older_policy_snapshots_but_keeps_the_newest(admin_client_api, cloud, web):
    policy = _policy(admin_client_api, name="month", retention_count=10, retention_days=1)
    _assign(admin_client_api, policy["id"], volume_ids=[web.data["id"]])
    tasks.run_due_policies()
    _age(policy["id"], 61)
    tasks.run_due_policies()
    first, second = PolicySnapshot.objects.filter(volume_id=web.data["id"]).order_by("created_at")
    PolicySnapshot.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=timezone.now() - timedelta(days=2))
    _age(policy["id"], 61)
    run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    assert run.snapshots_deleted == 2
    left = {s["id"] for s in cloud.list_snapshots(volume_id=web.data["id"])}
    assert first.snapshot_id not in left and second.snapshot_id not in left and len(left) == 1


def test_a_run_whose_worker_died_is_failed_and_its_policies_run_again(admin_client_api, cloud, web):
    policy = _policy(admin_client_api)
    _assign(admin_client_api, policy["id"], volume_ids=[web.data["id"]])
    stuck = SnapshotRun.objects.create(trigger="scheduled", heartbeat_at=timezone.now() - timedelta(hours=1))
    _age(policy["id"], 61)
    run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "interrupted" in stuck.error
    assert run.status == "completed" and run.snapshots_created == 1


def test_the_pipeline_says_which_step_failed(admin_client_api, cloud, web, django_capture_on_commit_callbacks):
    policy = _policy(admin_client_api)
    _assign(admin_client_api, policy["id"], volume_ids=[web.data["id"]])
    SnapshotRun.objects.create(trigger="scheduled")  # a scheduled run in progress
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_api.post("/snapshot/run-now")
    status = admin_client_api.get("/snapshot/run-now/status").json()
    assert status["status"] == "failed" and "already running" in status["error"]
    assert [s["status"] for s in status["steps"]] == ["completed", "completed", "failed", "pending"]


def test_beat_runs_the_policies_every_minute(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["snapshot-policies"]
    assert entry == {"task": "apps.snapshots.tasks.run_due_policies", "schedule": 60.0}
    assert entry["task"] in app.tasks


def test_a_snapshot_whose_wait_was_lost_is_left_to_the_orphan_sweep(admin_client_api, cloud, web, cs_lab):
    policy = _policy(admin_client_api)
    _assign(admin_client_api, policy["id"], volume_ids=[web.data["id"]])
    cs_lab.inject("queryAsyncJobResult", reset=True, count=None)  # CloudStack takes the request, then is lost
    try:
        run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    finally:
        cs_lab.clear_injections()
    row = run.volumes.get()
    assert run.status == "failed" and row.status == "failed" and row.snapshot_id  # recorded before the wait
    assert PolicySnapshot.objects.get(snapshot_id=row.snapshot_id).state == "failed"  # retention does not count it
    assert volumes.owner_is_live(run.owner) is False
    counts = volumes.sweep()
    assert counts["removed"] == 1 and cloud.find("snapshot", row.snapshot_id) is None
