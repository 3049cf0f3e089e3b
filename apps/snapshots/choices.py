"""The states of snapshot runs, on-demand pipelines and restore jobs, declared once with their transitions."""
from apps.core.choices import vocabulary

TargetType = vocabulary("TargetType", """
    volume
    vm: VM (all its volumes)
    tenant: Tenant (a project's or account's volumes)
""")

RunTrigger = vocabulary("RunTrigger", """
    scheduled: Scheduled (beat)
    on_demand: On demand
""")

RunStatus = vocabulary("RunStatus", """
    running completed
    partial: Completed with failures
    failed
""")

RUN_FINISHED = (RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED)

VolumeOutcome = vocabulary("VolumeOutcome", """
    pending
    created: Snapshot created
    failed
    quota_blocked: Blocked by a resource limit
    skipped: Skipped (volume not ready)
    not_run: Not run (the run stopped first)
""")

SnapshotState = vocabulary("SnapshotState", """
    creating available
    deleted: Deleted by retention
    failed
""")

PipelineStatus = vocabulary("PipelineStatus", "pending running completed failed")

PIPELINE_ACTIVE = (PipelineStatus.PENDING, PipelineStatus.RUNNING)

# The seed's pipeline steps, in order: (key, label).
PIPELINE_STEPS = (
    ("policy_assign", "Policy Assignment"),
    ("rvtools_pre", "Inventory Sync (pre-snapshot)"),
    ("auto_snapshots", "Auto Snapshots"),
    ("rvtools_post", "Inventory Sync (post-snapshot)"),
)

RestoreStatus = vocabulary("RestoreStatus", "PLANNED PENDING RUNNING COMPLETED FAILED CANCELED")

RESTORE_TRANSITIONS = {
    RestoreStatus.PLANNED: {RestoreStatus.PENDING, RestoreStatus.CANCELED},
    RestoreStatus.PENDING: {RestoreStatus.RUNNING, RestoreStatus.CANCELED, RestoreStatus.FAILED},
    RestoreStatus.RUNNING: {RestoreStatus.COMPLETED, RestoreStatus.FAILED, RestoreStatus.CANCELED},
}
RESTORE_ACTIVE = (RestoreStatus.PENDING, RestoreStatus.RUNNING)

RestoreMode = vocabulary("RestoreMode", """
    NEW: New VM beside the original
    REPLACE: Replace the original VM's disks (destructive)
""")

IpStrategy = vocabulary("IpStrategy", """
    NEW_IPS: New addresses
    TRY_SAME_IPS: The same addresses where free, else new ones
    SAME_IPS_OR_FAIL: The same addresses, or refuse
    MANUAL_IP: The addresses given per network
""")

StepStatus = vocabulary("StepStatus", "pending running completed failed skipped")
