"""Schedules over the API: CRUD, the beat entry kept in step, enable/disable, bad inputs, roles."""
import json

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from apps.scheduler.models import SyncSchedule
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

NIGHTLY = {"name": "nightly", "description": "all production VMs", "cron_expression": "30 2 * * 1-5",
           "timezone": "Europe/Berlin", "window_start": "22:00", "window_end": "06:00", "max_concurrent_jobs": 10,
           "running_vm_policy": "skip", "max_retries": 2, "retry_delay_seconds": 120}


def create(client, **body):
    return client.post("/api/v1/schedules", body, format="json")


def test_create_cron_schedule_writes_its_beat_entry(operator_client):
    before = PeriodicTasks.last_change()
    response = create(operator_client, **NIGHTLY)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["schedule_type"] == "cron" and body["cron_expression"] == "30 2 * * 1-5"
    assert body["interval_seconds"] is None and body["enabled"] is True and body["created_by"] == "operator1"
    assert body["window_start"] == "22:00" and body["window_end"] == "06:00" and body["timezone"] == "Europe/Berlin"
    assert "02:30" in body["timing_description"]
    # 02:30 in Berlin is 01:30 UTC in winter, 00:30 UTC in summer: beat evaluates the cron in the schedule's zone.
    assert body["next_run_at"][10:] in ("T01:30:00Z", "T00:30:00Z")
    assert body["group_count"] == 0 and body["groups"] == [] and body["active_execution_id"] is None

    task = PeriodicTask.objects.get(name=body["periodic_task"])
    assert task.task == "apps.scheduler.tasks.run_schedule" and task.queue == "scheduler" and task.enabled
    assert json.loads(task.kwargs) == {"schedule_id": body["id"]}
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "2", "1-5")
    assert str(task.crontab.timezone) == "Europe/Berlin" and task.interval is None
    # The change marker a running beat polls moved, so beat reloads without a restart.
    assert PeriodicTasks.last_change() != before


def test_create_interval_schedule_and_macros(operator_client):
    body = create(operator_client, name="hourly", interval_seconds=900).json()
    assert body["schedule_type"] == "interval" and body["timing_description"] == "Every 15 minutes"
    task = PeriodicTask.objects.get(name=body["periodic_task"])
    assert (task.interval.every, task.interval.period) == (900, "seconds") and task.crontab is None
    daily = create(operator_client, name="daily", cron_expression="@daily").json()
    crontab = PeriodicTask.objects.get(name=daily["periodic_task"]).crontab
    assert (crontab.minute, crontab.hour) == ("0", "0")


def test_get_list_filter_paginate(operator_client, viewer_client):
    for name, enabled in (("alpha", True), ("beta", False), ("gamma", True)):
        assert create(operator_client, name=name, interval_seconds=3600, enabled=enabled).status_code == 201
    listed = viewer_client.get("/api/v1/schedules?limit=2&offset=0").json()
    assert listed["count"] == 3 and [s["name"] for s in listed["results"]] == ["alpha", "beta"]
    assert listed["next"] is not None
    assert [s["name"] for s in viewer_client.get("/api/v1/schedules?status=disabled").json()["results"]] == ["beta"]
    assert viewer_client.get("/api/v1/schedules?q=amm").json()["count"] == 1
    assert viewer_client.get("/api/v1/schedules?status=enabled&status=disabled").json()["count"] == 3
    assert viewer_client.get("/api/v1/schedules?enabled=false").json()["count"] == 1
    assert viewer_client.get("/api/v1/schedules?enabled=perhaps").status_code == 400
    one = SyncSchedule.objects.get(name="beta")
    detail = viewer_client.get(f"/api/v1/schedules/{one.pk}")
    assert detail.status_code == 200 and detail.json()["enabled"] is False and detail.json()["next_run_at"] is None
    assert PeriodicTask.objects.get(pk=one.periodic_task_id).enabled is False


def test_put_switches_cron_to_interval_and_tidies_the_old_crontab(operator_client):
    created = create(operator_client, name="switch", cron_expression="17 3 * * *", timezone="Asia/Tokyo").json()
    task = PeriodicTask.objects.get(name=created["periodic_task"])
    old_crontab = task.crontab_id
    before = PeriodicTasks.last_change()
    response = operator_client.put(f"/api/v1/schedules/{created['id']}", {"interval_seconds": 7200}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["schedule_type"] == "interval" and response.json()["cron_expression"] == ""
    task.refresh_from_db()
    assert task.interval.every == 7200 and task.crontab is None
    assert not CrontabSchedule.objects.filter(pk=old_crontab).exists()
    assert PeriodicTasks.last_change() > before
    # PUT is partial: the rest stays.
    again = operator_client.put(f"/api/v1/schedules/{created['id']}", {"max_concurrent_jobs": 8}, format="json")
    assert again.json()["interval_seconds"] == 7200 and again.json()["max_concurrent_jobs"] == 8
    back = operator_client.patch(f"/api/v1/schedules/{created['id']}", {"cron_expression": "0 1 * * *"}, format="json")
    assert back.json()["schedule_type"] == "cron" and back.json()["interval_seconds"] is None
    task.refresh_from_db()
    assert task.crontab.hour == "1" and str(task.crontab.timezone) == "Asia/Tokyo"


def test_enable_disable(operator_client):
    created = create(operator_client, name="toggle", interval_seconds=3600).json()
    url = f"/api/v1/schedules/{created['id']}/enable"
    off = operator_client.post(url, {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["schedule"]["enabled"] is False and "disabled" in off.json()["message"]
    assert_matches_schema(off, "/api/v1/schedules/{id}/enable", "post")
    assert PeriodicTask.objects.get(name=created["periodic_task"]).enabled is False
    on = operator_client.post(url, {}, format="json")
    assert on.status_code == 200 and on.json()["schedule"]["enabled"] is True
    assert PeriodicTask.objects.get(name=created["periodic_task"]).enabled is True
    bad = operator_client.post(url, {"enabled": "sometimes"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]
    assert_matches_schema(bad, "/api/v1/schedules/{id}/enable", "post")


def test_delete_removes_the_beat_entry(operator_client):
    created = create(operator_client, name="gone", interval_seconds=4321).json()
    interval = PeriodicTask.objects.get(name=created["periodic_task"]).interval_id
    assert operator_client.delete(f"/api/v1/schedules/{created['id']}").status_code == 204
    assert not PeriodicTask.objects.filter(name=created["periodic_task"]).exists()
    assert not IntervalSchedule.objects.filter(pk=interval).exists()
    assert operator_client.get(f"/api/v1/schedules/{created['id']}").status_code == 404


def test_delete_is_409_while_groups_use_it(operator_client, make_schedule, make_group):
    schedule = make_schedule()
    group = make_group(schedule)
    response = operator_client.delete(f"/api/v1/schedules/{schedule.pk}")
    assert response.status_code == 409 and response.json()["error_code"] == "SCHEDULE_IN_USE"
    assert response.json()["details"]["groups"] == [{"id": group.pk, "name": group.name}]


def test_delete_is_409_while_a_run_is_active(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule()
    group = make_group(schedule, make_vms(1))
    assert operator_client.post(f"/api/v1/schedules/{schedule.pk}/trigger", {}, format="json").status_code == 202
    operator_client.put(f"/api/v1/machine-groups/{group.pk}", {"schedule_id": None}, format="json")
    response = operator_client.delete(f"/api/v1/schedules/{schedule.pk}")
    assert response.status_code == 409 and response.json()["error_code"] == "EXECUTION_ACTIVE"
    assert SyncSchedule.objects.filter(pk=schedule.pk).exists()


def test_duplicate_name_is_409(operator_client):
    assert create(operator_client, name="same", interval_seconds=600).status_code == 201
    response = create(operator_client, name="same", interval_seconds=600)
    assert response.status_code == 409 and "already exists" in response.json()["error"]
    other = create(operator_client, name="other", interval_seconds=600).json()
    renamed = operator_client.put(f"/api/v1/schedules/{other['id']}", {"name": "same"}, format="json")
    assert renamed.status_code == 409


@pytest.mark.parametrize("body, text", [
    ({}, "name"),
    ({"name": "x"}, "needs a cron expression or interval_seconds"),
    ({"name": "x", "cron_expression": "61 * * * *"}, "Invalid cron expression"),
    ({"name": "x", "cron_expression": "* * *"}, "expected 5 fields"),
    ({"name": "x", "cron_expression": "every night"}, "Invalid cron expression"),
    ({"name": "x", "cron_expression": "*/0 * * * *"}, "Invalid cron expression"),
    ({"name": "x", "cron_expression": "0 0 31 2 *"}, "never occurs"),
    ({"name": "x", "cron_expression": "0 2 * * *", "interval_seconds": 600}, "not both"),
    ({"name": "x", "interval_seconds": 5}, "interval_seconds"),
    ({"name": "x", "interval_seconds": "often"}, "interval_seconds"),
    ({"name": "x", "interval_seconds": 600, "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"name": "x", "interval_seconds": 600, "window_start": "22:00"}, "both window_start and window_end"),
    ({"name": "x", "interval_seconds": 600, "window_start": "22:00", "window_end": "22:00"}, "must differ"),
    ({"name": "x", "interval_seconds": 600, "window_start": "25:00", "window_end": "02:00"}, "window_start"),
    ({"name": "x", "interval_seconds": 600, "max_concurrent_jobs": 0}, "max_concurrent_jobs"),
    ({"name": "x", "interval_seconds": 600, "max_concurrent_jobs": 1001}, "max_concurrent_jobs"),
    ({"name": "x", "interval_seconds": 600, "running_vm_policy": "ignore"}, "running_vm_policy"),
    ({"name": "x", "interval_seconds": 600, "max_retries": -1}, "max_retries"),
    ({"name": "x", "interval_seconds": 600, "enabled": "perhaps"}, "enabled"),
    ({"name": "", "interval_seconds": 600}, "name"),
])
def test_bad_inputs_are_400(operator_client, body, text):
    response = create(operator_client, **body)
    assert response.status_code == 400, response.json()
    assert response.json()["success"] is False and text in response.json()["error"]
    assert "details" in response.json()
    assert not SyncSchedule.objects.exists() and not PeriodicTask.objects.filter(task__contains="run_schedule").exists()


def test_bad_update_leaves_the_schedule_alone(operator_client):
    created = create(operator_client, name="keep", cron_expression="0 3 * * *").json()
    url = f"/api/v1/schedules/{created['id']}"
    for body, text in (({"cron_expression": "0 25 * * *"}, "Invalid cron"),
                       ({"window_end": "04:00"}, "both window_start and window_end"),
                       ({"cron_expression": "", "interval_seconds": None}, "needs a cron expression or an interval")):
        response = operator_client.put(url, body, format="json")
        assert response.status_code == 400 and text in response.json()["error"], response.json()
    assert operator_client.get(url).json()["cron_expression"] == "0 3 * * *"


def test_non_object_and_malformed_bodies_are_400(operator_client):
    response = operator_client.post("/api/v1/schedules", [1, 2], format="json")
    assert response.status_code == 400 and "Expected a dictionary" in response.json()["error"]
    response = operator_client.post("/api/v1/schedules", data="{nope", content_type="application/json")
    assert response.status_code == 400 and "Malformed" in response.json()["error"]


@pytest.mark.parametrize("method, suffix", [("get", ""), ("put", ""), ("delete", ""), ("post", "/enable"),
                                            ("post", "/trigger"), ("get", "/executions")])
@pytest.mark.parametrize("ident", ["999", "abc"])
def test_unknown_schedule_is_404(operator_client, method, suffix, ident):
    response = getattr(operator_client, method)(f"/api/v1/schedules/{ident}{suffix}", {}, format="json")
    assert response.status_code == 404
    assert response.json()["success"] is False and f"Schedule {ident} not found" in response.json()["error"]


def unicode_digits(number: int) -> str:
    """The same number in Arabic-Indic digits: str.isdigit() says yes, int() reads it, the URL must not."""
    return "".join(chr(0x660 + int(digit)) for digit in str(number))


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/schedules/{schedule}"), ("post", "/api/v1/schedules/{schedule}/enable"),
    ("get", "/api/v1/schedules/{schedule}/executions"), ("get", "/api/v1/schedule-executions/{execution}"),
    ("post", "/api/v1/schedule-executions/{execution}/cancel"), ("get", "/api/v1/schedule-executions/{execution}/vms"),
    ("get", "/api/v1/machine-groups/{group}"), ("get", "/api/v1/machine-groups/{group}/vms")])
def test_ids_with_non_ascii_digits_are_404_not_500_nor_another_row(operator_client, make_schedule, make_group,
                                                                    method, path):
    schedule = make_schedule()
    group = make_group(schedule)
    execution = operator_client.post(f"/api/v1/schedules/{schedule.pk}/trigger", {}, format="json").json()["execution"]
    ids = {"schedule": schedule.pk, "execution": execution["id"], "group": group.pk}
    # '¹' passed str.isdigit() and then broke int() (a 500); '٣' found the row with pk 3.
    for ident in ("¹", unicode_digits(ids[path.split("{")[1].split("}")[0]])):
        url = path.format(**{key: ident for key in ids})
        response = getattr(operator_client, method)(url, {}, format="json")
        assert response.status_code == 404, (url, response.content)
        assert response.json()["success"] is False and ident in response.json()["error"]


def test_roles(viewer_client, anon_client, operator_client):
    created = create(operator_client, name="roles", interval_seconds=600).json()
    assert viewer_client.get("/api/v1/schedules").status_code == 200
    assert viewer_client.get(f"/api/v1/schedules/{created['id']}/executions").status_code == 200
    for response in (create(viewer_client, name="v", interval_seconds=600),
                     viewer_client.post(f"/api/v1/schedules/{created['id']}/trigger", {}, format="json"),
                     viewer_client.post(f"/api/v1/schedules/{created['id']}/enable", {}, format="json"),
                     viewer_client.delete(f"/api/v1/schedules/{created['id']}")):
        assert response.status_code == 403 and response.json()["success"] is False
    assert anon_client.get("/api/v1/schedules").status_code == 401


def test_executions_of_a_schedule(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    make_group(schedule, make_vms(2))
    execution_id = operator_client.post(f"/api/v1/schedules/{schedule.pk}/trigger", {},
                                        format="json").json()["execution"]["execution_id"]
    listed = operator_client.get(f"/api/v1/schedules/{schedule.pk}/executions").json()
    assert listed["count"] == 1 and listed["results"][0]["execution_id"] == execution_id
    assert listed["results"][0]["vms_running"] == 1 and listed["results"][0]["vms_queued"] == 1
    assert operator_client.get(f"/api/v1/schedules/{schedule.pk}/executions?status=completed").json()["count"] == 0
    bad = operator_client.get(f"/api/v1/schedules/{schedule.pk}/executions?status=exploded")
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    detail = operator_client.get(f"/api/v1/schedule-executions/{execution_id}").json()
    assert detail["schedule_id"] == schedule.pk and detail["status"] == "running"
    vms = operator_client.get(f"/api/v1/schedule-executions/{execution_id}/vms").json()["results"]
    assert [v["status"] for v in vms] == ["running", "queued"]
    assert vms[0]["replication_job"]["job_id"].startswith("job-") and vms[0]["replication_job"]["status"] == "pending"
    assert vms[1]["replication_job"] is None
    everything = operator_client.get(f"/api/v1/schedule-executions?schedule={schedule.pk}&status=running").json()
    assert everything["count"] == 1
    assert operator_client.get("/api/v1/schedule-executions/exec-nope").status_code == 404
    schedule_detail = operator_client.get(f"/api/v1/schedules/{schedule.pk}").json()
    assert schedule_detail["active_execution_id"] == execution_id
    assert operator_client.get("/api/v1/schedules?status=running").json()["count"] == 1


def test_schema_documents_the_scheduler(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/schedules", "/api/v1/schedules/{id}/trigger", "/api/v1/schedules/{id}/enable",
                 "/api/v1/schedules/{id}/executions", "/api/v1/machine-groups/{id}/vms",
                 "/api/v1/machine-groups/{id}/vms/{vm}", "/api/v1/vm-assignments/move",
                 "/api/v1/schedule-executions/{id}/vms"):
        assert path in schema["paths"], path


def test_sweep_restores_a_beat_entry_deleted_behind_the_schedules_back(operator_client):
    from apps.scheduler.tasks import sweep_executions

    created = create(operator_client, name="fragile", interval_seconds=600, enabled=False).json()
    PeriodicTask.objects.filter(name=created["periodic_task"]).delete()
    assert operator_client.get(f"/api/v1/schedules/{created['id']}").json()["periodic_task"] is None
    assert sweep_executions.apply().get()["restored_beat_entries"] == 1
    task = PeriodicTask.objects.get(name=created["periodic_task"])
    assert task.interval.every == 600 and task.enabled is False
