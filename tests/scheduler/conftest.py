"""Scheduler fixtures: real VMs with disks, a CloudStack config, schedules and groups made through the services,
and a recorder of what really goes to the Celery broker (no worker runs; tests run the scheduler's own messages)."""
from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.db import connection

from apps.replication import services as replication
from apps.replication.choices import ReplicationStatus
from apps.scheduler import services
from apps.scheduler.tasks import advance_execution, run_schedule, sweep_executions
from config.celery import app as celery_app
from tests.factories import OsseaConfigFactory, vm_with_disks

SCHEDULER_TASKS = {task.name: task for task in (run_schedule, advance_execution, sweep_executions)}


@pytest.fixture(autouse=True)
def _no_eager_celery(settings):
    # Replication jobs must stay queued (no worker runs), so nothing executes on publish.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert celery_app.conf.task_always_eager is False


@pytest.fixture
def ossea_config(db):
    return OsseaConfigFactory()


@pytest.fixture
def make_vms(db, ossea_config):
    def make(count: int, prefix: str = "vm"):
        return [vm_with_disks(1, vm_name=f"{prefix}-{i:03d}") for i in range(count)]

    return make


@pytest.fixture
def make_schedule(db):
    def make(**fields):
        data = {"name": f"nightly-{make.counter}", "interval_seconds": 3600, "max_concurrent_jobs": 3, **fields}
        make.counter += 1
        return services.schedule_create(data=data, created_by="tester")

    make.counter = 0
    return make


@pytest.fixture
def make_group(db):
    def make(schedule=None, vms=(), name=None):
        make.counter += 1
        group = services.group_create(data={"name": name or f"group-{make.counter}",
                                            "schedule_id": schedule.pk if schedule else None})
        if vms:
            services.group_assign_vms(group=group, vm_contexts=list(vms), assigned_by="tester")
        return group

    make.counter = 0
    return make


class Published(list):
    """Messages really published to the broker during a test: (task name, args, kwargs)."""

    def names(self) -> list[str]:
        return [name for name, _, _ in self]

    def run_scheduler_tasks(self) -> int:
        """Play the worker for the scheduler queue: run each recorded scheduler message once, in order."""
        ran = 0
        while True:
            pending = [(i, m) for i, m in enumerate(self) if m[0] in SCHEDULER_TASKS and i not in self.done]
            if not pending:
                return ran
            for index, (name, args, kwargs) in pending:
                self.done.add(index)
                SCHEDULER_TASKS[name].apply(args=args, kwargs=kwargs, throw=True)
                ran += 1


@pytest.fixture
def published():
    record = Published()
    record.done = set()

    def on_publish(sender=None, body=None, **kwargs):
        args, kw = (body[0], body[1]) if isinstance(body, (list, tuple)) else (body.get("args"), body.get("kwargs"))
        record.append((sender, list(args or []), dict(kw or {})))

    before_task_publish.connect(on_publish, weak=False)
    yield record
    before_task_publish.disconnect(on_publish)


def run_job(job):
    """Move a queued job the way the runner and agent would, up to replicating."""
    for status in (ReplicationStatus.PROVISIONING, ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.REPLICATING):
        replication.replication_set_status(job, status)
    return job


def finish_job(job, status=ReplicationStatus.COMPLETED, *, bytes_transferred=0, error=""):
    from apps.replication.models import ReplicationJob

    if job.status == ReplicationStatus.PENDING and status == ReplicationStatus.COMPLETED:
        run_job(job)
    if bytes_transferred:
        ReplicationJob.objects.filter(pk=job.pk).update(bytes_transferred=bytes_transferred)
    return replication.replication_finish(job=job, status=status, error=error)


def is_sqlite() -> bool:
    return connection.vendor == "sqlite"
