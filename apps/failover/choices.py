"""Failover states: declared once here, with their groups and the allowed transitions (seed 003 "Status Values")."""
from django.db import models


class FailoverType(models.TextChoices):
    TEST = "test", "Test failover (reversible)"
    LIVE = "live", "Live failover (final)"


class FailoverStatus(models.TextChoices):
    PENDING = "pending", "Queued (live: also powering off the source and waiting for the final sync)"
    VALIDATING = "validating", "Running pre-failover validation"
    SNAPSHOTTING = "snapshotting", "Detaching from the control plane and snapshotting the replica volumes"
    CREATING_VM = "creating_vm", "Creating the CloudStack VM"
    SWITCHING_VOLUME = "switching_volume", "Attaching the replica volumes to the VM"
    POWERING_ON = "powering_on", "Starting the CloudStack VM"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CLEANUP = "cleanup", "Cleaning up test resources"
    REVERTING = "reverting", "Reverting (snapshots, volumes back to the control plane)"


# The steps a run walks through, in order; their share of the progress bar.
RUN_STEPS = (FailoverStatus.PENDING, FailoverStatus.VALIDATING, FailoverStatus.SNAPSHOTTING,
             FailoverStatus.CREATING_VM, FailoverStatus.SWITCHING_VOLUME, FailoverStatus.POWERING_ON)
PROGRESS = {FailoverStatus.PENDING: 0.0, FailoverStatus.VALIDATING: 10.0, FailoverStatus.SNAPSHOTTING: 20.0,
            FailoverStatus.CREATING_VM: 45.0, FailoverStatus.SWITCHING_VOLUME: 60.0,
            FailoverStatus.POWERING_ON: 85.0, FailoverStatus.COMPLETED: 100.0}

# Work in progress: a worker owns the job (the core debug endpoint counts exactly these).
ACTIVE = {FailoverStatus.PENDING, FailoverStatus.VALIDATING, FailoverStatus.SNAPSHOTTING, FailoverStatus.CREATING_VM,
          FailoverStatus.SWITCHING_VOLUME, FailoverStatus.POWERING_ON, FailoverStatus.CLEANUP,
          FailoverStatus.REVERTING}
TERMINAL = {FailoverStatus.COMPLETED, FailoverStatus.FAILED}
# A running job can be asked to stop and roll back between two steps.
CANCELLABLE = set(RUN_STEPS)

TRANSITIONS = {
    FailoverStatus.PENDING: {FailoverStatus.VALIDATING, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    FailoverStatus.VALIDATING: {FailoverStatus.SNAPSHOTTING, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    FailoverStatus.SNAPSHOTTING: {FailoverStatus.CREATING_VM, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    FailoverStatus.CREATING_VM: {FailoverStatus.SWITCHING_VOLUME, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    FailoverStatus.SWITCHING_VOLUME: {FailoverStatus.POWERING_ON, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    FailoverStatus.POWERING_ON: {FailoverStatus.COMPLETED, FailoverStatus.FAILED, FailoverStatus.REVERTING},
    # A completed test failover (its VM running) is ended by cleanup; a completed live failover is final.
    FailoverStatus.COMPLETED: {FailoverStatus.CLEANUP},
    FailoverStatus.CLEANUP: {FailoverStatus.REVERTING, FailoverStatus.FAILED},
    # Back to completed when a test ended cleanly; failed when a failed run was rolled back.
    FailoverStatus.REVERTING: {FailoverStatus.COMPLETED, FailoverStatus.FAILED},
    # A failed run whose rollback left something behind is cleaned up again (cleanup-failed).
    FailoverStatus.FAILED: {FailoverStatus.REVERTING},
}


class VolumePlace(models.TextChoices):
    """Where a replica volume is, as far as this failover job moved it."""

    ON_OMA = "attached_to_oma", "Attached to the control plane"
    DETACHED = "detached", "Detached"
    ON_VM = "attached_to_vm", "Attached to the failover VM"


class SnapshotState(models.TextChoices):
    NONE = "", "No snapshot"
    CREATED = "created", "Taken"
    REVERTED = "reverted", "Volume reverted to it"
    DELETED = "deleted", "Deleted"
    FAILED = "failed", "Creation failed (left in state Error: delete only)"


class CleanupStatus(models.TextChoices):
    NONE = "", "Nothing to clean up"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Incomplete: resources left behind (run cleanup-failed)"


class CheckType(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"


class CheckStatus(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    SKIP = "skip", "Skipped"
