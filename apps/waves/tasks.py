"""Celery entry points of the waves: thin, they call the engine and the hooks (on the scheduler queue)."""
from __future__ import annotations

from celery import shared_task

from . import engine, hooks


@shared_task(name="apps.waves.tasks.advance_wave", ignore_result=True)
def advance_wave(wave_id: int) -> str | None:
    return engine.advance(wave_id)


@shared_task(name="apps.waves.tasks.start_wave_vm", ignore_result=True, acks_late=False)
def start_wave_vm(wave_vm_id: int) -> None:
    # Not acks_late: a redelivered start must not run the pre-hooks and the failover start twice.
    engine.start_vm(wave_vm_id)


@shared_task(name="apps.waves.tasks.run_post_hooks", ignore_result=True, acks_late=False)
def run_post_hooks(wave_vm_id: int, stage: str, job_id: str) -> None:
    hooks.post_hooks(wave_vm_id, stage, job_id)


@shared_task(name="apps.waves.tasks.sweep_waves", ignore_result=True)
def sweep_waves() -> int:
    """Beat, every 30 s: open the waves whose window came, follow and feed the running ones."""
    due = engine.waves_due()
    for wave_id in due:
        advance_wave.apply_async(args=[wave_id], queue="scheduler")
    return len(due)
