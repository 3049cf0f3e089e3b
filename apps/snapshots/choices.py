"""The states of snapshot runs, on-demand pipelines and restore jobs, declared once with their transitions."""
from django.db import models


class TargetType(models.TextChoices):
    VOLUME = "volume", "Volume"
    VM = "vm", "VM (all its volumes)"
    TENANT = "tenant", "Tenant (a project's or account's volumes)"


class RunTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled (beat)"
    ON_DEMAND = "on_demand", "On demand"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Completed with failures"
    FAILED = "failed", "Failed"


RUN_FINISHED = (RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED)


class VolumeOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    CREATED = "created", "Snapshot created"
    FAILED = "failed", "Failed"
    QUOTA_BLOCKED = "quota_blocked", "Blocked by a resource limit"
    SKIPPED = "skipped", "Skipped (volume not ready)"
    NOT_RUN = "not_run", "Not run (the run stopped first)"


class SnapshotState(models.TextChoices):
    CREATING = "creating", "Creating"
    AVAILABLE = "available", "Available"
    DELETED = "deleted", "Deleted by retention"
    FAILED = "failed", "Failed"


class PipelineStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


PIPELINE_ACTIVE = (PipelineStatus.PENDING, PipelineStatus.RUNNING)

# The seed's pipeline steps, in order: (key, label).
PIPELINE_STEPS = (
    ("policy_assign", "Policy Assignment"),
    ("rvtools_pre", "Inventory Sync (pre-snapshot)"),
    ("auto_snapshots", "Auto Snapshots"),
    ("rvtools_post", "Inventory Sync (post-snapshot)"),
)


class RestoreStatus(models.TextChoices):
    PLANNED = "PLANNED", "Planned"
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"
    CANCELED = "CANCELED", "Canceled"


RESTORE_TRANSITIONS = {
    RestoreStatus.PLANNED: {RestoreStatus.PENDING, RestoreStatus.CANCELED},
    RestoreStatus.PENDING: {RestoreStatus.RUNNING, RestoreStatus.CANCELED, RestoreStatus.FAILED},
    RestoreStatus.RUNNING: {RestoreStatus.COMPLETED, RestoreStatus.FAILED, RestoreStatus.CANCELED},
}
RESTORE_ACTIVE = (RestoreStatus.PENDING, RestoreStatus.RUNNING)


class RestoreMode(models.TextChoices):
    NEW = "NEW", "New VM beside the original"
    REPLACE = "REPLACE", "Replace the original VM's disks (destructive)"


class IpStrategy(models.TextChoices):
    NEW_IPS = "NEW_IPS", "New addresses"
    TRY_SAME_IPS = "TRY_SAME_IPS", "The same addresses where free, else new ones"
    SAME_IPS_OR_FAIL = "SAME_IPS_OR_FAIL", "The same addresses, or refuse"
    MANUAL_IP = "MANUAL_IP", "The addresses given per network"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
