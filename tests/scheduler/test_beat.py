"""Celery beat really fires schedules: django-celery-beat's DatabaseScheduler ticks against the database schedule.

The beat side is real (DatabaseScheduler reading PeriodicTask rows, its heap, is_due, reserve and save). Its Celery
app runs what it sends in-process (always-eager, in-memory broker), as a worker on the scheduler queue would; the
replication jobs the run starts still go through the project's own Celery app to the configured broker.
"""
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import DatabaseScheduler

from apps.replication.choices import ACTIVE
from apps.replication.models import ReplicationJob
from apps.scheduler.choices import ExecutionStatus, ExecutionTrigger
from apps.scheduler.models import ScheduleExecution
from apps.scheduler.receivers import SWEEP_NAME

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def beat_app():
    app = Celery("beat-under-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url="memory://", task_always_eager=True, task_eager_propagates=True)
    import apps.scheduler.tasks  # noqa: F401 - registers the shared tasks on every app

    yield app
    app.close()


@pytest.fixture
def beat(beat_app):
    scheduler = DatabaseScheduler(app=beat_app)
    yield scheduler
    scheduler.close()


def run_due(scheduler, limit=20) -> list[str]:
    """Tick until nothing is due (one tick sends at most one entry); return the scheduler's entries it sent.

    Other apps' beat entries (reaper, housekeeping) come due too; they are recorded but not run here.
    """
    sent = []
    original = scheduler.apply_entry

    def record(entry, producer=None):
        if entry.task.startswith("apps.scheduler."):
            sent.append(entry.name)
            return original(entry, producer=producer)
        return None

    scheduler.apply_entry = record
    try:
        for _ in range(limit):
            if scheduler.tick() != 0:
                break
    finally:
        scheduler.apply_entry = original
    return sent


def make_due(task_name: str, ago: timedelta = timedelta(hours=2)) -> None:
    """Pretend the entry last ran long ago. A queryset update, because PeriodicTask.save() clears last_run_at of a
    disabled task; then the change marker every save moves, so a beat that already read the rows reloads them."""
    PeriodicTask.objects.filter(name=task_name).update(last_run_at=timezone.now() - ago)
    PeriodicTasks.update_changed()


def test_beat_tick_fires_an_interval_schedule_and_starts_its_syncs(beat, make_vms, make_schedule, make_group):
    schedule = make_schedule(interval_seconds=600, max_concurrent_jobs=2)
    make_group(schedule, make_vms(3))
    make_due(schedule.periodic_task.name)

    sent = run_due(beat)
    assert schedule.periodic_task.name in sent
    execution = ScheduleExecution.objects.get(schedule=schedule)
    assert execution.trigger == ExecutionTrigger.SCHEDULED and execution.triggered_by == "celery-beat"
    assert execution.status == ExecutionStatus.RUNNING and execution.vms_considered == 3
    assert ReplicationJob.objects.filter(schedule_execution_id=execution.pk, status__in=ACTIVE).count() == 2
    # Beat records the run in the database schedule (it writes its entries every few minutes and on exit), so it
    # is not due again right away.
    beat.sync()
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.total_run_count == 1 and timezone.now() - task.last_run_at < timedelta(minutes=1)
    assert schedule.periodic_task.name not in run_due(beat)
    assert ScheduleExecution.objects.count() == 1


def test_beat_tick_fires_a_cron_schedule_in_its_time_zone(beat, make_vms, make_schedule, make_group):
    schedule = make_schedule(cron_expression="* * * * *", timezone="America/New_York", interval_seconds=None)
    make_group(schedule, make_vms(1))
    make_due(schedule.periodic_task.name, timedelta(minutes=3))
    assert schedule.periodic_task.name in run_due(beat)
    assert ScheduleExecution.objects.filter(schedule=schedule, trigger=ExecutionTrigger.SCHEDULED).count() == 1


def test_a_disabled_schedule_is_not_fired(beat, make_vms, make_schedule, make_group):
    schedule = make_schedule(interval_seconds=600, enabled=False)
    make_group(schedule, make_vms(1))
    make_due(schedule.periodic_task.name)
    assert schedule.periodic_task.name not in run_due(beat)
    assert not ScheduleExecution.objects.exists() and not ReplicationJob.objects.exists()


def test_running_beat_picks_up_an_enable_without_a_restart(beat, operator_client, make_vms, make_schedule,
                                                          make_group):
    schedule = make_schedule(interval_seconds=600, enabled=False)
    make_group(schedule, make_vms(1))
    make_due(schedule.periodic_task.name)
    assert schedule.periodic_task.name not in run_due(beat)  # read, but a disabled entry is not even loaded
    assert not ScheduleExecution.objects.exists()

    response = operator_client.post(f"/api/v1/schedules/{schedule.pk}/enable", {"enabled": True}, format="json")
    assert response.status_code == 200
    # Nothing else touched beat's tables: the enable's own save moved the change marker, and the same scheduler
    # object reloads the rows and fires the schedule it had ignored.
    assert schedule.periodic_task.name in run_due(beat)
    assert ScheduleExecution.objects.filter(schedule=schedule).count() == 1


def test_beat_fires_the_sweep_which_starts_deferred_runs(beat, make_vms, make_schedule, make_group):
    now = timezone.now()
    schedule = make_schedule(window_start=(now + timedelta(hours=2)).time(), window_end=(now + timedelta(hours=3)).time())
    make_group(schedule, make_vms(1))
    make_due(schedule.periodic_task.name)
    run_due(beat)
    execution = ScheduleExecution.objects.get()
    assert execution.status == ExecutionStatus.DEFERRED
    # The window is moved to include now; the sweep entry (installed by migrate) starts the waiting run.
    schedule.window_start, schedule.window_end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    schedule.save(update_fields=["window_start", "window_end"])
    assert PeriodicTask.objects.filter(name=SWEEP_NAME, enabled=True).exists()
    make_due(SWEEP_NAME)
    assert SWEEP_NAME in run_due(beat)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING and execution.vms_running == 1
