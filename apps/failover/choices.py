"""Failover states: declared once here, with their groups and the allowed transitions (seed 003 "Status Values")."""
from apps.core.choices import vocabulary

FailoverType = vocabulary("FailoverType", """
    test: Test failover (reversible)
    live: Live failover (final)
""")

FailoverStatus = vocabulary("FailoverStatus", """
    pending: Queued (live: also powering off the source and waiting for the final sync)
    validating: Running pre-failover validation
    snapshotting: Detaching from the control plane and snapshotting the replica volumes
    creating_vm: Creating the CloudStack VM
    switching_volume: Attaching the replica volumes to the VM
    powering_on: Starting the CloudStack VM
    completed failed
    cleanup: Cleaning up test resources
    reverting: Reverting (snapshots, volumes back to the control plane)
""")

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


# Where a replica volume is, as far as this failover job moved it.
VolumePlace = vocabulary("VolumePlace", """
    ON_OMA=attached_to_oma: Attached to the control plane
    detached
    ON_VM=attached_to_vm: Attached to the failover VM
""")

SnapshotState = vocabulary("SnapshotState", """
    NONE="": No snapshot
    created: Taken
    reverted: Volume reverted to it
    deleted
    failed: Creation failed (left in state Error: delete only)
""")

CleanupStatus = vocabulary("CleanupStatus", """
    NONE="": Nothing to clean up
    in_progress: In progress
    completed
    failed: Incomplete: resources left behind (run cleanup-failed)
""")

CheckType = vocabulary("CheckType", "critical warning")

CheckStatus = vocabulary("CheckStatus", """
    pass fail
    skip: Skipped
""")
