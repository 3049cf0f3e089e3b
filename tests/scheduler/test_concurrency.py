"""Several workers at once: advancing one run from many threads never exceeds its limit, and two triggers of one
schedule never make two runs. Real transactions and row locks, so these run on MariaDB."""
import threading

import pytest
from django.db import connection, connections

from apps.replication.choices import ACTIVE
from apps.replication.models import ReplicationJob
from apps.scheduler import services
from apps.scheduler.choices import ExecutionTrigger
from apps.scheduler.models import ScheduleExecution

from .conftest import finish_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


@pytest.fixture(autouse=True)
def _needs_a_server_database():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite takes one writer at a time, so row locks cannot race; CI runs this on MariaDB (DATABASE_URL=mysql://...)")


def in_threads(count, func):
    barrier, errors = threading.Barrier(count), []

    def run():
        try:
            barrier.wait()
            func()
        except Exception as exc:  # noqa: BLE001 - collected and re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_concurrent_advances_never_exceed_the_limit(make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=5)
    make_group(schedule, make_vms(30))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    for job in list(ReplicationJob.objects.filter(schedule_execution_id=execution.pk)):
        finish_job(job)  # five slots free at once, as when several syncs end together

    errors = in_threads(8, lambda: services.execution_advance(execution_id=execution.pk))
    assert errors == []
    assert ReplicationJob.objects.filter(schedule_execution_id=execution.pk, status__in=ACTIVE).count() == 5
    execution.refresh_from_db()
    assert (execution.vms_succeeded, execution.vms_running, execution.vms_queued) == (5, 5, 20)


def test_concurrent_advances_after_a_limit_raise_fill_exactly_the_new_slots(make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    make_group(schedule, make_vms(20))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    services.schedule_update(schedule=schedule, data={"max_concurrent_jobs": 6})
    # Nothing ended, so only the run's lock keeps each advancer from seeing five free slots of its own.
    errors = in_threads(6, lambda: services.execution_advance(execution_id=execution.pk))
    assert errors == []
    execution.refresh_from_db()
    assert (execution.vms_running, execution.vms_queued, execution.vms_skipped, execution.vms_failed) == (6, 14, 0, 0)
    assert ReplicationJob.objects.filter(schedule_execution_id=execution.pk, status__in=ACTIVE).count() == 6


def test_concurrent_triggers_make_one_run(make_vms, make_schedule, make_group):
    from apps.core.exceptions import Conflict

    schedule = make_schedule(max_concurrent_jobs=2)
    make_group(schedule, make_vms(4))
    errors = in_threads(4, lambda: services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL,
                                                            triggered_by="racer"))
    assert ScheduleExecution.objects.count() == 1
    assert len(errors) == 3 and all(isinstance(e, Conflict) and e.error_code == "EXECUTION_ACTIVE" for e in errors)
    assert ReplicationJob.objects.filter(status__in=ACTIVE).count() == 2


def test_schedules_fired_in_the_same_second_all_run(make_vms, make_schedule, make_group):
    schedules = []
    for vm in make_vms(6):
        schedule = make_schedule(max_concurrent_jobs=1)
        make_group(schedule, [vm])
        schedules.append(schedule)
    pending = list(schedules)
    lock = threading.Lock()

    def fire():
        with lock:
            schedule = pending.pop()
        services.execution_start(schedule=schedule, trigger=ExecutionTrigger.SCHEDULED, triggered_by="celery-beat")

    assert in_threads(6, fire) == []
    # Six runs, whatever ids the clock gave them; a VM whose job id clashed waits for the sweep, never skipped.
    assert ScheduleExecution.objects.count() == 6
    services.execution_sweep()
    for execution in ScheduleExecution.objects.all():
        assert (execution.vms_running, execution.vms_skipped, execution.vms_failed) == (1, 0, 0), execution.summary
