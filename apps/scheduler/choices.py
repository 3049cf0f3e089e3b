"""Scheduler states: declared once here, with their groups and allowed transitions."""
from apps.core.choices import vocabulary

ScheduleType = vocabulary("ScheduleType", """
    cron: Cron expression
    interval: Fixed interval
""")

# What a run does with a VM whose previous sync is still going when its turn comes.
RunningVMPolicy = vocabulary("RunningVMPolicy", """
    skip: Skip it and record why
    wait: Keep it queued in the run until that sync ends
""")

ExecutionTrigger = vocabulary("ExecutionTrigger", """
    scheduled: Celery beat
    manual: Run now (operator)
""")

ExecutionStatus = vocabulary("ExecutionStatus", """
    deferred: Deferred until the sync window opens
    running completed
    PARTIAL=completed_with_failures: Completed with failures
    failed cancelled
""")

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


# One VM inside one run.
ExecutionVMStatus = vocabulary("ExecutionVMStatus", """
    queued: Queued (waits for a free slot)
    running: Syncing (replication job active)
    succeeded failed skipped cancelled
""")

OPEN_VM = {ExecutionVMStatus.QUEUED, ExecutionVMStatus.RUNNING}
CLOSED_VM = {ExecutionVMStatus.SUCCEEDED, ExecutionVMStatus.FAILED, ExecutionVMStatus.SKIPPED,
             ExecutionVMStatus.CANCELLED}
