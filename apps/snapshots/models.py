"""Snapshot policies and their assignments, the runs that apply them, the on-demand pipeline, restore jobs.

A policy snapshot (`PolicySnapshot`) is a CloudStack volume snapshot a policy made: retention prunes only these,
never a snapshot someone else took. Every row names CloudStack's own ids (volume, snapshot, VM).
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from apps.core.models import Named, StartedFinished

from .choices import (
    IpStrategy,
    PipelineStatus,
    RestoreMode,
    RestoreStatus,
    RunStatus,
    RunTrigger,
    SnapshotState,
    TargetType,
    VolumeOutcome,
)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class SnapshotPolicy(Named):
    """The seed's "policy set": how often volumes are snapshotted and how many of those snapshots are kept."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    interval_minutes = models.PositiveIntegerField(help_text="Minutes between two snapshots of a volume")
    retention_count = models.PositiveIntegerField(help_text="Policy snapshots kept per volume (newest first)")
    retention_days = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Also delete policy snapshots older than this")
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "snapshot_policies"
        ordering = ["name"]
        verbose_name_plural = "snapshot policies"

    def next_run_at(self):
        return None if self.last_run_at is None else self.last_run_at + timedelta(minutes=self.interval_minutes)

    def is_due(self, now=None) -> bool:
        due = self.next_run_at()
        return self.enabled and (due is None or due <= (now or timezone.now()))


class SnapshotAssignment(models.Model):
    """A policy applied to one volume, every volume of one VM, or every volume of one tenant."""

    policy = models.ForeignKey(SnapshotPolicy, on_delete=models.CASCADE, related_name="assignments")
    target_type = models.CharField(max_length=16, choices=TargetType.choices, default=TargetType.VOLUME)
    # CloudStack's id of the volume or VM; for a tenant, its project id or account name.
    target_id = models.CharField(max_length=255)
    target_name = models.CharField(max_length=255, blank=True)
    domain_id = models.CharField(max_length=64, blank=True, help_text="An account tenant's domain")
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "snapshot_assignments"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["policy", "target_type", "target_id", "domain_id"],
                                               name="snapshot_assignment_once")]

    def __str__(self) -> str:
        return f"{self.policy} -> {self.target_type} {self.target_name or self.target_id}"


class SnapshotRun(models.Model):
    """One pass over the due (or, on demand, all enabled) policies: a snapshot per assigned volume, then pruning."""

    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True)
    triggered_by = models.CharField(max_length=150, blank=True)
    policy_names = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    total_volumes = models.PositiveIntegerField(default=0)
    snapshots_created = models.PositiveIntegerField(default=0)
    snapshots_deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    quota_blocked = models.PositiveIntegerField(default=0)
    total_batches = models.PositiveIntegerField(default=0)
    completed_batches = models.PositiveIntegerField(default=0)
    current_batch = models.PositiveIntegerField(null=True, blank=True)
    estimated_finish_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "snapshot_runs"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot run {self.pk} ({self.status})"

    @property
    def owner(self) -> str:
        """Who the CloudStack resources it creates belong to until they are kept (apps/settings/volumes.py)."""
        return f"snaprun-{self.pk}"


class SnapshotRunVolume(models.Model):
    """What a run did to one volume: the snapshot it made, the ones retention deleted, or why not."""

    run = models.ForeignKey(SnapshotRun, on_delete=models.CASCADE, related_name="volumes")
    batch_number = models.PositiveIntegerField()
    policy = models.ForeignKey(SnapshotPolicy, null=True, on_delete=models.SET_NULL, related_name="+")
    policy_name = models.CharField(max_length=100)
    volume_id = models.CharField(max_length=64, db_index=True)
    volume_name = models.CharField(max_length=255, blank=True)
    vm_id = models.CharField(max_length=64, blank=True)
    vm_name = models.CharField(max_length=255, blank=True)
    tenant_name = models.CharField(max_length=255, blank=True)
    size_gb = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=VolumeOutcome.choices, default=VolumeOutcome.PENDING)
    snapshot_id = models.CharField(max_length=64, blank=True)
    cloudstack_job_id = models.CharField(max_length=64, blank=True)
    deleted_snapshot_ids = models.JSONField(default=list)
    error = models.TextField(blank=True)
    # A quota-blocked volume's owner figures when CloudStack refused it (listAccounts/listProjects): secondary
    # storage in GiB, where snapshots count, and the snapshot count; null when CloudStack gave none or unlimited.
    quota_limit_gb = models.PositiveIntegerField(null=True, blank=True)
    quota_used_gb = models.PositiveIntegerField(null=True, blank=True)
    snapshot_limit = models.PositiveIntegerField(null=True, blank=True)
    snapshots_used = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "snapshot_run_volumes"
        ordering = ["batch_number", "id"]

    def __str__(self) -> str:
        return f"{self.volume_name or self.volume_id}: {self.status}"


class PolicySnapshot(models.Model):
    """A CloudStack volume snapshot made by a policy: what retention counts and prunes."""

    policy = models.ForeignKey(SnapshotPolicy, null=True, on_delete=models.SET_NULL, related_name="snapshots")
    policy_name = models.CharField(max_length=100)
    run = models.ForeignKey(SnapshotRun, null=True, on_delete=models.SET_NULL, related_name="+")
    volume_id = models.CharField(max_length=64, db_index=True)
    snapshot_id = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=SnapshotState.choices, default=SnapshotState.CREATING)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "policy_snapshots"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.snapshot_id} ({self.policy_name}, {self.state})"


class UUIDJob(StartedFinished):
    """A job the API names by a UUID ``job_id``, with its error; listed newest first."""

    job_id = models.CharField(max_length=36, unique=True, default=_new_uuid)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class OnDemandRun(UUIDJob):
    """The seed's `snapshot_on_demand_runs`: one on-demand pipeline, its steps' progress, the run it made."""

    status = models.CharField(max_length=16, choices=PipelineStatus.choices, default=PipelineStatus.PENDING,
                              db_index=True)
    triggered_by = models.CharField(max_length=150, blank=True)
    steps = models.JSONField(default=list)
    snapshot_run = models.ForeignKey(SnapshotRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(UUIDJob.Meta):
        db_table = "snapshot_on_demand_runs"

    def __str__(self) -> str:
        return f"on-demand pipeline {self.job_id} ({self.status})"


class RestoreJob(UUIDJob):
    """A VM restored from volume snapshots: its plan, its steps' progress, what it created, how it ended."""

    status = models.CharField(max_length=16, choices=RestoreStatus.choices, default=RestoreStatus.PLANNED,
                              db_index=True)
    mode = models.CharField(max_length=8, choices=RestoreMode.choices, default=RestoreMode.NEW)
    project_id = models.CharField(max_length=255)
    vm_id = models.CharField(max_length=64, db_index=True)
    vm_name = models.CharField(max_length=255, blank=True)
    restore_point_id = models.CharField(max_length=64)
    new_vm_name = models.CharField(max_length=63, blank=True)
    ip_strategy = models.CharField(max_length=20, choices=IpStrategy.choices, default=IpStrategy.NEW_IPS)
    manual_ips = models.JSONField(default=dict, blank=True)
    network_map = models.JSONField(default=dict, blank=True, help_text="original network id -> restore onto")
    power_on = models.BooleanField(default=True)
    plan_json = models.JSONField(default=dict)
    steps = models.JSONField(default=list)
    current_step = models.CharField(max_length=32, blank=True)
    failed_step = models.CharField(max_length=32, blank=True)
    progress_pct = models.FloatField(default=0)
    result_vm_id = models.CharField(max_length=64, blank=True)
    created_volume_ids = models.JSONField(default=list)
    old_volume_ids = models.JSONField(default=list, help_text="REPLACE: the original disks, detached and kept")
    rollback = models.JSONField(default=list, help_text="What the rollback did, line by line")
    cancel_requested = models.BooleanField(default=False)
    cancel_reason = models.CharField(max_length=500, blank=True)
    original_job = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    resumed_from_step = models.CharField(max_length=32, blank=True)
    reused_resources = models.JSONField(default=dict)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(UUIDJob.Meta):
        db_table = "restore_jobs"

    def __str__(self) -> str:
        return f"restore {self.job_id} ({self.status})"

    @property
    def owner(self) -> str:
        return f"restore-{self.job_id}"
