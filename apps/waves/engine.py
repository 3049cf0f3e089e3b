"""The wave engine: what beat's sweep, the start task and the failover's step signal drive.

    advance     under the wave's row lock: open the window, follow every started VM's failover job, skip what the
                deadline or a failed dependency rules out, start queued VMs within the limit (dependencies first),
                end a rehearsal's test failovers together, settle the wave; while rolling back, one VM at a time,
                last first
    start_vm    one VM: its pre-hooks, then the failover through apps.failover.services; a refusal (readiness) or
                a failing pre-hook skips the VM with its reason and nothing started

A started VM is followed only through its failover job's row: the failover's own conductor, rollback and
housekeeping stay the only writers of failover state.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.failover import services as failover
from apps.failover.choices import ACTIVE as FAILOVER_ACTIVE
from apps.failover.choices import FailoverStatus, FailoverType
from apps.failover.models import FailoverJob

from . import jobs
from .choices import (
    IN_FLIGHT,
    TRANSITIONS,
    VM_FINAL,
    HookStage,
    WaveKind,
    WaveStatus,
    WaveVMStatus,
)
from .hooks import RETRY_PAUSE_SECONDS, run_stage
from .models import Wave, WaveVM

logger = logging.getLogger(__name__)


# -- one VM --------------------------------------------------------------------------------------------


def _settle(vm: WaveVM, status: str, reason: str = "") -> None:
    vm.status = status
    vm.reason = reason or vm.reason
    fields = ["status", "reason"]
    if status in VM_FINAL:
        vm.finished_at = timezone.now()
        fields.append("finished_at")
    vm.save(update_fields=fields)


def refusal_text(exc: ApplicationError) -> str:
    extra = getattr(exc, "extra", None) or {}
    text = f"{extra['message']}: {exc.message}" if extra.get("message") else exc.message
    actions = extra.get("required_actions") or []
    return text + (f" (to do: {'; '.join(actions)})" if actions else "")


def _live_options(vm: WaveVM) -> dict:
    return {"power_off_source": vm.power_off_source, "final_sync": vm.final_sync,
            "custom_config": {"keep_mac_addresses": vm.keep_macs}}


def _test_options(wave: Wave) -> dict:
    return {"test_duration": wave.test_duration, "test_duration_seconds": failover.parse_duration(wave.test_duration),
            "auto_cleanup": True}  # the failover housekeeping ends a forgotten test when its duration runs out


START_MARGIN_SECONDS = 300


def start_lease(wave: Wave) -> timedelta:
    """How long a start may take: every pre-hook's attempts and pauses, and a margin for the failover's checks."""
    seconds = START_MARGIN_SECONDS
    for hook in wave.hooks.filter(stage=HookStage.BEFORE_FINAL_SYNC):
        seconds += hook.timeout_seconds * (hook.retries + 1) + RETRY_PAUSE_SECONDS * hook.retries * (hook.retries + 1)
    return timedelta(seconds=seconds)


def _claim_start(vm: WaveVM) -> bool:
    now = timezone.now()
    free = Q(start_claimed_at__isnull=True) | Q(start_claimed_at__lt=now - start_lease(vm.wave))
    return bool(WaveVM.objects.filter(free, pk=vm.pk, status=WaveVMStatus.STARTING).update(start_claimed_at=now))


def start_vm(vm_id: int) -> None:
    """Start one wave VM (status starting): pre-hooks, then its test or live failover."""
    vm = WaveVM.objects.select_related("wave", "vm_context", "test_job").filter(pk=vm_id).first()
    if vm is None or vm.status != WaveVMStatus.STARTING or not _claim_start(vm):
        return  # started, settled, or another worker is starting it now
    wave = vm.wave
    if wave.status != WaveStatus.RUNNING:
        _settle(vm, WaveVMStatus.CANCELLED, f"The wave is '{wave.status}': not started")
        return
    if vm.vm_context is None:
        _settle(vm, WaveVMStatus.SKIPPED, "The VM context was deleted")
        jobs.queue(jobs.ADVANCE_TASK, wave.pk)
        return
    rehearsal = wave.kind == WaveKind.REHEARSAL
    test_phase = rehearsal or (vm.test_first and vm.test_job_id is None)
    if rehearsal or not test_phase:
        failure = run_stage(vm, HookStage.BEFORE_FINAL_SYNC)
        if failure is not None:
            _settle(vm, WaveVMStatus.SKIPPED, f"Pre-hook '{failure['hook']}' failed (nothing was started): "
                                              f"{failure['output'][:1000]}")
            jobs.event(wave, "skipped", f"VM '{vm.vm_name}': pre-hook '{failure['hook']}' failed", level="warning")
            jobs.queue(jobs.ADVANCE_TASK, wave.pk)
            return
    failover_type = FailoverType.TEST if test_phase else FailoverType.LIVE
    options = _test_options(wave) if test_phase else _live_options(vm)
    try:
        job = failover.failover_start(vm_context=vm.vm_context, failover_type=failover_type, options=options,
                                      requested_by=jobs.requested_by(vm))
    except ApplicationError as exc:
        _settle(vm, WaveVMStatus.SKIPPED, f"Not ready for {failover_type} failover: {refusal_text(exc)}")
        jobs.event(wave, "skipped", f"VM '{vm.vm_name}' skipped: {exc.message}", level="warning")
        jobs.queue(jobs.ADVANCE_TASK, wave.pk)
        return
    with transaction.atomic():
        row = WaveVM.objects.select_for_update().get(pk=vm.pk)
        if test_phase:
            row.test_job, row.status = job, WaveVMStatus.TESTING
        else:
            row.failover_job, row.status = job, WaveVMStatus.RUNNING
        row.save(update_fields=["test_job", "failover_job", "status"])
    jobs.event(wave, "started", f"VM '{vm.vm_name}': {failover_type} failover {job.job_id} started")
    jobs.queue(jobs.ADVANCE_TASK, wave.pk)


# -- the wave ------------------------------------------------------------------------------------------


def _set(wave: Wave, status: str, **updates) -> None:
    """On the locked row `advance` holds."""
    if status != wave.status and status not in TRANSITIONS[wave.status]:
        raise ValueError(f"wave {wave.pk}: {wave.status} -> {status} is not allowed")
    wave.status = status
    for key, value in updates.items():
        setattr(wave, key, value)
    wave.save(update_fields=["status", "updated_at", *updates])


def _test_up(vm: WaveVM) -> bool:
    return vm.status == WaveVMStatus.TESTING and vm.test_job is not None and vm.test_job.test_running


def _test_ended(job: FailoverJob | None) -> bool:
    return job is not None and job.status == FailoverStatus.COMPLETED and job.ended_at is not None


def _end_test(wave: Wave, vm: WaveVM) -> None:
    try:
        failover.test_end(job=vm.test_job, requested_by=jobs.requested_by(vm))
    except ApplicationError as exc:
        _settle(vm, WaveVMStatus.FAILED, f"Could not end test failover {vm.test_job.job_id}: {exc.message}")
        return
    _settle(vm, WaveVMStatus.ENDING_TEST)


def _follow(wave: Wave, vm: WaveVM, now) -> None:
    """Bring a started VM's status in line with its failover job."""
    rehearsal = wave.kind == WaveKind.REHEARSAL
    if vm.status in (WaveVMStatus.TESTING, WaveVMStatus.ENDING_TEST):
        job = vm.test_job
    elif vm.status == WaveVMStatus.RUNNING:
        job = vm.failover_job
    else:
        return
    if job is None:
        return
    if job.status == FailoverStatus.FAILED:
        _settle(vm, WaveVMStatus.FAILED, f"{job.job_type} failover {job.job_id} failed: {job.error_message}")
    elif vm.status == WaveVMStatus.RUNNING:
        if job.status == FailoverStatus.COMPLETED:
            _settle(vm, WaveVMStatus.COMPLETED)
    elif job.test_running:
        if not rehearsal and vm.status == WaveVMStatus.TESTING:
            _end_test(wave, vm)  # test first: it booted; end it, then the live failover
    elif _test_ended(job):
        if rehearsal:
            _settle(vm, WaveVMStatus.COMPLETED, f"Test failover {job.job_id} ran and was ended")
        else:
            _settle(vm, WaveVMStatus.QUEUED, f"Test failover {job.job_id} passed; live failover next")


def _dependencies(wave: Wave, vm: WaveVM, by_name: dict) -> tuple[bool, str]:
    """(ready, why not ever): ready when every dependency completed (a rehearsal: its test VM is up)."""
    for name in vm.depends_on:
        dep = by_name[name]
        if dep.status == WaveVMStatus.COMPLETED or (wave.kind == WaveKind.REHEARSAL and _test_up(dep)):
            continue
        if dep.status in VM_FINAL:
            return False, f"Depends on '{name}', which is {dep.status}"
        return False, ""
    return True, ""


def _holds_slot(wave: Wave, vm: WaveVM) -> bool:
    # A rehearsal's test VM that is up waits for the others without holding a slot.
    return vm.status in IN_FLIGHT and not (wave.kind == WaveKind.REHEARSAL and _test_up(vm))


def _start_ready(wave: Wave, vms: list[WaveVM], now) -> None:
    queued = [vm for vm in vms if vm.status == WaveVMStatus.QUEUED]
    if now > wave.deadline:
        for vm in queued:
            _settle(vm, WaveVMStatus.SKIPPED, "The wave's deadline passed before it could start")
        return
    by_name = {vm.vm_name: vm for vm in vms}
    slots = wave.max_concurrent - sum(1 for vm in vms if _holds_slot(wave, vm))
    for vm in queued:
        ready, never = _dependencies(wave, vm, by_name)
        if never:
            _settle(vm, WaveVMStatus.SKIPPED, never)
        elif ready and slots > 0:
            vm.status, vm.started_at, vm.start_claimed_at = WaveVMStatus.STARTING, vm.started_at or now, None
            vm.save(update_fields=["status", "started_at", "start_claimed_at"])
            jobs.queue(jobs.START_VM_TASK, vm.pk)
            slots -= 1


def _restart_lost_starts(wave: Wave, vms: list[WaveVM], now) -> None:
    """A start whose message or worker was lost: send it again once its lease ran out (the claim decides)."""
    lease = start_lease(wave)
    for vm in vms:
        if vm.status == WaveVMStatus.STARTING and (vm.start_claimed_at or vm.started_at) < now - lease:
            jobs.event(wave, "start", f"VM '{vm.vm_name}': its start did not finish within {lease}; sent again",
                       level="warning")
            jobs.queue(jobs.START_VM_TASK, vm.pk)


def _settle_wave(wave: Wave, vms: list[WaveVM], now) -> None:
    if wave.status == WaveStatus.RUNNING and wave.kind == WaveKind.REHEARSAL:
        up = [vm for vm in vms if _test_up(vm)]
        if up and all(vm.status in VM_FINAL or _test_up(vm) for vm in vms):
            _set(wave, WaveStatus.ENDING)
            jobs.event(wave, "ending", f"Ending {len(up)} test failover(s) together")
            for vm in up:
                _end_test(wave, vm)
    if not all(vm.status in VM_FINAL for vm in vms):
        return
    counts = {status: sum(1 for vm in vms if vm.status == status) for status in WaveVMStatus.values}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    if wave.status == WaveStatus.CANCELLED:
        if wave.completed_at is None:
            wave.completed_at, wave.summary = now, summary
            wave.save(update_fields=["completed_at", "summary", "updated_at"])
        return
    completed = counts[WaveVMStatus.COMPLETED]
    status = (WaveStatus.COMPLETED if completed == len(vms) else WaveStatus.FAILED if not completed
              else WaveStatus.PARTIAL)
    _set(wave, status, completed_at=now, summary=summary)
    jobs.event(wave, "finished", f"Wave {status}: {summary}")


def _rollback_job(vm: WaveVM) -> FailoverJob | None:
    return vm.failover_job or vm.test_job


def _busy(job: FailoverJob) -> bool:
    return job.status in FAILOVER_ACTIVE or job.test_running


def _advance_rollback(wave: Wave, vms: list[WaveVM], now) -> None:
    """One VM at a time, last first: wait for the one rolling back, then ask the next one's failover to roll back."""
    for vm in reversed(vms):
        if vm.status == WaveVMStatus.ROLLING_BACK:
            job = _rollback_job(vm)
            if _busy(job):
                return
            if job.needs_cleanup:
                _settle(vm, WaveVMStatus.NOT_REVERSIBLE, f"The rollback of {job.job_id} left resources behind "
                                                         f"(POST /api/v1/failover/{vm.vm_name}/cleanup-failed)")
            else:
                _settle(vm, WaveVMStatus.ROLLED_BACK)
    for vm in reversed(vms):
        if vm.status == WaveVMStatus.STARTING:
            return  # its start task sees the wave rolling back and stands down
        if vm.status == WaveVMStatus.QUEUED:
            _settle(vm, WaveVMStatus.CANCELLED, "The wave was rolled back before it started")
            continue
        job = _rollback_job(vm)
        if job is None or vm.status in (WaveVMStatus.ROLLED_BACK, WaveVMStatus.NOT_REVERSIBLE):
            continue
        if vm.status == WaveVMStatus.ENDING_TEST and _busy(job):
            _settle(vm, WaveVMStatus.ROLLING_BACK, f"Its test failover {job.job_id} is being ended")
            return  # already on its way back: wait for it like any other
        if job.status == FailoverStatus.FAILED and not job.needs_cleanup and not job.source_power_on_owed:
            continue  # the failover already rolled itself back
        if _test_ended(job) and job == vm.test_job and vm.failover_job is None:
            continue  # a rehearsal's test that was ended: nothing of it is left
        try:
            _, message = failover.rollback(job=job, requested_by=jobs.requested_by(vm))
        except ApplicationError as exc:
            _settle(vm, WaveVMStatus.NOT_REVERSIBLE, exc.message)
            jobs.event(wave, "rollback", f"VM '{vm.vm_name}' not reversible: {exc.message}", level="warning")
            continue
        _settle(vm, WaveVMStatus.ROLLING_BACK, message)
        jobs.event(wave, "rollback", f"VM '{vm.vm_name}': {message}")
        return
    summary = ", ".join(f"{sum(1 for vm in vms if vm.status == s)} {s}" for s in WaveVMStatus.values
                        if any(vm.status == s for vm in vms))
    _set(wave, WaveStatus.ROLLED_BACK, completed_at=now, summary=summary)
    jobs.event(wave, "rolled_back", f"Wave rolled back: {summary}")


def advance(wave_id: int) -> str | None:
    """One step of the wave (idempotent; beat's sweep calls it every half minute, events call it sooner)."""
    with transaction.atomic():
        wave = Wave.objects.select_for_update().filter(pk=wave_id).first()
        if wave is None:
            return None
        now = timezone.now()
        if wave.status == WaveStatus.SCHEDULED and now >= wave.window_start:
            _set(wave, WaveStatus.RUNNING, started_at=now)
            jobs.event(wave, "window", f"The window opened: starting up to {wave.max_concurrent} VM(s) at a time")
        if wave.status not in (WaveStatus.RUNNING, WaveStatus.ENDING, WaveStatus.CANCELLED, WaveStatus.ROLLING_BACK):
            return wave.status
        vms = list(wave.vms.select_related("test_job", "failover_job", "vm_context").order_by("position"))
        _restart_lost_starts(wave, vms, now)  # in a wave no longer running, the start stands down as cancelled
        if wave.status == WaveStatus.ROLLING_BACK:
            _advance_rollback(wave, vms, now)
            return wave.status
        for vm in vms:
            _follow(wave, vm, now)
        if wave.status == WaveStatus.RUNNING:
            _start_ready(wave, vms, now)
        _settle_wave(wave, vms, now)
        return wave.status


def waves_due():
    """The waves beat's sweep advances: due to open, running, ending, cancelled with VMs still moving, rolling back."""
    now = timezone.now()
    open_rows = Wave.objects.filter(status__in=[WaveStatus.RUNNING, WaveStatus.ENDING, WaveStatus.ROLLING_BACK])
    due = Wave.objects.filter(status=WaveStatus.SCHEDULED, window_start__lte=now)
    moving = Wave.objects.filter(status=WaveStatus.CANCELLED, vms__status__in=IN_FLIGHT)
    return sorted(set(open_rows.values_list("pk", flat=True)) | set(due.values_list("pk", flat=True))
                  | set(moving.values_list("pk", flat=True)))


__all__ = ["advance", "start_vm", "waves_due"]
