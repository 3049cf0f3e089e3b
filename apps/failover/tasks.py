"""Celery entry points: thin, they call the runner or a service.

Not acks_late: a failover step must not run twice because a broker redelivered its message while the first worker
still works on it; a worker that dies is noticed by the housekeeping beat (stale heartbeat) and rolled back.
"""
from __future__ import annotations

from celery import shared_task

from . import runner, services


@shared_task(name="apps.failover.tasks.run_failover", acks_late=False)
def run_failover(job_id: str) -> None:
    runner.run(job_id)


@shared_task(name="apps.failover.tasks.resume_after_final_sync", acks_late=False)
def resume_after_final_sync(job_id: str) -> None:
    runner.check_final_sync(job_id)


@shared_task(name="apps.failover.tasks.end_test_failover", acks_late=False)
def end_test_failover(job_id: str) -> None:
    runner.end_test(job_id)


@shared_task(name="apps.failover.tasks.cleanup_failed_failover", acks_late=False)
def cleanup_failed_failover(job_id: str) -> None:
    runner.retry_cleanup(job_id)


@shared_task(name="apps.failover.tasks.power_on_source", acks_late=False)
def power_on_source(job_id: str) -> None:
    runner.retry_power_on(job_id)


@shared_task(name="apps.failover.tasks.failover_housekeeping")
def failover_housekeeping() -> dict:
    """Every minute (beat): automatic test cleanup, final-sync checks, stale jobs."""
    return services.housekeeping()
