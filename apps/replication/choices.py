"""Replication's vocabularies (declared as words, see ``apps.core.choices.vocabulary``), groups and transitions."""
from apps.core.choices import vocabulary

ReplicationStatus = vocabulary("ReplicationStatus", """
    pending
    provisioning: Provisioning volumes and exports
    ready_for_sync: Ready for sync
    replicating completed failed cancelled
""")

ReplicationType = vocabulary("ReplicationType", """
    initial: Initial (full)
    incremental: Incremental (CBT)
""")

ACTIVE = {ReplicationStatus.PENDING, ReplicationStatus.PROVISIONING, ReplicationStatus.READY_FOR_SYNC,
          ReplicationStatus.REPLICATING}
TERMINAL = {ReplicationStatus.COMPLETED, ReplicationStatus.FAILED, ReplicationStatus.CANCELLED}
CANCELLABLE = ACTIVE

TRANSITIONS = {
    ReplicationStatus.PENDING: {ReplicationStatus.PROVISIONING, ReplicationStatus.FAILED, ReplicationStatus.CANCELLED},
    ReplicationStatus.PROVISIONING: {ReplicationStatus.READY_FOR_SYNC, ReplicationStatus.FAILED,
                                     ReplicationStatus.CANCELLED},
    ReplicationStatus.READY_FOR_SYNC: {ReplicationStatus.REPLICATING, ReplicationStatus.COMPLETED, ReplicationStatus.FAILED,
                                       ReplicationStatus.CANCELLED},
    ReplicationStatus.REPLICATING: {ReplicationStatus.COMPLETED, ReplicationStatus.FAILED, ReplicationStatus.CANCELLED},
    # A failed job may be retried: it resumes from its checkpoints.
    ReplicationStatus.FAILED: {ReplicationStatus.PENDING},
    ReplicationStatus.COMPLETED: set(),
    ReplicationStatus.CANCELLED: set(),
}

VolumeStatus = vocabulary("VolumeStatus", """
    created
    attached_to_oma: Attached to the control plane
    detached
    attached_to_vm: Attached to a failover VM
    deleted
""")

ExportStatus = vocabulary("ExportStatus", "active inactive")
