from django.db import models


class ReplicationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning volumes and exports"
    READY_FOR_SYNC = "ready_for_sync", "Ready for sync"
    REPLICATING = "replicating", "Replicating"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ReplicationType(models.TextChoices):
    INITIAL = "initial", "Initial (full)"
    INCREMENTAL = "incremental", "Incremental (CBT)"


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


class VolumeStatus(models.TextChoices):
    CREATED = "created", "Created"
    ATTACHED_TO_OMA = "attached_to_oma", "Attached to the control plane"
    DETACHED = "detached", "Detached"
    ATTACHED_TO_VM = "attached_to_vm", "Attached to a failover VM"
    DELETED = "deleted", "Deleted"


class ExportStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
