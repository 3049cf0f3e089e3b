"""The beat's housekeeping of schedule runs: start deferred runs whose window opened, advance open runs, restore
missing beat entries, and prune old finished runs."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..choices import (
    TERMINAL_EXECUTION,
    ExecutionStatus,
    ExecutionVMStatus,
)
from ..models import ScheduleExecution
from .advance import execution_advance
from .executions import execution_resume_deferred
from .schedules import restore_beat_entries

logger = logging.getLogger(__name__)

S = ExecutionVMStatus


def execution_sweep(*, now: datetime | None = None) -> dict:
    """Beat's safety net, once a minute: start deferred runs whose window opened, and advance every run with
    open VMs (a lost finish message, a worker restart, a retry whose delay has passed)."""
    now = now or timezone.now()
    resumed = advanced = failed = 0
    restored = restore_beat_entries()
    for pk in list(ScheduleExecution.objects.filter(status=ExecutionStatus.DEFERRED).values_list("pk", flat=True)):
        try:
            execution = execution_resume_deferred(execution_id=pk, now=now)
            resumed += bool(execution and execution.status != ExecutionStatus.DEFERRED)
        except Exception:  # one broken run must not stop the sweep of the others
            failed += 1
            logger.exception("sweep could not resume execution pk=%s", pk)
    open_runs = (ScheduleExecution.objects.filter(Q(status=ExecutionStatus.RUNNING)
                                                  | Q(status=ExecutionStatus.CANCELLED, vms__status=S.RUNNING))
                 .values_list("pk", flat=True).distinct())
    for pk in list(open_runs):
        try:
            execution_advance(execution_id=pk, now=now)
            advanced += 1
        except Exception:  # same as above
            failed += 1
            logger.exception("sweep could not advance execution pk=%s", pk)
    pruned = execution_prune(now=now)
    if resumed or failed or restored or pruned:
        logger.info("scheduler sweep resumed=%s advanced=%s failed=%s restored_beat_entries=%s pruned=%s", resumed,
                    advanced, failed, restored, pruned)
    return {"resumed": resumed, "advanced": advanced, "failed": failed, "restored_beat_entries": restored,
            "pruned": pruned}


# Rows deleted per sweep: a first sweep over years of history must not hold long locks.
PRUNE_BATCH = 500


def execution_prune(*, now: datetime | None = None, retention_days: int | None = None, keep: int | None = None,
                    batch: int = PRUNE_BATCH) -> int:
    """Delete finished runs (and their VM rows) older than the retention, keeping each schedule's newest ``keep``.

    Runs are grouped by ``schedule_name``, which outlives a deleted schedule, so the history an operator reads
    for a schedule never empties. Replication jobs the runs started are not touched. Returns how many runs went.
    """
    now = now or timezone.now()
    days = settings.MP_SCHEDULER_EXECUTION_RETENTION_DAYS if retention_days is None else retention_days
    keep = settings.MP_SCHEDULER_KEEP_EXECUTIONS if keep is None else keep
    if days <= 0:
        return 0
    old = ScheduleExecution.objects.filter(status__in=TERMINAL_EXECUTION, completed_at__lt=now - timedelta(days=days))
    kept: list[int] = []
    if keep > 0:
        for name in old.values_list("schedule_name", flat=True).distinct():
            kept += ScheduleExecution.objects.filter(schedule_name=name).order_by("-created_at", "-id").values_list(
                "pk", flat=True)[:keep]
    doomed = list(old.exclude(pk__in=kept).order_by("completed_at", "id").values_list("pk", flat=True)[:batch])
    if not doomed:
        return 0
    with transaction.atomic():
        ScheduleExecution.objects.filter(pk__in=doomed).delete()
    logger.info("pruned %s schedule run(s) finished more than %s day(s) ago", len(doomed), days)
    return len(doomed)
