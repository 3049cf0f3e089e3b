"""Pure time arithmetic for schedules: cron parsing, time zones, sync windows and the next beat run."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django_celery_beat.validators import crontab_validator

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
# The usual shorthands; beat itself only knows the five fields.
CRON_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def normalise_cron(expression: str) -> str:
    return " ".join(str(expression).split())


def parse_cron(expression: str) -> dict[str, str]:
    """Split a five-field cron expression (or a macro) into CrontabSchedule fields; ValueError when beat can't run it."""
    text = normalise_cron(expression)
    text = CRON_MACROS.get(text.lower(), text)
    parts = text.split(" ") if text else []
    if len(parts) != 5:
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as "
                         f"@daily, got {len(parts)} field(s) in '{expression}'")
    try:
        # python-crontab's checks give the clearest messages ("'61', not in 0-59 for Minutes") ...
        crontab_validator(text)
    except ValidationError as exc:
        raise ValueError("; ".join(exc.messages)) from exc
    fields = dict(zip(CRON_FIELDS, parts, strict=True))
    try:
        # ... and Celery's parser is what beat will evaluate, so it must accept it too (e.g. it rejects "31 2").
        crontab(**fields)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    return fields


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError for anything else."""
    if not name or not isinstance(name, str):
        raise ValueError("a time zone name is required, e.g. 'UTC' or 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}' (use an IANA name such as 'Europe/Berlin')") from exc


def in_window(start: dt.time | None, end: dt.time | None, tz_name: str, now: dt.datetime) -> bool:
    """True when `now` (aware) falls in [start, end) of the schedule's local day; a window may cross midnight."""
    if start is None or end is None:
        return True
    local = now.astimezone(zone(tz_name)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_window_open(start: dt.time | None, end: dt.time | None, tz_name: str,
                     now: dt.datetime) -> dt.datetime:
    """When the window next opens (`now` itself while it is open), as an aware UTC datetime."""
    if in_window(start, end, tz_name, now):
        return now
    tz = zone(tz_name)
    local = now.astimezone(tz)
    candidate = dt.datetime.combine(local.date(), start, tzinfo=tz)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), start, tzinfo=tz)
    return candidate.astimezone(dt.UTC)


def describe_cron(expression: str) -> str:
    """'At 02:00 AM'-style text for the console and the API (cron_descriptor ships with django-celery-beat)."""
    from cron_descriptor import get_description

    try:
        return get_description(CRON_MACROS.get(normalise_cron(expression).lower(), normalise_cron(expression)))
    except Exception:  # noqa: BLE001 - a description is a courtesy; the expression was validated on save
        return expression


def describe_interval(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"Every {count} {unit}{'s' if count != 1 else ''}"
    return f"Every {seconds} seconds"


def next_run_at(periodic_task, now: dt.datetime) -> dt.datetime | None:
    """When beat will next fire `periodic_task`, computed the way DatabaseScheduler's entry does (UTC)."""
    if periodic_task is None or not periodic_task.enabled:
        return None
    schedule = periodic_task.schedule
    # ModelEntry counts from the last run, or from the last change of a task that never ran.
    last = periodic_task.last_run_at or periodic_task.date_changed or now
    if hasattr(schedule, "remaining_delta"):
        start, delta, _ = schedule.remaining_delta(last)
        when = start + delta
    else:
        when = last + schedule.run_every
    # Overdue means beat sends it on its next tick.
    return max(when, now).astimezone(dt.UTC)
