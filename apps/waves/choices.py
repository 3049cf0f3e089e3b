"""Wave states: declared once here, with their groups and the allowed transitions."""
from apps.core.choices import vocabulary

WaveKind = vocabulary("WaveKind", """
    cutover: Cutover (live failovers)
    rehearsal: Rehearsal (test failovers, ended together)
""")

WaveStatus = vocabulary("WaveStatus", """
    draft: Draft: no window yet (an operator sets it)
    scheduled: Waiting for its window
    running
    ending: Rehearsal: ending the test failovers together
    completed: Every VM completed
    PARTIAL=completed_with_errors: Done; some VMs failed or were skipped
    failed: Done; no VM completed
    cancelled
    rolling_back: Rolling back
    rolled_back: Rolled back (what was reversible)
""")

WaveVMStatus = vocabulary("WaveVMStatus", """
    queued: Waiting for the window, a slot or its dependencies
    starting: Running its pre-hooks and starting the failover
    testing: Test failover first
    ending_test: Ending the test failover
    running: Failover running
    completed failed
    skipped: Skipped (not ready, a pre-hook failed, a dependency failed, the deadline passed)
    cancelled: Cancelled before it started
    rolling_back: Its failover is being rolled back
    rolled_back: Rolled back
    not_reversible: Could not be rolled back
""")

HookStage = vocabulary("HookStage", """
    before_final_sync: Before the cutover starts (before power-off and final sync)
    after_power_off: After the source VM was powered off
    after_boot: After the failover VM booted
""")

HookKind = vocabulary("HookKind", """
    webhook: HTTP POST with an HMAC-SHA256-signed body
    command: Command on the control plane, the VM's facts as JSON on stdin
""")

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
