"""Scheduler states: declared once here, with their groups and allowed transitions."""
from django.db import models


class ScheduleType(models.TextChoices):
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Fixed interval"


class RunningVMPolicy(models.TextChoices):
    """What a run does with a VM whose previous sync is still going when its turn comes."""

    SKIP = "skip", "Skip it and record why"
    WAIT = "wait", "Keep it queued in the run until that sync ends"


class ExecutionTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Celery beat"
    MANUAL = "manual", "Run now (operator)"


class ExecutionStatus(models.TextChoices):
    DEFERRED = "deferred", "Deferred until the sync window opens"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    PARTIAL = "completed_with_failures", "Completed with failures"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_EXECUTION = {ExecutionStatus.DEFERRED, ExecutionStatus.RUNNING}
TERMINAL_EXECUTION = {ExecutionStatus.COMPLETED, ExecutionStatus.PARTIAL, ExecutionStatus.FAILED,
                      ExecutionStatus.CANCELLED}
CANCELLABLE_EXECUTION = ACTIVE_EXECUTION

EXECUTION_TRANSITIONS = {
    ExecutionStatus.DEFERRED: {ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED},
    ExecutionStatus.RUNNING: {ExecutionStatus.COMPLETED, ExecutionStatus.PARTIAL, ExecutionStatus.FAILED,
                              ExecutionStatus.CANCELLED},
    ExecutionStatus.COMPLETED: set(),
    ExecutionStatus.PARTIAL: set(),
    ExecutionStatus.FAILED: set(),
    ExecutionStatus.CANCELLED: set(),
}


class ExecutionVMStatus(models.TextChoices):
    """One VM inside one run."""

    QUEUED = "queued", "Queued (waits for a free slot)"
    RUNNING = "running", "Syncing (replication job active)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


OPEN_VM = {ExecutionVMStatus.QUEUED, ExecutionVMStatus.RUNNING}
CLOSED_VM = {ExecutionVMStatus.SUCCEEDED, ExecutionVMStatus.FAILED, ExecutionVMStatus.SKIPPED,
             ExecutionVMStatus.CANCELLED}
