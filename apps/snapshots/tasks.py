"""Celery entry points: thin, they load the row and call the runner."""
from __future__ import annotations

from celery import shared_task

from . import pipeline, restore, runner
from .choices import PipelineStatus, RestoreStatus
from .models import OnDemandRun, RestoreJob


@shared_task(name="apps.snapshots.tasks.run_due_policies", ignore_result=True)
def run_due_policies() -> int | None:
    """Every minute (beat): fail (and roll back) restores whose worker died, then snapshot the volumes of the policies
    whose interval has passed and prune by retention."""
    restore.reap_stale()
    run = runner.run_due_policies()
    return run.pk if run else None


@shared_task(name="apps.snapshots.tasks.run_pipeline", ignore_result=True)
def run_pipeline(job_id: str) -> None:
    job = OnDemandRun.objects.filter(job_id=job_id, status=PipelineStatus.PENDING).first()
    if job is not None:
        pipeline.run(job)


@shared_task(name="apps.snapshots.tasks.run_restore", ignore_result=True)
def run_restore(job_id: str) -> None:
    job = RestoreJob.objects.filter(job_id=job_id, status=RestoreStatus.PENDING).first()
    if job is not None:
        restore.execute(job)
