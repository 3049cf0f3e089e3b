"""What approval hands to the platform per cohort beyond its machine group: a sync schedule and a cutover wave.

Each cohort's group gets its own sync schedule (the project's cron expression, else its interval; as many syncs at
once as the project's agents run copies), so its VMs start replicating after approval. Each cohort with matched VMs
becomes a cutover wave of its group (`docs/waves.md`): ordered by the planner's dependencies between its VMs, as many
at once as the agents copy, its window the cohort's planned dates (from the start date's midnight to the end of the
end date, in the server's time zone). A cohort without dates, or whose planned start has passed by approval, gives
a draft wave: it holds its VMs and an operator sets its window (never a cutover started by the approval itself).
"""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.scheduler import services as scheduler_services
from apps.scheduler.models import MAX_CONCURRENT_LIMIT
from apps.waves import services as wave_services
from apps.waves.models import MAX_CONCURRENT as MAX_WAVE_CONCURRENT

from ..models import Cohort, Project, SourceVM


def _slots(project: Project) -> int:
    return project.agent_count * project.agent_concurrent_vms


def sync_schedule(project: Project, cohort: Cohort, name: str, created_by: str):
    timing = ({"cron_expression": project.sync_cron_expression} if project.sync_cron_expression
              else {"interval_seconds": project.sync_interval_seconds})
    return scheduler_services.schedule_create(data={
        "name": name, "description": f"Incremental syncs of cohort '{cohort.name}' of migration plan '{project.name}'",
        "max_concurrent_jobs": min(_slots(project), MAX_CONCURRENT_LIMIT), **timing}, created_by=created_by)


def wave_window(cohort: Cohort, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The cohort's planned dates as a window, or None when it has none or its start has passed."""
    if cohort.scheduled_start is None:
        return None
    zone = timezone.get_default_timezone()
    last_day = max(cohort.scheduled_end or cohort.scheduled_start, cohort.scheduled_start)
    start = dt.datetime.combine(cohort.scheduled_start, dt.time.min, tzinfo=zone)
    deadline = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return (start, deadline) if start > now else None


def _wave_vms(contexts: list, vms: list[SourceVM], matched: dict, project: Project) -> list[dict]:
    """The group's VMs with the dependencies between them: a planned `vm` must complete before `depends_on_vm`."""
    in_wave = {c.pk for c in contexts}
    context_of = {vm.pk: matched[vm.pk] for vm in vms if matched.get(vm.pk) is not None
                  and matched[vm.pk].pk in in_wave}
    waits: dict[int, list[str]] = {}
    for first, then in project.dependencies.values_list("vm_id", "depends_on_vm_id"):
        if first in context_of and then in context_of and context_of[first].pk != context_of[then].pk:
            waits.setdefault(context_of[then].pk, []).append(context_of[first].vm_name)
    return [{"vm": c.context_id, "depends_on": waits.get(c.pk, [])} for c in contexts]


def cutover_wave(project: Project, cohort: Cohort, group, contexts: list, vms: list[SourceVM], matched: dict,
                 created_by: str) -> dict:
    """The cohort's wave, or why there is none (no matched VMs, a VM in another open wave...)."""
    entry = {"cohort_id": cohort.pk, "wave_id": None, "wave_name": group.name, "status": None, "window_start": None,
             "deadline": None, "error": ""}
    if not contexts:
        entry["error"] = "No discovered VM of this cohort is in its group"
        return entry
    window = wave_window(cohort, timezone.now())
    data = {"name": group.name, "group_id": group.pk, "vms": _wave_vms(contexts, vms, matched, project),
            "max_concurrent": min(_slots(project), MAX_WAVE_CONCURRENT),
            "description": f"Cutover of cohort '{cohort.name}' of migration plan '{project.name}'"}
    if window:
        data["window_start"], data["deadline"] = window
    try:
        wave = wave_services.wave_create(data=data, created_by=created_by, draft=window is None)
    except ApplicationError as exc:
        entry["error"] = exc.message
        return entry
    cohort.wave_id = wave.pk
    cohort.save(update_fields=["wave_id", "updated_at"])
    entry.update(wave_id=wave.pk, status=wave.status,
                 window_start=wave.window_start.isoformat() if wave.window_start else None,
                 deadline=wave.deadline.isoformat() if wave.deadline else None)
    return entry
