"""Requests and answers of /api/migration, shaped as seed 004 shows them."""
from __future__ import annotations

import sys

from django.db import models
from rest_framework import serializers

from apps.core.api.fields import BlankAsNullCharField
from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

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


def wrapper(name: str, **parts: serializers.Field) -> type[serializers.Serializer]:
    """An answer that holds its parts under their keys: ``wrapper("VMAnswer", vm=VMSerializer())`` answers
    ``{"vm": {...}}`` (most planner answers wrap one object or list so)."""
    return type(name, (serializers.Serializer,), {"__module__": sys._getframe(1).f_globals["__name__"], **parts})


# A row as the answers show it, never written through this serializer: every field of Meta.fields is read-only, as
# ``read_only_fields = fields`` would make it (a comment, not a docstring: the schema would show it as each
# subclass's description).
class ReadOnlyModelSerializer(serializers.ModelSerializer):
    def get_extra_kwargs(self):
        extra_kwargs = super().get_extra_kwargs()
        for name in self.Meta.fields:
            extra_kwargs[name] = {**extra_kwargs.get(name, {}), "read_only": True}
        return extra_kwargs


# --- projects ----------------------------------------------------------------------------------------------------


class ProjectSerializer(ReadOnlyModelSerializer):
    class Meta:
        model = Project
        fields = ["project_id", *EDITABLE, "status", "source_file_name", "uploaded_at", "assessed_at", "approved_at",
                  "approved_by", "created_at", "updated_at"]


class ProjectWriteSerializer(FiniteModelSerializer):
    class Meta:
        model = Project
        fields = list(EDITABLE)
        extra_kwargs = {"source_nic_speed_gbps": {"max_value": 1000}, "link_speed_gbps": {"max_value": 1000},
                        "link_latency_ms": {"max_value": 10_000}, "agent_stream_mbps": {"max_value": 1_000_000},
                        "target_storage_mbps": {"max_value": 10_000_000},
                        "migration_duration_days": {"max_value": 10_000}, "target_vms_per_day": {"max_value": 100_000}}


ProjectAnswer = wrapper("ProjectAnswer", project=ProjectSerializer())


class ApprovalGroup(PlainSerializer):
    plain = Plain("cohort_id:int cohort_name group_id:int group_name vm_count:int")
    schedule_id = serializers.IntegerField(help_text="The group's sync schedule (the project's sync timing)")
    schedule = serializers.CharField(help_text="When it syncs, in words")


class ApprovalWave(PlainSerializer):
    plain = Plain("cohort_id:int")
    wave_id = serializers.IntegerField(allow_null=True, help_text="null: no wave, see error")
    plain_tail = Plain("wave_name")
    status = serializers.CharField(allow_null=True, help_text="scheduled (the cohort's dates) or draft (no window)")
    window_start = serializers.DateTimeField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


ApprovalFailure = plain_answer("ApprovalFailure", "vm_name error")


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


ApproveAnswer = wrapper("ApproveAnswer", project=ProjectSerializer(), approval=ApprovalReport())


ProjectListAnswer = wrapper("ProjectListAnswer", projects=ProjectSerializer(many=True))


class StatusAnswer(serializers.Serializer):
    status = serializers.CharField()
    affected_count = serializers.IntegerField(required=False)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The RVTools export (.xlsx)")


class ImportDiscoveredSerializer(serializers.Serializer):
    vm_names = serializers.ListField(child=serializers.CharField(max_length=255), max_length=MAX_IDS, required=False,
                                     help_text="Only these discovered VMs (default: all of them)")


class UploadStats(PlainSerializer):
    # The sheet names are the keys, as the seed shows.
    plain = Plain("vInfo:int vDisk:int vNIC:int vHost:int vCluster:int vSnapshot:int")


UploadAnswer = wrapper("UploadAnswer", stats=UploadStats())


# --- inventory ---------------------------------------------------------------------------------------------------


class VMSerializer(ReadOnlyModelSerializer):
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


class VMPageAnswer(PlainSerializer):
    vms = VMSerializer(many=True)
    plain = Plain("total:int page:int limit:int")


DiskSerializer = plain_answer("DiskSerializer", "disk_label disk_path capacity_gb:float thin_provisioned:bool? "
                                                "eagerly_scrub:bool? datastore disk_mode is_rdm:bool")
NICSerializer = plain_answer("NICSerializer", "nic_label adapter_type network_name connected:bool? mac_address ip_address")


class VMDetailAnswer(PlainSerializer):
    plain = Plain("vm_name")
    disks = DiskSerializer(many=True)
    nics = NICSerializer(many=True)


class HostSerializer(ReadOnlyModelSerializer):
    class Meta:
        model = SourceHost
        fields = ["id", "host_name", "datacenter", "cluster", "cpu_model", "num_cpu_cores", "memory_gb",
                  "esx_version", "num_vms"]


HostListAnswer = wrapper("HostListAnswer", hosts=HostSerializer(many=True))


class ClusterSerializer(ReadOnlyModelSerializer):
    class Meta:
        model = SourceCluster
        fields = ["id", "cluster_name", "datacenter", "num_hosts", "num_cpu_cores", "total_memory_gb", "ha_enabled",
                  "drs_enabled"]


ClusterListAnswer = wrapper("ClusterListAnswer", clusters=ClusterSerializer(many=True))


def counts(name: str, choices) -> type[PlainSerializer]:
    """An answer counting the VMs of each of ``choices``' values (a key a value)."""
    return plain_answer(name, " ".join(f"{value}:int" for value in choices.values))


RiskCounts = counts("RiskDistribution", RiskLevel)
ModeCounts = counts("ModeDistribution", MigrationMode)
OsCounts = counts("OsDistribution", OsFamily)
StatusCounts = counts("StatusDistribution", VMStatus)


class StatsAnswer(PlainSerializer):
    plain = Plain("total_vms:int powered_on_vms:int assessed_vms:int total_vcpu:int total_ram_gb:float total_disk_gb:float "
                  "total_in_use_gb:float total_hosts:int total_clusters:int total_tenants:int")
    risk_distribution = RiskCounts()
    mode_distribution = ModeCounts()
    os_distribution = OsCounts()
    status_distribution = StatusCounts()


# --- assessment, bandwidth, sizing -------------------------------------------------------------------------------


class RiskConfigSerializer(serializers.Serializer):
    weights = serializers.DictField(child=serializers.FloatField())
    thresholds = serializers.DictField(child=serializers.FloatField())
    unsupported_os_patterns = serializers.ListField(child=serializers.CharField())


RiskConfigAnswer = wrapper("RiskConfigAnswer", risk_config=RiskConfigSerializer())


class RiskConfigUpdateSerializer(serializers.Serializer):
    """Any part of the rule set; the rest stays. Checked against the known settings by the service."""

    weights = serializers.DictField(child=FiniteFloatField(min_value=0, max_value=10**7), required=False)
    thresholds = serializers.DictField(child=FiniteFloatField(min_value=0, max_value=10**7), required=False)
    unsupported_os_patterns = serializers.ListField(child=serializers.CharField(max_length=100), max_length=200,
                                                    required=False)


class AssessAnswer(PlainSerializer):
    plain = Plain("status project_status vm_count:int tenant_count:int")
    risk_distribution = RiskCounts()
    mode_distribution = ModeCounts()


ResetPlanAnswer = plain_answer("ResetPlanAnswer", "status cohorts_deleted:int")


class BandwidthSerializer(PlainSerializer):
    plain = Plain("source_effective_mbps:float")
    link_effective_mbps = serializers.FloatField(allow_null=True, help_text="null for a local topology")
    plain_middle = Plain("agent_effective_mbps:float storage_effective_mbps:float")
    bottleneck = serializers.ChoiceField(choices=["source", "link", "agent", "pcd_storage"])
    plain_tail = Plain("bottleneck_mbps:float latency_penalty:float")
    source = serializers.ChoiceField(choices=["model", "measured"], help_text="measured: the agent stream speed comes "
                                     "from the platform's own completed syncs; model: the project's agent_stream_mbps")
    measured_jobs = serializers.IntegerField(help_text="Completed syncs measured (0: none yet)")
    measured_stream_mbps = serializers.FloatField(allow_null=True, help_text="Median speed of one VM's sync")
    change_rate_pct = serializers.FloatField(help_text="The change rate the estimates use")
    change_rate_source = serializers.ChoiceField(choices=["model", "measured"],
                                                 help_text="measured: the median share of a VM's disks our "
                                                           "incremental syncs carried; model: the project's")


BandwidthAnswer = wrapper("BandwidthAnswer", bandwidth=BandwidthSerializer())


class RecommendationSerializer(PlainSerializer):
    plain = Plain("recommended_agent_count:int vcpu_per_agent:int ram_gb_per_agent:int disk_gb_per_agent:int "
                  "max_concurrent_vms:int")
    reasoning = serializers.ListField(child=serializers.CharField())


RecommendationAnswer = wrapper("RecommendationAnswer", recommendation=RecommendationSerializer())


class VMStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=VMStatus.choices)
    status_note = serializers.CharField(max_length=1024, allow_blank=True, allow_null=True, default=None)


class VMBulkStatusSerializer(VMStatusSerializer):
    vm_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), min_length=1,
                                   max_length=MAX_IDS)


VMAnswer = wrapper("VMAnswer", vm=VMSerializer())


class ModeOverrideSerializer(serializers.Serializer):
    override = serializers.ChoiceField(choices=ModeOverride.choices, allow_null=True,
                                       help_text="warm, cold, or null for the engine's classification")


# --- the exported plan ------------------------------------------------------------------------------------------


class ProjectSummarySerializer(PlainSerializer):
    plain = Plain("project_name total_vms:int warm_count:int cold_count:int total_disk_tb:float bottleneck_mbps:float")
    bandwidth_source = serializers.ChoiceField(choices=["model", "measured"])
    change_rate_pct = serializers.FloatField(help_text="The change rate the estimates used")
    plain_tail = Plain("estimated_total_hours:float estimated_days:int")


class PlanVMSerializer(PlainSerializer):
    plain = Plain("vm_id:int vm_name total_disk_gb:float in_use_gb:float")
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
    plain_tail = Plain("warm_phase1_hours:float warm_cutover_hours:float warm_downtime_hours:float cold_total_hours:float "
                       "cold_downtime_hours:float")


class TenantPlanSerializer(PlainSerializer):
    plain = Plain("tenant_name cohort_name? vm_count:int warm_count:int cold_count:int total_disk_gb:float phase1_hours:float "
                  "cutover_hours:float total_hours:float")
    risk_distribution = RiskCounts()
    vms = PlanVMSerializer(many=True)


class DaySerializer(PlainSerializer):
    plain = Plain("day:int")
    vms = serializers.ListField(child=serializers.CharField())


class PlanAnswer(serializers.Serializer):
    project_summary = ProjectSummarySerializer()
    tenant_plans = TenantPlanSerializer(many=True)
    daily_schedule = DaySerializer(many=True)


class ExportQuerySerializer(serializers.Serializer):
    download = serializers.ChoiceField(choices=["json", "csv", "xlsx"], default="json",
                                       help_text="json (default), csv or xlsx (a file to hand on)")
