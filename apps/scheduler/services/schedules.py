"""Schedules and the django-celery-beat PeriodicTask each one owns, kept in step on every write."""
from __future__ import annotations

import json
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.core.exceptions import Conflict, InvalidInput, NotFound
from apps.core.utils import by_pk

from .. import timing
from ..choices import ACTIVE_EXECUTION, ExecutionStatus, ScheduleType
from ..jobs import SCHEDULER_QUEUE, cancel_deferred
from ..models import SyncSchedule
from .naming import save_named

logger = logging.getLogger(__name__)

RUN_SCHEDULE_TASK = "apps.scheduler.tasks.run_schedule"
# A beat message that waited longer than this (worker down) is dropped; the next run takes over.
MAX_TRIGGER_AGE_SECONDS = 3600
SCHEDULE_FIELDS = ("name", "description", "cron_expression", "interval_seconds", "timezone", "window_start",
                   "window_end", "max_concurrent_jobs", "running_vm_policy", "max_retries", "retry_delay_seconds",
                   "enabled")
# Fields the services set themselves; model validation skips them.
_SERVICE_FIELDS = ["periodic_task", "schedule_type", "created_by", "last_triggered_at"]


def periodic_task_name(schedule: SyncSchedule) -> str:
    return f"scheduler:schedule:{schedule.pk}"


def schedule_get(schedule_id) -> SyncSchedule:
    return by_pk(SyncSchedule.objects, schedule_id,
                 missing=NotFound(f"Schedule {schedule_id} not found", error_code="SCHEDULE_NOT_FOUND"))


def invalid_input(exc: ValidationError) -> InvalidInput:
    """A model ValidationError as the API's 400, with 'field: message' lines like the serializers give."""
    details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    lines = [f"{field}: {message}" if field != "__all__" else message
             for field, messages in details.items() for message in messages]
    return InvalidInput("Invalid request: " + "; ".join(lines), details=details)


def _apply(schedule: SyncSchedule, data: dict) -> None:
    for field in SCHEDULE_FIELDS:
        if field in data:
            value = data[field]
            if field in ("cron_expression", "description") and value is None:
                value = ""
            setattr(schedule, field, value)
    # Giving one kind of timing replaces the other, so a single PUT can turn a cron schedule into an interval one.
    if data.get("cron_expression") and "interval_seconds" not in data:
        schedule.interval_seconds = None
    if data.get("interval_seconds") is not None and "cron_expression" not in data:
        schedule.cron_expression = ""


def _check(schedule: SyncSchedule) -> None:
    try:
        schedule.full_clean(exclude=_SERVICE_FIELDS, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise invalid_input(exc) from exc


def _drop_unused(crontab_id: int | None, interval_id: int | None) -> None:
    """Remove beat schedule rows nothing points at any more (rows are shared, so only when unreferenced)."""
    if crontab_id and not PeriodicTask.objects.filter(crontab_id=crontab_id).exists():
        CrontabSchedule.objects.filter(pk=crontab_id).delete()
    if interval_id and not PeriodicTask.objects.filter(interval_id=interval_id).exists():
        IntervalSchedule.objects.filter(pk=interval_id).delete()


def sync_periodic_task(schedule: SyncSchedule) -> PeriodicTask:
    """Write the schedule's beat entry. PeriodicTask.save() bumps PeriodicTasks.last_update, which is how a
    running DatabaseScheduler notices the change without a restart."""
    task = schedule.periodic_task or PeriodicTask(name=periodic_task_name(schedule))
    old_crontab, old_interval = (task.crontab_id, task.interval_id) if task.pk else (None, None)
    if schedule.schedule_type == ScheduleType.CRON:
        fields = {**timing.parse_cron(schedule.cron_expression), "timezone": schedule.timezone}
        task.crontab = CrontabSchedule.objects.filter(**fields).first() or CrontabSchedule.objects.create(**fields)
        task.interval = None
        expire = MAX_TRIGGER_AGE_SECONDS
    else:
        spec = {"every": schedule.interval_seconds, "period": IntervalSchedule.SECONDS}
        task.interval = IntervalSchedule.objects.filter(**spec).first() or IntervalSchedule.objects.create(**spec)
        task.crontab = None
        expire = min(schedule.interval_seconds, MAX_TRIGGER_AGE_SECONDS)
    task.task = RUN_SCHEDULE_TASK
    task.args = "[]"
    task.kwargs = json.dumps({"schedule_id": schedule.pk})
    task.queue = SCHEDULER_QUEUE
    task.expire_seconds = expire
    task.enabled = schedule.enabled
    task.description = (f"Incremental syncs of the machine groups on schedule '{schedule.name}'. Managed by the "
                        "scheduler: edit the schedule, not this task.")
    task.save()
    if schedule.periodic_task_id != task.pk:
        SyncSchedule.objects.filter(pk=schedule.pk).update(periodic_task=task)
        schedule.periodic_task = task
    _drop_unused(old_crontab if old_crontab != task.crontab_id else None,
                 old_interval if old_interval != task.interval_id else None)
    return task


@transaction.atomic
def schedule_create(*, data: dict, created_by: str = "") -> SyncSchedule:
    """Create a schedule and its beat entry; 400 on bad timing, 409 on a duplicate name."""
    schedule = SyncSchedule(created_by=created_by)
    _apply(schedule, data)
    _check(schedule)
    save_named(schedule, "schedule")
    sync_periodic_task(schedule)
    logger.info("schedule created id=%s name=%s timing=%s", schedule.pk, schedule.name, schedule.timing_description)
    return schedule


@transaction.atomic
def schedule_update(*, schedule: SyncSchedule, data: dict) -> SyncSchedule:
    """Change any subset of a schedule's fields; beat picks the new timing up on its next tick."""
    schedule = SyncSchedule.objects.select_for_update().select_related("periodic_task").get(pk=schedule.pk)
    _apply(schedule, data)
    _check(schedule)
    save_named(schedule, "schedule")
    sync_periodic_task(schedule)
    if "enabled" in data and not schedule.enabled:
        _cancel_deferred(schedule, "the schedule was disabled")
    return schedule


@transaction.atomic
def schedule_set_enabled(*, schedule: SyncSchedule, enabled: bool, changed_by: str = "") -> SyncSchedule:
    """Turn beat runs on or off. Disabling cancels a run still waiting for its window; a running one finishes."""
    schedule = SyncSchedule.objects.select_for_update().select_related("periodic_task").get(pk=schedule.pk)
    schedule.enabled = enabled
    schedule.save(update_fields=["enabled", "updated_at"])
    sync_periodic_task(schedule)
    if not enabled:
        _cancel_deferred(schedule, f"the schedule was disabled{f' by {changed_by}' if changed_by else ''}")
    logger.info("schedule %s id=%s by=%s", "enabled" if enabled else "disabled", schedule.pk, changed_by)
    return schedule


def _cancel_deferred(schedule: SyncSchedule, why: str) -> None:
    for execution in schedule.executions.filter(status=ExecutionStatus.DEFERRED):
        cancel_deferred(execution=execution, why=why)


@transaction.atomic
def schedule_delete(*, schedule: SyncSchedule) -> None:
    """Delete a schedule and its beat entry. 409 while a run is active or machine groups still use it."""
    schedule = SyncSchedule.objects.select_for_update().get(pk=schedule.pk)
    active = list(schedule.executions.filter(status__in=ACTIVE_EXECUTION).values_list("execution_id", "status"))
    if active:
        raise Conflict(f"Schedule '{schedule.name}' has an active execution {active[0][0]} ({active[0][1]}); cancel "
                       "it or let it finish first", error_code="EXECUTION_ACTIVE",
                       details={"executions": [{"execution_id": e, "status": s} for e, s in active]})
    groups = list(schedule.groups.values("id", "name"))
    if groups:
        raise Conflict(f"Schedule '{schedule.name}' is used by {len(groups)} machine group(s); move them to another "
                       "schedule or clear their schedule first", error_code="SCHEDULE_IN_USE",
                       details={"groups": groups})
    task, schedule_id = schedule.periodic_task, schedule.pk
    schedule.delete()
    if task is not None:
        crontab_id, interval_id = task.crontab_id, task.interval_id
        task.delete()
        _drop_unused(crontab_id, interval_id)
    logger.info("schedule deleted id=%s name=%s", schedule_id, schedule.name)


def restore_beat_entries() -> int:
    """Recreate the beat entry of any schedule whose PeriodicTask was deleted behind its back (e.g. in the console),
    so the schedule runs again instead of silently never firing."""
    restored = 0
    for schedule in SyncSchedule.objects.filter(periodic_task__isnull=True):
        with transaction.atomic():
            sync_periodic_task(schedule)
        logger.warning("beat entry of schedule %s was missing; recreated", schedule.pk)
        restored += 1
    return restored
