"""Wave states: declared once here, with their groups and the allowed transitions."""
from django.db import models


class WaveKind(models.TextChoices):
    CUTOVER = "cutover", "Cutover (live failovers)"
    REHEARSAL = "rehearsal", "Rehearsal (test failovers, ended together)"


class WaveStatus(models.TextChoices):
    DRAFT = "draft", "Draft: no window yet (an operator sets it)"
    SCHEDULED = "scheduled", "Waiting for its window"
    RUNNING = "running", "Running"
    ENDING = "ending", "Rehearsal: ending the test failovers together"
    COMPLETED = "completed", "Every VM completed"
    PARTIAL = "completed_with_errors", "Done; some VMs failed or were skipped"
    FAILED = "failed", "Done; no VM completed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back (what was reversible)"


class WaveVMStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for the window, a slot or its dependencies"
    STARTING = "starting", "Running its pre-hooks and starting the failover"
    TESTING = "testing", "Test failover first"
    ENDING_TEST = "ending_test", "Ending the test failover"
    RUNNING = "running", "Failover running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (not ready, a pre-hook failed, a dependency failed, the deadline passed)"
    CANCELLED = "cancelled", "Cancelled before it started"
    ROLLING_BACK = "rolling_back", "Its failover is being rolled back"
    ROLLED_BACK = "rolled_back", "Rolled back"
    NOT_REVERSIBLE = "not_reversible", "Could not be rolled back"


class HookStage(models.TextChoices):
    BEFORE_FINAL_SYNC = "before_final_sync", "Before the cutover starts (before power-off and final sync)"
    AFTER_POWER_OFF = "after_power_off", "After the source VM was powered off"
    AFTER_BOOT = "after_boot", "After the failover VM booted"


class HookKind(models.TextChoices):
    WEBHOOK = "webhook", "HTTP POST with an HMAC-SHA256-signed body"
    COMMAND = "command", "Command on the control plane, the VM's facts as JSON on stdin"


# A pre-hook that fails stops its VM before anything started; a post-hook's failure is recorded only.
PRE_STAGES = {HookStage.BEFORE_FINAL_SYNC}

# A draft holds its VMs like a scheduled wave: it becomes one when an operator sets its window.
OPEN = {WaveStatus.DRAFT, WaveStatus.SCHEDULED, WaveStatus.RUNNING, WaveStatus.ENDING}
DONE = {WaveStatus.COMPLETED, WaveStatus.PARTIAL, WaveStatus.FAILED}
# A VM that holds a slot of the wave's limit.
IN_FLIGHT = {WaveVMStatus.STARTING, WaveVMStatus.TESTING, WaveVMStatus.ENDING_TEST, WaveVMStatus.RUNNING}
VM_FINAL = {WaveVMStatus.COMPLETED, WaveVMStatus.FAILED, WaveVMStatus.SKIPPED, WaveVMStatus.CANCELLED,
            WaveVMStatus.ROLLED_BACK, WaveVMStatus.NOT_REVERSIBLE}

TRANSITIONS = {
    WaveStatus.DRAFT: {WaveStatus.SCHEDULED, WaveStatus.CANCELLED},
    WaveStatus.SCHEDULED: {WaveStatus.RUNNING, WaveStatus.CANCELLED},
    WaveStatus.RUNNING: {WaveStatus.ENDING, *DONE, WaveStatus.CANCELLED, WaveStatus.ROLLING_BACK},
    WaveStatus.ENDING: {*DONE, WaveStatus.ROLLING_BACK},
    WaveStatus.COMPLETED: {WaveStatus.ROLLING_BACK},
    WaveStatus.PARTIAL: {WaveStatus.ROLLING_BACK},
    WaveStatus.FAILED: {WaveStatus.ROLLING_BACK},
    WaveStatus.CANCELLED: {WaveStatus.ROLLING_BACK},
    WaveStatus.ROLLING_BACK: {WaveStatus.ROLLED_BACK},
    WaveStatus.ROLLED_BACK: set(),
}
