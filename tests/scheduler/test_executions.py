"""Runs: the concurrency limit, skipping busy VMs, retries, windows, disabled schedules, cancel and the sweep."""
from datetime import time, timedelta

import pytest
from django.utils import timezone

from apps.core.exceptions import Conflict
from apps.replication import services as replication
from apps.replication.choices import ACTIVE, ReplicationStatus, ReplicationType
from apps.replication.models import ReplicationJob
from apps.scheduler import services
from apps.scheduler.choices import ExecutionStatus, ExecutionTrigger, ExecutionVMStatus
from apps.scheduler.models import ScheduleExecution
from apps.scheduler.tasks import run_schedule, sweep_executions
from tests.openapi import assert_matches_schema

from .conftest import finish_job

pytestmark = pytest.mark.django_db


def active_jobs(execution):
    return ReplicationJob.objects.filter(schedule_execution_id=execution.pk, status__in=ACTIVE)


def trigger(client, schedule, **body):
    return client.post(f"/api/v1/schedules/{schedule.pk}/trigger", body, format="json")


def test_trigger_starts_syncs_up_to_the_limit_and_the_rest_follow_as_jobs_finish(
        operator_client, make_vms, make_schedule, make_group, published, django_capture_on_commit_callbacks):
    vms = make_vms(7)
    schedule = make_schedule(max_concurrent_jobs=3)
    make_group(schedule, vms)

    with django_capture_on_commit_callbacks(execute=True):
        response = trigger(operator_client, schedule)
    assert response.status_code == 202, response.json()
    assert_matches_schema(response, "/api/v1/schedules/{id}/trigger", "post")
    body = response.json()
    assert body["success"] is True and body["execution"]["status"] == "running"
    assert body["execution"]["vms_considered"] == 7 and body["execution"]["vms_running"] == 3
    assert body["execution"]["vms_queued"] == 4 and body["execution"]["trigger"] == "manual"
    execution = ScheduleExecution.objects.get(execution_id=body["execution"]["execution_id"])
    assert active_jobs(execution).count() == 3
    # The three jobs really went to the broker for the replication worker.
    assert published.names().count("apps.replication.tasks.run_replication") == 3
    # Incremental when the VM synced before, initial otherwise (none of these did).
    assert set(active_jobs(execution).values_list("replication_type", flat=True)) == {ReplicationType.INITIAL}

    peak, finished = 0, 0
    while active_jobs(execution).exists():
        job = active_jobs(execution).order_by("id").first()
        with django_capture_on_commit_callbacks(execute=True):
            finish_job(job, bytes_transferred=1000 + job.pk)
        finished += 1
        # replication_finished queued the advance on the scheduler queue; play the worker.
        assert "apps.scheduler.tasks.advance_execution" in published.names()
        with django_capture_on_commit_callbacks(execute=True):
            published.run_scheduler_tasks()
        peak = max(peak, active_jobs(execution).count())
        assert active_jobs(execution).count() <= 3
    assert finished == 7 and peak == 3

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED and execution.completed_at is not None
    assert (execution.vms_started, execution.vms_succeeded, execution.vms_failed, execution.vms_skipped) == (7, 7, 0, 0)
    jobs = ReplicationJob.objects.filter(schedule_execution_id=execution.pk)
    assert execution.bytes_transferred == sum(1000 + j.pk for j in jobs)
    assert {item.replication_job_id for item in execution.vms.all()} == set(jobs.values_list("pk", flat=True))
    assert "7 succeeded" in execution.summary


def test_the_limit_counts_only_this_runs_syncs_and_is_read_live(make_vms, make_schedule, make_group,
                                                                 django_capture_on_commit_callbacks):
    schedule = make_schedule(max_concurrent_jobs=2)
    make_group(schedule, make_vms(5))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    assert active_jobs(execution).count() == 2
    # Raising the limit of a running run lets the next advance start more.
    services.schedule_update(schedule=schedule, data={"max_concurrent_jobs": 4})
    services.execution_advance(execution_id=execution.pk)
    assert active_jobs(execution).count() == 4
    # Calling advance again with no slot free starts nothing (advancing is idempotent).
    services.execution_advance(execution_id=execution.pk)
    assert active_jobs(execution).count() == 4


def test_a_vm_already_syncing_is_skipped_and_recorded(operator_client, make_vms, make_schedule, make_group):
    vms = make_vms(3)
    busy = replication.replication_start(vm_context=vms[1], requested_by="someone")
    schedule = make_schedule(max_concurrent_jobs=5)
    make_group(schedule, vms)

    response = trigger(operator_client, schedule)
    assert response.status_code == 202
    execution = ScheduleExecution.objects.get(execution_id=response.json()["execution"]["execution_id"])
    assert (execution.vms_considered, execution.vms_running, execution.vms_skipped) == (3, 2, 1)
    skipped = execution.vms.get(status=ExecutionVMStatus.SKIPPED)
    assert skipped.vm_name == vms[1].vm_name and busy.job_id in skipped.reason and "already syncing" in skipped.reason
    assert skipped.replication_job is None
    # Still exactly one active job for that VM: the scheduler did not start a second one.
    assert ReplicationJob.objects.filter(vm_context=vms[1], status__in=ACTIVE).count() == 1

    listed = operator_client.get(f"/api/v1/schedule-executions/{execution.execution_id}/vms?status=skipped").json()
    assert listed["count"] == 1 and listed["results"][0]["reason"] == skipped.reason


def test_wait_policy_keeps_a_busy_vm_queued_until_its_sync_ends(make_vms, make_schedule, make_group, published,
                                                                django_capture_on_commit_callbacks):
    vms = make_vms(2)
    busy = replication.replication_start(vm_context=vms[0], requested_by="someone")
    schedule = make_schedule(max_concurrent_jobs=5, running_vm_policy="wait")
    make_group(schedule, vms)
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    waiting = execution.vms.get(vm_context=vms[0])
    assert waiting.status == ExecutionVMStatus.QUEUED and busy.job_id in waiting.reason
    assert execution.vms.get(vm_context=vms[1]).status == ExecutionVMStatus.RUNNING

    # The other sync (not this run's) ends: the receiver finds the waiting run and queues its advance.
    with django_capture_on_commit_callbacks(execute=True):
        finish_job(busy)
    with django_capture_on_commit_callbacks(execute=True):
        published.run_scheduler_tasks()
    waiting.refresh_from_db()
    assert waiting.status == ExecutionVMStatus.RUNNING and waiting.replication_job.schedule_execution_id == execution.pk


def test_failed_vm_is_retried_per_policy_then_recorded_as_failed(make_vms, make_schedule, make_group, published,
                                                                 django_capture_on_commit_callbacks):
    schedule = make_schedule(max_concurrent_jobs=2, max_retries=1, retry_delay_seconds=0)
    make_group(schedule, make_vms(2))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    bad, good = execution.vms.order_by("position")
    first_job = bad.replication_job

    with django_capture_on_commit_callbacks(execute=True):
        finish_job(first_job, ReplicationStatus.FAILED, error="agent unreachable")
        finish_job(good.replication_job)
    with django_capture_on_commit_callbacks(execute=True):
        published.run_scheduler_tasks()
    bad.refresh_from_db()
    # Retried as the same job (it resumes from its checkpoints), attempt 2.
    assert bad.status == ExecutionVMStatus.RUNNING and bad.attempts == 2 and bad.replication_job_id == first_job.pk
    first_job.refresh_from_db()
    assert first_job.status == ReplicationStatus.PENDING and first_job.attempt == 2
    assert "attempt 1 failed (agent unreachable)" in bad.reason

    with django_capture_on_commit_callbacks(execute=True):
        finish_job(first_job, ReplicationStatus.FAILED, error="agent unreachable again")
    with django_capture_on_commit_callbacks(execute=True):
        published.run_scheduler_tasks()
    bad.refresh_from_db()
    execution.refresh_from_db()
    assert bad.status == ExecutionVMStatus.FAILED
    assert "failed after 2 attempts: agent unreachable again" in bad.reason
    assert execution.status == ExecutionStatus.PARTIAL
    assert (execution.vms_succeeded, execution.vms_failed) == (1, 1)


def test_retry_waits_for_its_delay_and_the_sweep_starts_it(make_vms, make_schedule, make_group,
                                                           django_capture_on_commit_callbacks):
    schedule = make_schedule(max_concurrent_jobs=1, max_retries=2, retry_delay_seconds=600)
    make_group(schedule, make_vms(1))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    item = execution.vms.get()
    finish_job(item.replication_job, ReplicationStatus.FAILED, error="boom")
    services.execution_advance(execution_id=execution.pk)
    item.refresh_from_db()
    assert item.status == ExecutionVMStatus.QUEUED and item.not_before > timezone.now() + timedelta(seconds=590)
    services.execution_sweep(now=timezone.now() + timedelta(seconds=60))
    item.refresh_from_db()
    assert item.status == ExecutionVMStatus.QUEUED
    services.execution_sweep(now=timezone.now() + timedelta(seconds=601))
    item.refresh_from_db()
    assert item.status == ExecutionVMStatus.RUNNING and item.attempts == 2


def test_vm_that_cannot_start_is_failed_with_the_reason_and_does_not_use_a_slot(make_vms, make_schedule,
                                                                                make_group):
    vms = make_vms(3)
    vms[0].disks.all().delete()
    schedule = make_schedule(max_concurrent_jobs=2)
    make_group(schedule, vms)
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    failed = execution.vms.get(vm_context=vms[0])
    assert failed.status == ExecutionVMStatus.FAILED and "has no disks" in failed.reason
    assert active_jobs(execution).count() == 2


def test_disabled_schedule_does_not_run(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule()
    make_group(schedule, make_vms(2))
    assert operator_client.post(f"/api/v1/schedules/{schedule.pk}/enable", {"enabled": False},
                                format="json").status_code == 200
    # Beat's message for it (e.g. sent just before the change) starts nothing ...
    assert run_schedule.apply(args=[schedule.pk]).get() is None
    assert not ScheduleExecution.objects.exists() and not ReplicationJob.objects.exists()
    # ... and "run now" says why.
    response = trigger(operator_client, schedule)
    assert response.status_code == 409 and "disabled" in response.json()["error"]
    assert response.json()["error_code"] == "SCHEDULE_DISABLED"


def test_a_window_outside_now_defers_the_run_until_it_opens(operator_client, make_vms, make_schedule, make_group):
    now = timezone.now()
    start, end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0), \
        (now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    schedule = make_schedule(window_start=start, window_end=end)
    make_group(schedule, make_vms(2))

    response = trigger(operator_client, schedule)
    assert response.status_code == 202 and "deferred" in response.json()["message"]
    execution = ScheduleExecution.objects.get()
    assert execution.status == ExecutionStatus.DEFERRED and not ReplicationJob.objects.exists()
    opens = execution.deferred_until
    assert timedelta(hours=1, minutes=58) < opens - now <= timedelta(hours=2)
    # A second trigger while one waits is a 409; beat's trigger is a quiet no-op.
    assert trigger(operator_client, schedule).status_code == 409
    assert run_schedule.apply(args=[schedule.pk]).get() is None

    sweep_executions.apply()  # still closed
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.DEFERRED
    services.execution_sweep(now=opens + timedelta(seconds=30))
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING and active_jobs(execution).count() == 2


def test_run_now_can_ignore_the_window(operator_client, make_vms, make_schedule, make_group):
    now = timezone.now()
    schedule = make_schedule(window_start=(now + timedelta(hours=2)).time(), window_end=(now + timedelta(hours=3)).time())
    make_group(schedule, make_vms(1))
    response = trigger(operator_client, schedule, ignore_window=True)
    assert response.status_code == 202 and response.json()["execution"]["status"] == "running"
    assert response.json()["execution"]["vms_running"] == 1


def test_window_closing_mid_run_skips_the_vms_not_started(make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1, window_start=time(22, 0), window_end=time(6, 0),
                             timezone="Europe/Berlin")
    make_group(schedule, make_vms(3))
    inside = timezone.datetime(2026, 1, 10, 23, 30, tzinfo=timezone.get_fixed_timezone(60))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.SCHEDULED, now=inside)
    assert execution.status == ExecutionStatus.RUNNING and active_jobs(execution).count() == 1
    finish_job(active_jobs(execution).get())
    services.execution_advance(execution_id=execution.pk, now=inside.replace(hour=7))
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED and execution.vms_skipped == 2
    assert execution.vms.filter(reason__contains="sync window closed").count() == 2


def test_a_run_still_going_blocks_a_second_one(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule()
    make_group(schedule, make_vms(1))
    first = trigger(operator_client, schedule)
    assert first.status_code == 202
    second = trigger(operator_client, schedule)
    assert second.status_code == 409 and second.json()["error_code"] == "EXECUTION_ACTIVE"
    assert second.json()["details"]["execution_id"] == first.json()["execution"]["execution_id"]
    assert run_schedule.apply(args=[schedule.pk]).get() is None
    assert ScheduleExecution.objects.count() == 1


def test_empty_schedule_completes_at_once(make_schedule, make_group):
    schedule = make_schedule()
    make_group(schedule)
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    assert execution.status == ExecutionStatus.COMPLETED and execution.vms_considered == 0


def test_cancel_stops_the_queue_and_lets_running_syncs_end(operator_client, make_vms, make_schedule, make_group,
                                                           published, django_capture_on_commit_callbacks):
    schedule = make_schedule(max_concurrent_jobs=2)
    make_group(schedule, make_vms(4))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    response = operator_client.post(f"/api/v1/schedule-executions/{execution.pk}/cancel", {}, format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/schedule-executions/{id}/cancel", "post")
    assert response.json()["execution"]["status"] == "cancelled"
    assert response.json()["execution"]["vms_cancelled"] == 2 and response.json()["execution"]["vms_running"] == 2
    execution.refresh_from_db()
    assert execution.completed_at is None
    for job in list(active_jobs(execution)):
        with django_capture_on_commit_callbacks(execute=True):
            finish_job(job)
    with django_capture_on_commit_callbacks(execute=True):
        published.run_scheduler_tasks()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED and execution.completed_at is not None
    assert (execution.vms_succeeded, execution.vms_cancelled) == (2, 2)
    assert ReplicationJob.objects.filter(schedule_execution_id=execution.pk).count() == 2
    again = operator_client.post(f"/api/v1/schedule-executions/{execution.pk}/cancel", {}, format="json")
    assert again.status_code == 409
    assert_matches_schema(again, "/api/v1/schedule-executions/{id}/cancel", "post")


def test_cancel_running_also_cancels_the_jobs(operator_client, make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=2)
    make_group(schedule, make_vms(3))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    response = operator_client.post(f"/api/v1/schedule-executions/{execution.execution_id}/cancel",
                                    {"cancel_running": True}, format="json")
    assert response.status_code == 200
    assert not active_jobs(execution).exists()
    execution.refresh_from_db()
    assert execution.vms_cancelled == 3 and execution.completed_at is not None


def test_sweep_advances_a_run_whose_finish_message_was_lost(make_vms, make_schedule, make_group):
    schedule = make_schedule(max_concurrent_jobs=1)
    make_group(schedule, make_vms(2))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    # Finished outside any commit hook: no advance message was ever published.
    finish_job(active_jobs(execution).get())
    assert not active_jobs(execution).exists()
    result = sweep_executions.apply().get()
    assert result["advanced"] == 1
    assert active_jobs(execution).count() == 1


def test_disabling_cancels_a_deferred_run(make_vms, make_schedule, make_group):
    now = timezone.now()
    schedule = make_schedule(window_start=(now + timedelta(hours=2)).time(), window_end=(now + timedelta(hours=3)).time())
    make_group(schedule, make_vms(1))
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.SCHEDULED)
    assert execution.status == ExecutionStatus.DEFERRED
    services.schedule_set_enabled(schedule=schedule, enabled=False)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED and "disabled" in execution.summary


def test_vm_that_left_the_group_before_its_turn_is_skipped(make_vms, make_schedule, make_group):
    vms = make_vms(2)
    schedule = make_schedule(max_concurrent_jobs=1)
    group = make_group(schedule, vms)
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    services.group_unassign_vm(group=group, vm_context=vms[1])
    finish_job(active_jobs(execution).get())
    services.execution_advance(execution_id=execution.pk)
    left = execution.vms.get(vm_context=vms[1])
    assert left.status == ExecutionVMStatus.SKIPPED and "left this schedule" in left.reason


def test_failed_over_vm_is_skipped_with_the_replication_reason(make_vms, make_schedule, make_group):
    vms = make_vms(1)
    vms[0].current_status = "failed_over"
    vms[0].save()
    schedule = make_schedule()
    make_group(schedule, vms)
    execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)
    item = execution.vms.get()
    assert item.status == ExecutionVMStatus.SKIPPED and "failed over" in item.reason
    assert execution.status == ExecutionStatus.COMPLETED


def test_manual_trigger_errors_come_from_the_service(make_schedule):
    schedule = make_schedule(enabled=False)
    with pytest.raises(Conflict):
        services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL)


def _finished_run(schedule, *, days_ago: float, status=ExecutionStatus.COMPLETED, name=None):
    when = timezone.now() - timedelta(days=days_ago)
    run = ScheduleExecution.objects.create(
        execution_id=f"exec-{schedule.pk if schedule else 'x'}-{days_ago}-{status}", schedule=schedule,
        schedule_name=name or schedule.name, trigger=ExecutionTrigger.SCHEDULED, status=status, started_at=when,
        completed_at=None if status == ExecutionStatus.RUNNING else when)
    # created_at is auto_now_add: age it too, since "newest" means created last.
    ScheduleExecution.objects.filter(pk=run.pk).update(created_at=when)
    return run


def test_sweep_prunes_old_finished_runs_but_keeps_the_newest_of_each_schedule_and_open_runs(make_schedule, settings):
    settings.MP_SCHEDULER_EXECUTION_RETENTION_DAYS = 30
    settings.MP_SCHEDULER_KEEP_EXECUTIONS = 2
    busy, quiet = make_schedule(), make_schedule()
    old_busy = [_finished_run(busy, days_ago=d) for d in (40, 50, 60, 70)]
    recent = _finished_run(busy, days_ago=1)
    still_running = _finished_run(busy, days_ago=100, status=ExecutionStatus.RUNNING)
    # A schedule whose only runs are old keeps its newest two: its history never empties.
    old_quiet = [_finished_run(quiet, days_ago=d, status=ExecutionStatus.FAILED) for d in (45, 90, 120)]
    # The runs of a deleted schedule are grouped by the name they kept.
    orphans = [_finished_run(None, days_ago=d, name="gone") for d in (31, 32, 33)]

    result = services.execution_sweep()
    left = set(ScheduleExecution.objects.values_list("pk", flat=True))
    # An open run is never pruned, however old (this one had no VMs, so the sweep just finished it).
    assert still_running.pk in left
    # busy: the newest two by creation are `recent` and the 40-day-old run; the older three go.
    assert {recent.pk, old_busy[0].pk} <= left and not left & {r.pk for r in old_busy[1:]}
    assert {r.pk for r in old_quiet[:2]} <= left and old_quiet[2].pk not in left
    assert {r.pk for r in orphans[:2]} <= left and orphans[2].pk not in left
    assert result["pruned"] == 3 + 1 + 1
    # Nothing more to do on the next sweep.
    assert services.execution_sweep()["pruned"] == 0


def test_retention_zero_keeps_everything_and_pruning_goes_in_batches(make_schedule, settings):
    schedule = make_schedule()
    runs = [_finished_run(schedule, days_ago=400 + d) for d in range(5)]
    settings.MP_SCHEDULER_EXECUTION_RETENTION_DAYS = 0
    assert services.execution_prune() == 0 and ScheduleExecution.objects.count() == 5
    settings.MP_SCHEDULER_EXECUTION_RETENTION_DAYS = 365
    assert services.execution_prune(keep=1, batch=2) == 2
    assert services.execution_prune(keep=1, batch=2) == 2
    assert list(ScheduleExecution.objects.values_list("pk", flat=True)) == [runs[0].pk]
