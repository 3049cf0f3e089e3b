"""Failover jobs, the replica volumes each job moves, and the VMs' network mappings (seed 003)."""
from __future__ import annotations

from django.db import models

from apps.core.models import TimeStampedModel, VMJob
from apps.inventory.models import VMContext

from .choices import ACTIVE, CleanupStatus, FailoverStatus, FailoverType, SnapshotState, VolumePlace

POWERED_ON = "poweredOn"  # vSphere's runtime.powerState of a running VM


class NetworkMapping(TimeStampedModel):
    """Which CloudStack network a VM's source (vSphere) network becomes, for live or for test failovers."""

    vm_context = models.ForeignKey("inventory.VMContext", on_delete=models.CASCADE, related_name="network_mappings")
    source_network_name = models.CharField(max_length=255)
    destination_network_id = models.CharField(max_length=64)
    destination_network_name = models.CharField(max_length=255, blank=True)
    is_test_network = models.BooleanField(default=False)

    class Meta:
        db_table = "network_mappings"
        ordering = ["vm_context", "source_network_name", "is_test_network"]
        constraints = [models.UniqueConstraint(fields=["vm_context", "source_network_name", "is_test_network"],
                                               name="uniq_network_mapping")]

    def __str__(self) -> str:
        kind = "test" if self.is_test_network else "live"
        return f"{self.vm_context.vm_name}: {self.source_network_name} -> {self.destination_network_name} ({kind})"


class FailoverJob(VMJob):
    job_id = models.CharField(max_length=160, unique=True)
    job_type = models.CharField(max_length=8, choices=FailoverType.choices)
    vm_context = models.ForeignKey("inventory.VMContext", on_delete=models.PROTECT, related_name="failover_jobs")
    ossea_config = models.ForeignKey("platform_settings.OsseaConfig", null=True, on_delete=models.SET_NULL,
                                     related_name="failover_jobs")
    status = models.CharField(max_length=20, choices=FailoverStatus.choices, default=FailoverStatus.PENDING,
                              db_index=True)
    progress = models.FloatField(default=0.0)
    current_step = models.CharField(max_length=255, blank=True)
    # What was asked.
    skip_validation = models.BooleanField(default=False)
    test_duration = models.CharField(max_length=32, blank=True)
    test_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    auto_cleanup = models.BooleanField(default=False)
    power_off_source = models.BooleanField(default=False)
    final_sync = models.BooleanField(default=False)
    shutdown_timeout_seconds = models.PositiveIntegerField(default=300)
    network_overrides = models.JSONField(default=dict, blank=True, help_text="network_mappings of the request")
    custom_config = models.JSONField(default=dict, blank=True)
    notification_config = models.JSONField(default=dict, blank=True)
    # What was decided and done.
    plan = models.JSONField(default=dict, blank=True, help_text="Networks, offering, template, boot volume")
    validation_result = models.JSONField(default=dict, blank=True)
    destination_vm_id = models.CharField(max_length=64, blank=True)
    destination_vm_name = models.CharField(max_length=255, blank=True)
    source_powered_off_at = models.DateTimeField(null=True, blank=True)
    source_power_result = models.CharField(max_length=32, blank=True)
    # True only when this failover's power-off changed the VM (not "already_off"): only then does a rollback power
    # the source back on; a VM the operator had powered off before the failover stays off.
    source_powered_off_by_platform = models.BooleanField(default=False)
    # The power-off call failed without a clear answer (timeout, dropped connection, agent 5xx): vCenter may have
    # powered the VM off. A rollback then powers it on only if it was on before (source_power_state_before).
    source_power_uncertain = models.BooleanField(
        default=False, help_text="The power-off call got no clear answer: the source VM may be off")
    source_power_state_before = models.CharField(
        max_length=32, blank=True,
        help_text="The source VM's power state as the inventory knew it just before the power-off call")
    source_powered_on_at = models.DateTimeField(null=True, blank=True,
                                                help_text="When a rollback powered the source VM back on")
    source_power_on_error = models.CharField(max_length=500, blank=True,
                                             help_text="Why the last power-on of the source VM failed")
    final_sync_job_id = models.CharField(max_length=64, blank=True, db_index=True)
    final_sync_started_at = models.DateTimeField(null=True, blank=True)
    # The guest conversion (virt-v2v-in-place) and the boot verification: status, seconds, what they saw, the log.
    conversion = models.JSONField(default=dict, blank=True, help_text="The guest conversion: status, seconds, log")
    boot_verification = models.JSONField(default=dict, blank=True,
                                         help_text="Whether the started guest answered: target, seconds, last lines")
    error_code = models.CharField(max_length=32, blank=True)
    rollback_log = models.JSONField(default=list, blank=True, help_text="What rollback and cleanup did")
    cleanup_status = models.CharField(max_length=16, choices=CleanupStatus.choices, default=CleanupStatus.NONE,
                                      blank=True)
    needs_cleanup = models.BooleanField(default=False, db_index=True,
                                        help_text="A rollback left something behind (cleanup-failed retries it)")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When a test failover was ended")
    cleanup_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    # A job occupies its VM while running, or while its test VM is still up; ending a test frees it.
    slot_fields = frozenset({"status", "ended_at"})

    class Meta(VMJob.Meta):
        db_table = "failover_jobs"

    @property
    def test_running(self) -> bool:
        """A test failover whose VM is up and not ended yet."""
        return (self.job_type == FailoverType.TEST and self.status == FailoverStatus.COMPLETED
                and self.ended_at is None)

    @property
    def source_power_on_owed(self) -> bool:
        """This failover powered the source off (or its power-off answer was lost and the VM was on before) and
        nothing powered it back on; a completed live failover keeps it off for good."""
        return ((self.source_powered_off_by_platform or self.source_power_on_if_on_before)
                and self.source_powered_on_at is None and self.status != FailoverStatus.COMPLETED)

    @property
    def source_power_on_if_on_before(self) -> bool:
        """The power-off answer was lost and the VM was known to be on before: powering it on restores that."""
        return self.source_power_uncertain and self.source_power_state_before == POWERED_ON

    @property
    def source_power_left_to_operator(self) -> bool:
        """The power-off answer was lost and the VM was not known to be on before: only the operator can tell."""
        return (self.source_power_uncertain and not self.source_power_on_if_on_before
                and self.source_powered_on_at is None)

    @staticmethod
    def source_power_on_owed_q() -> models.Q:
        """``source_power_on_owed`` as a query condition (the same rule, for filtering jobs)."""
        owed = models.Q(source_powered_off_by_platform=True) | models.Q(source_power_uncertain=True,
                                                                        source_power_state_before=POWERED_ON)
        return models.Q(owed, source_powered_on_at__isnull=True) & ~models.Q(status=FailoverStatus.COMPLETED)

    @property
    def occupies_vm(self) -> bool:
        return self.status in ACTIVE or self.test_running

    @staticmethod
    def holds_replicas_q() -> models.Q:
        """Jobs that own the VM's replica volumes: running past the queued stage (a live failover's final sync runs
        while it is queued), a test still running, or failed with resources left for cleanup."""
        return (models.Q(active_slot__isnull=False) & ~models.Q(status=FailoverStatus.PENDING)) | models.Q(
            needs_cleanup=True)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        hold_vm_context(self.vm_context_id)


def hold_vm_context(vm_context_id: int) -> None:
    """Write on the VM context which failover holds its replicas (or none): replication refuses to sync meanwhile.

    Recomputed from all the VM's failover jobs at every save, so a job that ends never clears another job's hold.
    """
    holder = (FailoverJob.objects.filter(vm_context_id=vm_context_id).filter(FailoverJob.holds_replicas_q())
              .order_by("-id").values_list("job_type", "job_id", "status").first())
    text = f"{holder[0]} failover {holder[1]} ({holder[2]})"[:255] if holder else ""
    VMContext.objects.filter(pk=vm_context_id).exclude(held_by_failover=text).update(held_by_failover=text)


class FailoverVolume(TimeStampedModel):
    """One replica volume as one failover job moved it: where it is, its snapshot, its role in the VM."""

    job = models.ForeignKey(FailoverJob, on_delete=models.CASCADE, related_name="volumes")
    replica = models.ForeignKey("replication.ReplicaVolume", null=True, on_delete=models.SET_NULL,
                                related_name="failover_volumes")
    volume_id = models.CharField(max_length=64)
    volume_name = models.CharField(max_length=255, blank=True)
    disk_id = models.CharField(max_length=64)
    disk_unit_number = models.IntegerField()
    is_root = models.BooleanField(default=False)
    place = models.CharField(max_length=20, choices=VolumePlace.choices, default=VolumePlace.ON_OMA)
    oma_vm_id = models.CharField(max_length=64, blank=True)
    export_stopped = models.BooleanField(default=False)
    snapshot_id = models.CharField(max_length=64, blank=True)
    snapshot_state = models.CharField(max_length=16, choices=SnapshotState.choices, default=SnapshotState.NONE,
                                      blank=True)
    vm_device_id = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "failover_volumes"
        ordering = ["job", "disk_unit_number"]
        constraints = [models.UniqueConstraint(fields=["job", "volume_id"], name="uniq_failover_job_volume")]

    def __str__(self) -> str:
        return f"{self.job.job_id}/{self.disk_id} {self.volume_id} ({self.place})"
