"""The operations console: schedules and groups are editable (through the services), executions visible with jobs."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_celery_beat.models import PeriodicTask

from apps.scheduler import services
from apps.scheduler.choices import ExecutionTrigger
from apps.scheduler.models import MachineGroup, SyncSchedule, VMGroupMembership

pytestmark = pytest.mark.django_db

SCHEDULE_FORM = {"name": "console-nightly", "description": "", "cron_expression": "0 3 * * *", "interval_seconds": "",
                 "timezone": "UTC", "window_start": "", "window_end": "", "max_concurrent_jobs": "4",
                 "running_vm_policy": "skip", "max_retries": "1", "retry_delay_seconds": "300", "enabled": "on"}


@pytest.fixture
def console():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "Console-pass-42")
    client = Client()
    client.force_login(user)
    return client


def inline(rows, initial=0):
    data = {"memberships-TOTAL_FORMS": str(len(rows)), "memberships-INITIAL_FORMS": str(initial),
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        data.update({f"memberships-{index}-{key}": value for key, value in row.items()})
    return data


def test_schedule_add_and_change_keep_the_beat_entry_in_step(console):
    assert console.get("/console/scheduler/syncschedule/add/").status_code == 200
    response = console.post("/console/scheduler/syncschedule/add/", SCHEDULE_FORM)
    assert response.status_code == 302, response.content[:2000]
    schedule = SyncSchedule.objects.get(name="console-nightly")
    assert schedule.created_by == "root" and schedule.periodic_task.crontab.hour == "3"

    change = {**SCHEDULE_FORM, "cron_expression": "", "interval_seconds": "900"}
    assert console.post(f"/console/scheduler/syncschedule/{schedule.pk}/change/", change).status_code == 302
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.interval.every == 900 and task.crontab is None
    page = console.get(f"/console/scheduler/syncschedule/{schedule.pk}/change/").content.decode()
    assert "Every 15 minutes" in page and task.name in page
    assert "Every 15 minutes" in console.get("/console/scheduler/syncschedule/").content.decode()


def test_schedule_form_rejects_bad_cron(console):
    response = console.post("/console/scheduler/syncschedule/add/", {**SCHEDULE_FORM, "cron_expression": "99 * * * *"})
    assert response.status_code == 200 and "Invalid cron expression" in response.content.decode()
    assert not SyncSchedule.objects.exists()


def test_group_with_vms_edited_in_the_console(console, make_vms, make_schedule, make_group):
    vms = make_vms(3)
    schedule = make_schedule()
    other = make_group(vms=[vms[2]])
    form = {"name": "console-group", "description": "", "schedule": str(schedule.pk), "priority": "5",
            **inline([{"vm_context": str(vms[0].pk)}, {"vm_context": str(vms[1].pk)}])}
    assert console.post("/console/scheduler/machinegroup/add/", form).status_code == 302
    group = MachineGroup.objects.get(name="console-group")
    assert group.schedule == schedule and group.memberships.count() == 2
    assert set(group.memberships.values_list("assigned_by", flat=True)) == {"root"}

    # A VM already in another group is refused by the form (a VM is in at most one group).
    membership = group.memberships.order_by("pk")
    rows = [{"id": str(m.pk), "group": str(group.pk), "vm_context": str(m.vm_context_id)} for m in membership]
    rows.append({"vm_context": str(vms[2].pk)})
    page = console.post(f"/console/scheduler/machinegroup/{group.pk}/change/",
                        {**form, **inline(rows, initial=2)})
    assert page.status_code == 200 and "already exists" in page.content.decode()
    assert VMGroupMembership.objects.get(vm_context=vms[2]).group == other

    # Removing a VM through the inline ungroups it.
    rows = [{"id": str(m.pk), "group": str(group.pk), "vm_context": str(m.vm_context_id)} for m in membership]
    rows[0]["DELETE"] = "on"
    assert console.post(f"/console/scheduler/machinegroup/{group.pk}/change/",
                        {**form, **inline(rows, initial=2)}).status_code == 302
    assert list(group.memberships.values_list("vm_context_id", flat=True)) == [vms[1].pk]


def test_deleting_a_busy_group_in_the_console_is_refused(console, make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    group = make_group(schedule, make_vms(2))
    services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    response = console.post(f"/console/scheduler/machinegroup/{group.pk}/delete/", {"post": "yes"}, follow=True)
    assert "is in an active execution" in response.content.decode()
    assert MachineGroup.objects.filter(pk=group.pk).exists()


def test_executions_are_visible_with_their_jobs(console, make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    make_group(schedule, make_vms(2))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    job = execution.vms.get(status="running").replication_job
    listing = console.get("/console/scheduler/scheduleexecution/").content.decode()
    assert execution.execution_id in listing
    page = console.get(f"/console/scheduler/scheduleexecution/{execution.pk}/change/").content.decode()
    assert job.job_id in page and f"/console/replication/replicationjob/{job.pk}/change/" in page
    assert "2 VM row(s)" in page and "considered" in page
    rows = console.get(f"/console/scheduler/executionvm/?execution__id__exact={execution.pk}").content.decode()
    assert job.job_id in rows and "queued" in rows.lower()
    response = console.post("/console/scheduler/scheduleexecution/",
                            {"action": "cancel_executions", "_selected_action": [execution.pk]}, follow=True)
    assert f"Cancelled {execution.execution_id}" in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == "cancelled"


def test_run_now_and_disable_actions(console, make_vms, make_schedule, make_group):
    schedule = make_schedule()
    make_group(schedule, make_vms(1))
    response = console.post("/console/scheduler/syncschedule/", {"action": "run_now", "_selected_action": [schedule.pk]},
                            follow=True)
    assert "Triggered" in response.content.decode() and schedule.executions.count() == 1
    console.post("/console/scheduler/syncschedule/", {"action": "disable_schedules",
                                                    "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.enabled is False and PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled is False
