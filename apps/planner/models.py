"""A migration project and what it plans: the source estate (from RVTools), tenants, dependencies, network
mappings and cohorts (waves). Seed 004 "Migration Planner"."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.models import Named, NewestFirst, TimeStampedModel
from apps.scheduler import timing

from .choices import (
    CheckStatus,
    CohortStatus,
    DependencyType,
    DetectionMethod,
    MigrationMode,
    ModeOverride,
    OsFamily,
    ProjectStatus,
    RiskLevel,
    TargetScope,
    Topology,
    VMStatus,
)

PERCENT = [MinValueValidator(1), MaxValueValidator(100)]


class Project(Named, NewestFirst):
    project_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT)
    # Bandwidth model: the source hosts' NICs, the link between the sites, the agents, the target storage.
    topology_type = models.CharField(max_length=32, choices=Topology.choices, default=Topology.LOCAL)
    source_nic_speed_gbps = models.FloatField(default=10.0, validators=[MinValueValidator(0.001)])
    source_usable_pct = models.FloatField(default=40.0, validators=PERCENT)
    link_speed_gbps = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.001)])
    link_usable_pct = models.FloatField(default=60.0, validators=PERCENT)
    link_latency_ms = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    agent_count = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    agent_concurrent_vms = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1),
                                                                              MaxValueValidator(100)])
    agent_stream_mbps = models.FloatField(default=350.0, validators=[MinValueValidator(1)],
                                          help_text="What one agent copy stream moves (Mbit/s).")
    target_storage_mbps = models.FloatField(default=500.0, validators=[MinValueValidator(1)],
                                            help_text="What CloudStack primary storage absorbs (Mbit/s).")
    change_rate_pct = models.FloatField(default=5.0, validators=[MinValueValidator(0), MaxValueValidator(100)],
                                        help_text="Share of a VM's used data changed between the copy and cutover.")
    # Schedule the agent recommendation works towards (0: not set).
    migration_duration_days = models.PositiveIntegerField(default=0)
    working_hours_per_day = models.PositiveIntegerField(default=8, validators=[MinValueValidator(1),
                                                                               MaxValueValidator(24)])
    working_days_per_week = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1),
                                                                               MaxValueValidator(7)])
    target_vms_per_day = models.PositiveIntegerField(default=0)
    # CloudStack is the destination: a tenant becomes a domain plus an account, or a project, in that domain.
    target_scope = models.CharField(max_length=16, choices=TargetScope.choices, default=TargetScope.PROJECT)
    # How approval's sync schedules run each cohort's incremental syncs: the cron expression when set, else the interval.
    sync_interval_seconds = models.PositiveIntegerField(default=4 * 3600, validators=[
        MinValueValidator(60), MaxValueValidator(31 * 24 * 3600)])
    sync_cron_expression = models.CharField(max_length=255, blank=True)
    risk_config = models.JSONField(default=dict, blank=True)
    source_file_name = models.CharField(max_length=255, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    approval_report = models.JSONField(default=dict, blank=True)

    class Meta(NewestFirst.Meta):
        db_table = "planner_projects"

    def clean(self) -> None:
        self.sync_cron_expression = timing.normalise_cron(self.sync_cron_expression or "")
        if self.sync_cron_expression:
            try:
                timing.parse_cron(self.sync_cron_expression)
            except ValueError as exc:
                raise ValidationError({"sync_cron_expression": f"Invalid cron expression: {exc}"}) from None


class SourceCluster(Named, name_field="cluster_name"):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="clusters")
    cluster_name = models.CharField(max_length=255)
    datacenter = models.CharField(max_length=255, blank=True)
    num_hosts = models.PositiveIntegerField(default=0)
    num_cpu_cores = models.PositiveIntegerField(default=0)
    total_memory_gb = models.FloatField(default=0)
    ha_enabled = models.BooleanField(null=True)
    drs_enabled = models.BooleanField(null=True)

    class Meta:
        db_table = "planner_clusters"
        ordering = ["cluster_name"]


class InSourceCluster(Named):
    """A host or VM of the source vCenter: shown by its name, placed by the names the inventory gave."""

    datacenter = models.CharField(max_length=255, blank=True)
    cluster = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True


class SourceHost(InSourceCluster, name_field="host_name"):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="hosts")
    host_name = models.CharField(max_length=255)
    cpu_model = models.CharField(max_length=255, blank=True)
    num_cpu_cores = models.PositiveIntegerField(default=0)
    memory_gb = models.FloatField(default=0)
    esx_version = models.CharField(max_length=255, blank=True)
    num_vms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "planner_hosts"
        ordering = ["host_name"]


class Cohort(Named, TimeStampedModel):
    """A migration wave: tenants are assigned to it, their VMs move together."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cohorts")
    name = models.CharField(max_length=255)
    cohort_order = models.PositiveIntegerField(default=1)
    owner_name = models.CharField(max_length=255, blank=True)
    scheduled_start = models.DateField(null=True, blank=True)
    scheduled_end = models.DateField(null=True, blank=True)
    depends_on_cohort = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="dependents")
    status = models.CharField(max_length=16, choices=CohortStatus.choices, default=CohortStatus.PLANNED)
    notes = models.TextField(blank=True)
    machine_group_id = models.BigIntegerField(null=True, blank=True, help_text="The scheduler group approval made.")
    wave_id = models.BigIntegerField(null=True, blank=True, help_text="The cutover wave approval made.")

    class Meta:
        db_table = "planner_cohorts"
        ordering = ["cohort_order", "id"]


class Tenant(TimeStampedModel):
    """A tenant of the source estate (detected from folders, pools or names) and where it lands in CloudStack."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tenants")
    tenant_name = models.CharField(max_length=255)
    org_vdc = models.CharField(max_length=255, blank=True)
    detection_method = models.CharField(max_length=32, blank=True)
    cohort = models.ForeignKey(Cohort, null=True, blank=True, on_delete=models.SET_NULL, related_name="tenants")
    migration_priority = models.PositiveIntegerField(default=100, help_text="Lower moves earlier.")
    target_domain_name = models.CharField(max_length=255, blank=True)
    target_domain_description = models.CharField(max_length=255, blank=True)
    target_project_name = models.CharField(max_length=255, blank=True)
    target_display_name = models.CharField(max_length=255, blank=True)
    target_confirmed = models.BooleanField(default=False)
    quota_vcpu = models.PositiveIntegerField(null=True, blank=True)
    quota_ram_gb = models.FloatField(null=True, blank=True)
    quota_disk_gb = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "planner_tenants"
        ordering = ["tenant_name", "org_vdc"]
        constraints = [models.UniqueConstraint(fields=["project", "tenant_name", "org_vdc"], name="uniq_planner_tenant")]

    def __str__(self) -> str:
        return f"{self.tenant_name}/{self.org_vdc}" if self.org_vdc else self.tenant_name


class TenantRule(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tenant_rules")
    tenant_name = models.CharField(max_length=255)
    detection_method = models.CharField(max_length=32, choices=DetectionMethod.choices)
    pattern_value = models.CharField(max_length=512)

    class Meta:
        db_table = "planner_tenant_rules"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.detection_method} {self.pattern_value!r} -> {self.tenant_name}"


class TenantReadinessCheck(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="readiness_checks")
    check_name = models.CharField(max_length=64)
    check_status = models.CharField(max_length=8, choices=CheckStatus.choices)
    notes = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "planner_tenant_readiness"
        constraints = [models.UniqueConstraint(fields=["tenant", "check_name"], name="uniq_planner_readiness")]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.check_status}"


class SourceVM(InSourceCluster, name_field="vm_name"):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="vms")
    vm_name = models.CharField(max_length=255)
    vm_uuid = models.CharField(max_length=64, blank=True)
    power_state = models.CharField(max_length=32, blank=True)
    guest_os = models.CharField(max_length=255, blank=True)
    os_family = models.CharField(max_length=16, choices=OsFamily.choices, default=OsFamily.OTHER)
    num_cpu = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveIntegerField(default=0)
    total_disk_gb = models.FloatField(default=0)
    in_use_gb = models.FloatField(default=0)
    host = models.CharField(max_length=255, blank=True)
    folder_path = models.CharField(max_length=1024, blank=True)
    resource_pool = models.CharField(max_length=1024, blank=True)
    annotation = models.TextField(blank=True)
    hw_version = models.CharField(max_length=32, blank=True)
    cbt_enabled = models.BooleanField(null=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    # Assessment (cleared by reset-assessment).
    risk_score = models.PositiveIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, blank=True)
    risk_reasons = models.JSONField(default=list, blank=True)
    migration_mode = models.CharField(max_length=16, choices=MigrationMode.choices, blank=True)
    mode_override = models.CharField(max_length=8, choices=ModeOverride.choices, null=True, blank=True)
    # Execution.
    migration_status = models.CharField(max_length=16, choices=VMStatus.choices, default=VMStatus.NOT_STARTED)
    status_note = models.CharField(max_length=1024, blank=True)
    vm_context_id = models.CharField(max_length=191, blank=True, help_text="The discovered VM approval matched.")

    class Meta:
        db_table = "planner_vms"
        ordering = ["vm_name"]
        constraints = [models.UniqueConstraint(fields=["project", "vm_name"], name="uniq_planner_vm")]

    @property
    def effective_mode(self) -> str:
        if self.mode_override == ModeOverride.WARM:
            return MigrationMode.WARM_ELIGIBLE
        if self.mode_override == ModeOverride.COLD:
            return MigrationMode.COLD_REQUIRED
        return self.migration_mode


class SourceVMDevice(Named):
    """A disk or NIC of a source VM, listed in the order the import found them and shown by its label."""

    class Meta:
        abstract = True
        ordering = ["vm", "id"]


class SourceDisk(SourceVMDevice, name_field="disk_label"):
    vm = models.ForeignKey(SourceVM, on_delete=models.CASCADE, related_name="disks")
    disk_label = models.CharField(max_length=255)
    disk_path = models.CharField(max_length=1024, blank=True)
    capacity_gb = models.FloatField(default=0)
    thin_provisioned = models.BooleanField(null=True)
    eagerly_scrub = models.BooleanField(null=True)
    datastore = models.CharField(max_length=255, blank=True)
    disk_mode = models.CharField(max_length=64, blank=True)
    is_rdm = models.BooleanField(default=False)

    class Meta(SourceVMDevice.Meta):
        db_table = "planner_disks"


class SourceNIC(SourceVMDevice, name_field="nic_label"):
    vm = models.ForeignKey(SourceVM, on_delete=models.CASCADE, related_name="nics")
    nic_label = models.CharField(max_length=255)
    adapter_type = models.CharField(max_length=64, blank=True)
    network_name = models.CharField(max_length=255, blank=True)
    connected = models.BooleanField(null=True)
    mac_address = models.CharField(max_length=64, blank=True)
    ip_address = models.CharField(max_length=255, blank=True)

    class Meta(SourceVMDevice.Meta):
        db_table = "planner_nics"


class SourceSnapshot(Named, name_field="snapshot_name"):
    vm = models.ForeignKey(SourceVM, on_delete=models.CASCADE, related_name="snapshots")
    snapshot_name = models.CharField(max_length=255)
    created = models.CharField(max_length=64, blank=True)
    size_gb = models.FloatField(default=0)

    class Meta:
        db_table = "planner_snapshots"


class VMDependency(TimeStampedModel):
    """``vm`` must complete before ``depends_on_vm`` starts (the seed's naming)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dependencies")
    vm = models.ForeignKey(SourceVM, on_delete=models.CASCADE, related_name="dependencies_out")
    depends_on_vm = models.ForeignKey(SourceVM, on_delete=models.CASCADE, related_name="dependencies_in")
    dependency_type = models.CharField(max_length=32, choices=DependencyType.choices,
                                       default=DependencyType.MUST_COMPLETE_BEFORE)
    notes = models.TextField(blank=True)

    class Meta:
        db_table = "planner_vm_dependencies"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["vm", "depends_on_vm"], name="uniq_planner_dependency")]

    def __str__(self) -> str:
        return f"{self.vm_id} before {self.depends_on_vm_id}"


class NetworkMapping(Named, TimeStampedModel, name_field="source_network_name"):
    """A source (vSphere) network and the CloudStack network it becomes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="network_mappings")
    source_network_name = models.CharField(max_length=255)
    target_network_name = models.CharField(max_length=255, blank=True)
    target_network_id = models.CharField(max_length=64, null=True, blank=True)
    vlan_id = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(4094)])
    confirmed = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    class Meta:
        db_table = "planner_network_mappings"
        ordering = ["source_network_name"]
        constraints = [models.UniqueConstraint(fields=["project", "source_network_name"],
                                               name="uniq_planner_network_mapping")]
