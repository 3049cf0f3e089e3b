"""Requests and answers of /api/migration, shaped as seed 004 shows them."""
from __future__ import annotations

from django.db import models
from rest_framework import serializers

from apps.core.api.fields import BlankAsNullCharField

from ..choices import (
    MigrationMode,
    ModeOverride,
    OsFamily,
    RiskLevel,
    VMStatus,
)
from ..models import Project, SourceCluster, SourceHost, SourceVM
from ..services.projects import EDITABLE
from .base import FiniteFloatField

MAX_IDS = 10_000


class FiniteModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.FloatField: FiniteFloatField}


# --- projects ----------------------------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["project_id", *EDITABLE, "status", "source_file_name", "uploaded_at", "assessed_at", "approved_at",
                  "approved_by", "created_at", "updated_at"]
        read_only_fields = fields


class ProjectWriteSerializer(FiniteModelSerializer):
    class Meta:
        model = Project
        fields = list(EDITABLE)
        extra_kwargs = {"source_nic_speed_gbps": {"max_value": 1000}, "link_speed_gbps": {"max_value": 1000},
                        "link_latency_ms": {"max_value": 10_000}, "agent_stream_mbps": {"max_value": 1_000_000},
                        "target_storage_mbps": {"max_value": 10_000_000},
                        "migration_duration_days": {"max_value": 10_000}, "target_vms_per_day": {"max_value": 100_000}}


class ProjectAnswer(serializers.Serializer):
    project = ProjectSerializer()


class ApprovalGroup(serializers.Serializer):
    cohort_id = serializers.IntegerField()
    cohort_name = serializers.CharField()
    group_id = serializers.IntegerField()
    group_name = serializers.CharField()
    vm_count = serializers.IntegerField()
    schedule_id = serializers.IntegerField(help_text="The group's sync schedule (the project's sync timing)")
    schedule = serializers.CharField(help_text="When it syncs, in words")


class ApprovalWave(serializers.Serializer):
    cohort_id = serializers.IntegerField()
    wave_id = serializers.IntegerField(allow_null=True, help_text="null: no wave, see error")
    wave_name = serializers.CharField()
    status = serializers.CharField(allow_null=True, help_text="scheduled (the cohort's dates) or draft (no window)")
    window_start = serializers.DateTimeField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ApprovalFailure(serializers.Serializer):
    vm_name = serializers.CharField()
    error = serializers.CharField()


class ApprovalMappings(serializers.Serializer):
    created = serializers.IntegerField(help_text="Failover network mappings made or updated")
    failed = ApprovalFailure(many=True)
    unmapped_networks = serializers.ListField(child=serializers.CharField(),
                                              help_text="Source networks with no confirmed target")


class ApprovalReport(serializers.Serializer):
    """What approval handed to the platform: scheduler groups, and the planned VMs it could not place."""

    machine_groups = ApprovalGroup(many=True)
    matched_count = serializers.IntegerField()
    unmatched = serializers.ListField(child=serializers.CharField(), help_text="Planned VMs with no discovered VM")
    unmatched_count = serializers.IntegerField()
    already_grouped = serializers.ListField(child=serializers.CharField())
    already_grouped_count = serializers.IntegerField()
    not_in_a_cohort = serializers.ListField(child=serializers.CharField())
    not_in_a_cohort_count = serializers.IntegerField()
    waves = ApprovalWave(many=True, help_text="Each cohort's cutover wave")
    network_mappings = ApprovalMappings()


class ApproveAnswer(serializers.Serializer):
    project = ProjectSerializer()
    approval = ApprovalReport()


class ProjectListAnswer(serializers.Serializer):
    projects = ProjectSerializer(many=True)


class StatusAnswer(serializers.Serializer):
    status = serializers.CharField()
    affected_count = serializers.IntegerField(required=False)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The RVTools export (.xlsx)")


class ImportDiscoveredSerializer(serializers.Serializer):
    vm_names = serializers.ListField(child=serializers.CharField(max_length=255), max_length=MAX_IDS, required=False,
                                     help_text="Only these discovered VMs (default: all of them)")


class UploadStats(serializers.Serializer):
    vInfo = serializers.IntegerField()  # noqa: N815 (the sheet names are the keys, as the seed shows)
    vDisk = serializers.IntegerField()  # noqa: N815
    vNIC = serializers.IntegerField()  # noqa: N815
    vHost = serializers.IntegerField()  # noqa: N815
    vCluster = serializers.IntegerField()  # noqa: N815
    vSnapshot = serializers.IntegerField()  # noqa: N815


class UploadAnswer(serializers.Serializer):
    stats = UploadStats()


# --- inventory ---------------------------------------------------------------------------------------------------


class VMSerializer(serializers.ModelSerializer):
    tenant_id = serializers.IntegerField(allow_null=True)
    tenant_name = serializers.CharField(source="tenant.tenant_name", allow_null=True, default=None)
    risk_level = BlankAsNullCharField(allow_null=True)
    migration_mode = BlankAsNullCharField(allow_null=True)
    effective_mode = BlankAsNullCharField(allow_null=True, help_text="The override if set, else the engine's mode")
    risk_reasons = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = SourceVM
        fields = ["id", "vm_name", "vm_uuid", "power_state", "guest_os", "os_family", "num_cpu", "memory_mb",
                  "total_disk_gb", "in_use_gb", "datacenter", "cluster", "host", "folder_path", "resource_pool",
                  "hw_version", "cbt_enabled", "tenant_id", "tenant_name", "risk_score", "risk_level", "risk_reasons",
                  "migration_mode", "mode_override", "effective_mode", "migration_status", "status_note"]
        read_only_fields = fields


class VMPageAnswer(serializers.Serializer):
    vms = VMSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()


class DiskSerializer(serializers.Serializer):
    disk_label = serializers.CharField()
    disk_path = serializers.CharField()
    capacity_gb = serializers.FloatField()
    thin_provisioned = serializers.BooleanField(allow_null=True)
    eagerly_scrub = serializers.BooleanField(allow_null=True)
    datastore = serializers.CharField()
    disk_mode = serializers.CharField()
    is_rdm = serializers.BooleanField()


class NICSerializer(serializers.Serializer):
    nic_label = serializers.CharField()
    adapter_type = serializers.CharField()
    network_name = serializers.CharField()
    connected = serializers.BooleanField(allow_null=True)
    mac_address = serializers.CharField()
    ip_address = serializers.CharField()


class VMDetailAnswer(serializers.Serializer):
    vm_name = serializers.CharField()
    disks = DiskSerializer(many=True)
    nics = NICSerializer(many=True)


class HostSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceHost
        fields = ["id", "host_name", "datacenter", "cluster", "cpu_model", "num_cpu_cores", "memory_gb",
                  "esx_version", "num_vms"]
        read_only_fields = fields


class HostListAnswer(serializers.Serializer):
    hosts = HostSerializer(many=True)


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceCluster
        fields = ["id", "cluster_name", "datacenter", "num_hosts", "num_cpu_cores", "total_memory_gb", "ha_enabled",
                  "drs_enabled"]
        read_only_fields = fields


class ClusterListAnswer(serializers.Serializer):
    clusters = ClusterSerializer(many=True)


RiskCounts = type("RiskDistribution", (serializers.Serializer,),
                  {v: serializers.IntegerField() for v in RiskLevel.values})
ModeCounts = type("ModeDistribution", (serializers.Serializer,),
                  {v: serializers.IntegerField() for v in MigrationMode.values})
OsCounts = type("OsDistribution", (serializers.Serializer,), {v: serializers.IntegerField() for v in OsFamily.values})
StatusCounts = type("StatusDistribution", (serializers.Serializer,),
                    {v: serializers.IntegerField() for v in VMStatus.values})


class StatsAnswer(serializers.Serializer):
    total_vms = serializers.IntegerField()
    powered_on_vms = serializers.IntegerField()
    assessed_vms = serializers.IntegerField()
    total_vcpu = serializers.IntegerField()
    total_ram_gb = serializers.FloatField()
    total_disk_gb = serializers.FloatField()
    total_in_use_gb = serializers.FloatField()
    total_hosts = serializers.IntegerField()
    total_clusters = serializers.IntegerField()
    total_tenants = serializers.IntegerField()
    risk_distribution = RiskCounts()
    mode_distribution = ModeCounts()
    os_distribution = OsCounts()
    status_distribution = StatusCounts()


# --- assessment, bandwidth, sizing -------------------------------------------------------------------------------


class RiskConfigSerializer(serializers.Serializer):
    weights = serializers.DictField(child=serializers.FloatField())
    thresholds = serializers.DictField(child=serializers.FloatField())
    unsupported_os_patterns = serializers.ListField(child=serializers.CharField())


class RiskConfigAnswer(serializers.Serializer):
    risk_config = RiskConfigSerializer()


class RiskConfigUpdateSerializer(serializers.Serializer):
    """Any part of the rule set; the rest stays. Checked against the known settings by the service."""

    weights = serializers.DictField(child=FiniteFloatField(min_value=0, max_value=10**7), required=False)
    thresholds = serializers.DictField(child=FiniteFloatField(min_value=0, max_value=10**7), required=False)
    unsupported_os_patterns = serializers.ListField(child=serializers.CharField(max_length=100), max_length=200,
                                                    required=False)


class AssessAnswer(serializers.Serializer):
    status = serializers.CharField()
    project_status = serializers.CharField()
    vm_count = serializers.IntegerField()
    tenant_count = serializers.IntegerField()
    risk_distribution = RiskCounts()
    mode_distribution = ModeCounts()


class ResetPlanAnswer(serializers.Serializer):
    status = serializers.CharField()
    cohorts_deleted = serializers.IntegerField()


class BandwidthSerializer(serializers.Serializer):
    source_effective_mbps = serializers.FloatField()
    link_effective_mbps = serializers.FloatField(allow_null=True, help_text="null for a local topology")
    agent_effective_mbps = serializers.FloatField()
    storage_effective_mbps = serializers.FloatField()
    bottleneck = serializers.ChoiceField(choices=["source", "link", "agent", "pcd_storage"])
    bottleneck_mbps = serializers.FloatField()
    latency_penalty = serializers.FloatField()
    source = serializers.ChoiceField(choices=["model", "measured"], help_text="measured: the agent stream speed comes "
                                     "from the platform's own completed syncs; model: the project's agent_stream_mbps")
    measured_jobs = serializers.IntegerField(help_text="Completed syncs measured (0: none yet)")
    measured_stream_mbps = serializers.FloatField(allow_null=True, help_text="Median speed of one VM's sync")
    change_rate_pct = serializers.FloatField(help_text="The change rate the estimates use")
    change_rate_source = serializers.ChoiceField(choices=["model", "measured"],
                                                 help_text="measured: the median share of a VM's disks our "
                                                           "incremental syncs carried; model: the project's")


class BandwidthAnswer(serializers.Serializer):
    bandwidth = BandwidthSerializer()


class RecommendationSerializer(serializers.Serializer):
    recommended_agent_count = serializers.IntegerField()
    vcpu_per_agent = serializers.IntegerField()
    ram_gb_per_agent = serializers.IntegerField()
    disk_gb_per_agent = serializers.IntegerField()
    max_concurrent_vms = serializers.IntegerField()
    reasoning = serializers.ListField(child=serializers.CharField())


class RecommendationAnswer(serializers.Serializer):
    recommendation = RecommendationSerializer()


class VMStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=VMStatus.choices)
    status_note = serializers.CharField(max_length=1024, required=False, allow_blank=True, allow_null=True)


class VMBulkStatusSerializer(VMStatusSerializer):
    vm_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), min_length=1,
                                   max_length=MAX_IDS)


class VMAnswer(serializers.Serializer):
    vm = VMSerializer()


class ModeOverrideSerializer(serializers.Serializer):
    override = serializers.ChoiceField(choices=ModeOverride.choices, allow_null=True,
                                       help_text="warm, cold, or null for the engine's classification")


# --- the exported plan ------------------------------------------------------------------------------------------


class ProjectSummarySerializer(serializers.Serializer):
    project_name = serializers.CharField()
    total_vms = serializers.IntegerField()
    warm_count = serializers.IntegerField()
    cold_count = serializers.IntegerField()
    total_disk_tb = serializers.FloatField()
    bottleneck_mbps = serializers.FloatField()
    bandwidth_source = serializers.ChoiceField(choices=["model", "measured"])
    change_rate_pct = serializers.FloatField(help_text="The change rate the estimates used")
    estimated_total_hours = serializers.FloatField()
    estimated_days = serializers.IntegerField()


class PlanVMSerializer(serializers.Serializer):
    vm_id = serializers.IntegerField()
    vm_name = serializers.CharField()
    total_disk_gb = serializers.FloatField()
    in_use_gb = serializers.FloatField()
    mode = serializers.ChoiceField(choices=MigrationMode.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, allow_null=True)
    migration_status = serializers.ChoiceField(choices=VMStatus.choices)
    actual_status = serializers.CharField(allow_null=True, help_text="The matched discovered VM's state (after "
                                                                     "approval), e.g. replicating, ready_for_failover")
    last_sync_at = serializers.DateTimeField(allow_null=True, help_text="Its last completed sync")
    wave_id = serializers.IntegerField(allow_null=True, help_text="Its latest cutover wave")
    wave_status = serializers.CharField(allow_null=True, help_text="Its outcome in that wave: queued, running, "
                                                                   "completed, skipped, failed...")
    wave_reason = serializers.CharField(allow_null=True, help_text="Why it was skipped or failed")
    warm_phase1_hours = serializers.FloatField()
    warm_cutover_hours = serializers.FloatField()
    warm_downtime_hours = serializers.FloatField()
    cold_total_hours = serializers.FloatField()
    cold_downtime_hours = serializers.FloatField()


class TenantPlanSerializer(serializers.Serializer):
    tenant_name = serializers.CharField()
    cohort_name = serializers.CharField(allow_null=True)
    vm_count = serializers.IntegerField()
    warm_count = serializers.IntegerField()
    cold_count = serializers.IntegerField()
    total_disk_gb = serializers.FloatField()
    phase1_hours = serializers.FloatField()
    cutover_hours = serializers.FloatField()
    total_hours = serializers.FloatField()
    risk_distribution = RiskCounts()
    vms = PlanVMSerializer(many=True)


class DaySerializer(serializers.Serializer):
    day = serializers.IntegerField()
    vms = serializers.ListField(child=serializers.CharField())


class PlanAnswer(serializers.Serializer):
    project_summary = ProjectSummarySerializer()
    tenant_plans = TenantPlanSerializer(many=True)
    daily_schedule = DaySerializer(many=True)


class ExportQuerySerializer(serializers.Serializer):
    download = serializers.ChoiceField(choices=["json", "csv", "xlsx"], default="json",
                                       help_text="json (default), csv or xlsx (a file to hand on)")
