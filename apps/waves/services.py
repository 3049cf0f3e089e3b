"""Wave writes: create (from a machine group or a list of VMs), start now, cancel, roll back, rehearse.

Views and the admin call only these; the engine (`engine.py`) does the work on the workers.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict, InvalidInput, NotFound
from apps.failover import services as failover
from apps.inventory.models import VMContext
from apps.scheduler import selectors as scheduler_selectors
from apps.scheduler import services as scheduler

from . import jobs
from .choices import IN_FLIGHT, OPEN, WaveKind, WaveStatus, WaveVMStatus
from .models import Wave, WaveHook, WaveVM

VM_OPTIONS = ("test_first", "power_off_source", "keep_macs", "final_sync")
DRAFT_REHEARSAL_WINDOW = timedelta(hours=4)  # a draft's rehearsal: its cutover window is not known yet
HOOK_FIELDS = ("name", "stage", "kind", "url", "secret", "command", "timeout_seconds", "retries")


def wave_get(pk) -> Wave:
    text = str(pk)
    wave = Wave.objects.filter(pk=int(text)).first() if text.isdigit() and int(text) < 2**63 else None
    if wave is None:
        raise NotFound(f"Wave '{pk}' not found", error_code="WAVE_NOT_FOUND")
    return wave


def ordered(entries: list[dict]) -> list[dict]:
    """Dependencies first, otherwise the given order (Kahn's algorithm, stable); 400 on an unknown name or a cycle."""
    names = [entry["vm_name"] for entry in entries]
    for entry in entries:
        unknown = [name for name in entry["depends_on"] if name not in names]
        if unknown:
            raise InvalidInput(f"VM '{entry['vm_name']}' depends on {', '.join(repr(n) for n in unknown)}, not in "
                               "this wave", error_code="WAVE_ORDER_INVALID")
        if entry["vm_name"] in entry["depends_on"]:
            raise InvalidInput(f"VM '{entry['vm_name']}' depends on itself", error_code="WAVE_ORDER_INVALID")
    placed: list[dict] = []
    done: set[str] = set()
    left = list(entries)
    while left:
        ready = next((e for e in left if set(e["depends_on"]) <= done), None)
        if ready is None:
            raise InvalidInput("The dependencies form a cycle: " + ", ".join(e["vm_name"] for e in left),
                               error_code="WAVE_ORDER_INVALID")
        placed.append(ready)
        done.add(ready["vm_name"])
        left.remove(ready)
    return placed


def _entries(*, group, vms: list[dict]) -> list[dict]:
    """Each VM of the wave with its options: the group's members (options from `vms` by name) or the `vms` list."""
    given = []
    for item in vms:
        context = scheduler.vm_context_lookup(item["vm"])
        given.append({"vm_context": context, "vm_name": context.vm_name,
                      "depends_on": list(dict.fromkeys(item.get("depends_on") or [])),
                      **{key: item[key] for key in VM_OPTIONS if key in item}})
    if len({e["vm_name"] for e in given}) != len(given):
        raise InvalidInput("A VM appears twice in vms", error_code="WAVE_VMS_INVALID")
    if group is None:
        return given
    members = list(scheduler_selectors.group_vms(group))
    by_name = {e["vm_name"]: e for e in given}
    outside = sorted(set(by_name) - {vm.vm_name for vm in members})
    if outside:
        raise InvalidInput(f"{', '.join(outside)} is not in machine group '{group.name}'", error_code="WAVE_VMS_INVALID")
    return [by_name.get(vm.vm_name) or {"vm_context": vm, "vm_name": vm.vm_name, "depends_on": []} for vm in members]


def _check_window(window_start, deadline) -> None:
    if deadline <= window_start:
        raise InvalidInput("deadline must be after window_start", error_code="WAVE_WINDOW_INVALID")
    if deadline <= timezone.now():
        raise InvalidInput("deadline is in the past", error_code="WAVE_WINDOW_INVALID")


def _busy_elsewhere(contexts: list[VMContext], kind: str) -> None:
    """A VM is in at most one open cutover wave (rehearsals may overlap)."""
    if kind != WaveKind.CUTOVER:
        return
    taken = (WaveVM.objects.filter(vm_context__in=contexts, wave__status__in=OPEN, wave__kind=WaveKind.CUTOVER)
             .select_related("wave").first())
    if taken is not None:
        raise Conflict(f"VM '{taken.vm_name}' is already in open wave '{taken.wave.name}'", error_code="WAVE_VM_TAKEN")


def _save_hooks(wave: Wave, hooks: list[dict]) -> None:
    names = [hook["name"] for hook in hooks]
    if len(set(names)) != len(names):
        raise InvalidInput("Two hooks have the same name", error_code="WAVE_HOOKS_INVALID")
    for hook in hooks:
        WaveHook.objects.create(wave=wave, **{key: hook[key] for key in HOOK_FIELDS if key in hook})


def wave_create(*, data: dict, created_by: str = "", rehearsal_of: Wave | None = None, draft: bool = False) -> Wave:
    """A wave and its VMs in dependency order, with its hooks; it opens at window_start (beat's sweep).

    A `draft` has no window yet (window_start and deadline are ignored): it holds its VMs and waits for
    `wave_schedule`; the planner makes one for a cohort without planned dates."""
    group = scheduler.group_get(data["group_id"]) if data.get("group_id") is not None else None
    if group is None and not data.get("vms"):
        raise InvalidInput("Give group_id or vms", error_code="WAVE_VMS_INVALID")
    entries = ordered(_entries(group=group, vms=data.get("vms") or []))
    if not entries:
        raise InvalidInput(f"Machine group '{group.name}' has no VMs", error_code="WAVE_VMS_INVALID")
    if draft:
        window_start = deadline = None
    else:
        window_start, deadline = data.get("window_start") or timezone.now(), data["deadline"]
        _check_window(window_start, deadline)
    kind = data.get("kind", WaveKind.CUTOVER)
    try:
        with transaction.atomic():
            _busy_elsewhere([e["vm_context"] for e in entries], kind)
            wave = Wave.objects.create(
                name=data["name"], description=data.get("description") or "", kind=kind, group=group,
                status=WaveStatus.DRAFT if draft else WaveStatus.SCHEDULED,
                rehearsal_of=rehearsal_of, window_start=window_start, deadline=deadline,
                max_concurrent=data.get("max_concurrent", 2), test_duration=data.get("test_duration") or "4h",
                created_by=created_by)
            WaveVM.objects.bulk_create([
                WaveVM(wave=wave, vm_context=e["vm_context"], vm_name=e["vm_name"], position=index,
                       depends_on=e["depends_on"], **{key: e[key] for key in VM_OPTIONS if key in e})
                for index, e in enumerate(entries, start=1)])
            _save_hooks(wave, data.get("hooks") or [])
            window = (f"window {window_start.isoformat()} to {deadline.isoformat()}" if not draft
                      else "a draft until its window is set")
            jobs.event(wave, "created", f"{kind} wave of {len(entries)} VM(s), {window}, "
                                        f"{wave.max_concurrent} at a time", created_by=created_by)
            if not draft and window_start <= timezone.now():
                jobs.queue(jobs.ADVANCE_TASK, wave.pk)
    except IntegrityError as exc:
        raise Conflict(f"A wave named '{data['name']}' already exists", error_code="WAVE_EXISTS") from exc
    return wave


def wave_schedule(*, wave: Wave, window_start, deadline, requested_by: str = "") -> Wave:
    """Set (or move) the window of a draft or a scheduled wave; a draft becomes scheduled."""
    _check_window(window_start, deadline)
    with transaction.atomic():
        row = Wave.objects.select_for_update().get(pk=wave.pk)
        if row.status not in (WaveStatus.DRAFT, WaveStatus.SCHEDULED):
            raise Conflict(f"Wave '{row.name}' is '{row.status}': its window can no longer change",
                           error_code="INVALID_STATE")
        row.window_start, row.deadline = window_start, deadline
        if row.status == WaveStatus.DRAFT:
            row = jobs.set_status(row, WaveStatus.SCHEDULED, window_start=window_start, deadline=deadline)
        else:
            row.save(update_fields=["window_start", "deadline", "updated_at"])
        jobs.event(row, "scheduled", f"Window set: {window_start.isoformat()} to {deadline.isoformat()}",
                   requested_by=requested_by)
        if window_start <= timezone.now():
            jobs.queue(jobs.ADVANCE_TASK, row.pk)
    return row


def wave_start_now(*, wave: Wave, requested_by: str = "") -> Wave:
    """Open a scheduled wave's window now (its deadline stays)."""
    with transaction.atomic():
        row = Wave.objects.select_for_update().get(pk=wave.pk)
        if row.status == WaveStatus.DRAFT:
            raise Conflict(f"Wave '{row.name}' is a draft: set its window first", error_code="INVALID_STATE")
        if row.status != WaveStatus.SCHEDULED:
            raise Conflict(f"Wave '{row.name}' is '{row.status}', not scheduled", error_code="INVALID_STATE")
        now = timezone.now()
        if row.deadline <= now:
            raise Conflict(f"Wave '{row.name}''s deadline passed", error_code="WAVE_WINDOW_INVALID")
        row.window_start = now
        row.save(update_fields=["window_start", "updated_at"])
        jobs.event(row, "start_now", "Window opened now by request", requested_by=requested_by)
        jobs.queue(jobs.ADVANCE_TASK, row.pk)
    return row


def _stop(vm: WaveVM, requested_by: str) -> str:
    job = vm.failover_job if vm.status == WaveVMStatus.RUNNING else vm.test_job
    if job is None:
        return ""
    try:
        _, message = failover.rollback(job=job, requested_by=requested_by)
    except ApplicationError as exc:
        return f"{vm.vm_name}: {exc.message}"
    return f"{vm.vm_name}: {message}"


def wave_cancel(*, wave: Wave, requested_by: str = "", stop_running: bool = False) -> Wave:
    """No more VMs start; with stop_running (always for a rehearsal) the running failovers roll back too."""
    with transaction.atomic():
        row = Wave.objects.select_for_update().get(pk=wave.pk)
        if row.status not in OPEN:
            raise Conflict(f"Wave '{row.name}' is '{row.status}': nothing to cancel", error_code="INVALID_STATE")
        jobs.set_status(row, WaveStatus.CANCELLED, cancel_requested=True)
        now = timezone.now()
        row.vms.filter(status=WaveVMStatus.QUEUED).update(status=WaveVMStatus.CANCELLED, finished_at=now,
                                                          reason="The wave was cancelled before it started")
        stopped = []
        if stop_running or row.kind == WaveKind.REHEARSAL:
            for vm in row.vms.filter(status__in=IN_FLIGHT).select_related("failover_job", "test_job"):
                stopped.append(_stop(vm, requested_by))
        jobs.event(row, "cancelled", "Cancelled" + (f"; stopping: {'; '.join(s for s in stopped if s)}"
                                                    if stopped else ""), requested_by=requested_by)
        jobs.queue(jobs.ADVANCE_TASK, row.pk)
    return row


ROLLBACK_FROM = {WaveStatus.RUNNING, WaveStatus.ENDING, WaveStatus.COMPLETED, WaveStatus.PARTIAL, WaveStatus.FAILED,
                 WaveStatus.CANCELLED}


def wave_rollback(*, wave: Wave, requested_by: str = "") -> Wave:
    """Roll back every VM of the wave whose failover is still reversible, one at a time, last first (the engine)."""
    with transaction.atomic():
        row = Wave.objects.select_for_update().get(pk=wave.pk)
        if row.status not in ROLLBACK_FROM:
            raise Conflict(f"Wave '{row.name}' is '{row.status}': nothing to roll back", error_code="INVALID_STATE")
        jobs.set_status(row, WaveStatus.ROLLING_BACK, cancel_requested=True)
        jobs.event(row, "rollback", "Rollback requested", requested_by=requested_by)
        jobs.queue(jobs.ADVANCE_TASK, row.pk)
    return row


def wave_rehearse(*, wave: Wave, requested_by: str = "", name: str = "") -> Wave:
    """A rehearsal of `wave` now: the same VMs, order and hooks as test failovers, ended together."""
    if wave.kind != WaveKind.CUTOVER:
        raise Conflict(f"Wave '{wave.name}' is itself a rehearsal", error_code="INVALID_STATE")
    now = timezone.now()
    number = wave.rehearsals.count() + 1
    vms = [{"vm": vm.vm_context.context_id, "depends_on": vm.depends_on,
            **{key: getattr(vm, key) for key in VM_OPTIONS}}
           for vm in wave.vms.select_related("vm_context").order_by("position") if vm.vm_context is not None]
    hooks = [{key: getattr(hook, key) for key in HOOK_FIELDS} for hook in wave.hooks.order_by("id")]
    data = {"name": name or f"{wave.name} rehearsal {number}"[:255], "kind": WaveKind.REHEARSAL, "vms": vms,
            "hooks": hooks, "window_start": now,
            "deadline": now + (max(wave.deadline - wave.window_start, timedelta(hours=1)) if wave.deadline
                               else DRAFT_REHEARSAL_WINDOW),
            "max_concurrent": wave.max_concurrent, "test_duration": wave.test_duration,
            "description": f"Rehearsal of '{wave.name}'"}
    return wave_create(data=data, created_by=requested_by, rehearsal_of=wave)
