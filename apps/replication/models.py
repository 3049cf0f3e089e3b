"""Replication jobs, the CloudStack volumes that hold replicas, their NBD exports and the CBT change ids."""
from __future__ import annotations

from django.db import models

from apps.core.models import Named, NamedStatus, TimeStampedModel, VMJob
from apps.core.utils import whole_gib

from .choices import ACTIVE, ExportStatus, ReplicationStatus, ReplicationType, VolumeStatus


class ReplicationJob(VMJob):
    job_id = models.CharField(max_length=64, unique=True)
    vm_context = models.ForeignKey("inventory.VMContext", on_delete=models.PROTECT, related_name="replication_jobs")
    ossea_config = models.ForeignKey("platform_settings.OsseaConfig", null=True, on_delete=models.PROTECT,
                                     related_name="replication_jobs")
    replication_type = models.CharField(max_length=16, choices=ReplicationType.choices)
    status = models.CharField(max_length=20, choices=ReplicationStatus.choices, default=ReplicationStatus.PENDING,
                              db_index=True)
    source_vm = models.JSONField(default=dict, help_text="The source VM as the request described it.")
    progress_percent = models.FloatField(default=0.0)
    current_operation = models.CharField(max_length=255, blank=True)
    bytes_total = models.BigIntegerField(default=0)
    bytes_transferred = models.BigIntegerField(default=0)
    throughput_mbps = models.FloatField(default=0.0)
    eta_seconds = models.IntegerField(null=True, blank=True)
    disk_progress = models.JSONField(default=dict, blank=True)
    full_sync_reason = models.CharField(max_length=255, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    bandwidth_limit = models.BigIntegerField(null=True, blank=True, help_text="Bytes/s per disk copy; empty: agent default")
    # The agent the job was handed to; its exports sit in that agent's block of NBD ports. Empty: an agent reached
    # without a tunnel (MP_AGENT_API_URL), or not chosen yet.
    appliance_id = models.CharField(max_length=128, blank=True)
    schedule_execution_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The provisioning runner's lease: a worker claims the job by writing a token and an expiry, and renews it while
    # it works. A redelivered or re-enqueued task finding a live lease leaves the job alone; one finding it expired
    # (its worker died) takes the job over and continues from what the rows record.
    runner_token = models.CharField(max_length=64, blank=True, editable=False)
    runner_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(VMJob.Meta):
        db_table = "replication_jobs"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    occupies_vm = is_active  # an active sync holds the VM (VMJob.save)


class ReplicaVolume(NamedStatus, TimeStampedModel, name_field="volume_name"):
    """The CloudStack volume that holds one source disk's replica; reused by every later sync."""

    vm_context = models.ForeignKey("inventory.VMContext", on_delete=models.CASCADE, related_name="replica_volumes")
    disk_id = models.CharField(max_length=64)
    disk_unit_number = models.IntegerField()
    volume_id = models.CharField(max_length=64, unique=True)
    volume_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    device_path = models.CharField(max_length=512, blank=True)
    device_id = models.IntegerField(null=True, blank=True)
    attached_vm_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=VolumeStatus.choices, default=VolumeStatus.CREATED)
    created_by_job = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "replica_volumes"
        ordering = ["vm_context", "disk_unit_number"]
        constraints = [models.UniqueConstraint(fields=["vm_context", "disk_unit_number"], name="uniq_replica_vm_unit")]

    @property
    def size_gb(self) -> int:
        return whole_gib(self.size_bytes)


class VMExportMapping(Named, TimeStampedModel, name_field="export_name"):
    """Seed 001's `vm_export_mappings`: one NBD export per VM disk, reused by every sync of that disk."""

    vm_id = models.CharField(max_length=64)
    disk_unit_number = models.IntegerField()
    vm_name = models.CharField(max_length=255)
    export_name = models.CharField(max_length=255, unique=True)
    device_path = models.CharField(max_length=512, db_index=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.ACTIVE, db_index=True)
    # The port while the export is active, NULL otherwise: the unique index is the port lock, so two workers can
    # never hand out the same port (no probe-then-bind race); written before nbdkit starts.
    active_port = models.PositiveIntegerField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        db_table = "vm_export_mappings"
        ordering = ["vm_id", "disk_unit_number"]
        constraints = [models.UniqueConstraint(fields=["vm_id", "disk_unit_number"], name="unique_vm_disk")]
        indexes = [models.Index(fields=["vm_id"], name="idx_vm_id")]


class ChangeIdRecord(models.Model):
    """A CBT change id stored after its data reached the target; the newest per (vm, disk) is the next base."""

    vm_context = models.ForeignKey("inventory.VMContext", on_delete=models.CASCADE, related_name="cbt_records")
    job = models.ForeignKey(ReplicationJob, on_delete=models.CASCADE, related_name="change_ids")
    vm_path = models.CharField(max_length=1024)
    disk_id = models.CharField(max_length=64)
    change_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "cbt_history"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "disk_id"], name="uniq_changeid_job_disk")]
        indexes = [models.Index(fields=["vm_context", "disk_id", "-created_at"], name="idx_cbt_vm_disk")]

    def __str__(self) -> str:
        return f"{self.vm_path}/{self.disk_id}: {self.change_id}"
