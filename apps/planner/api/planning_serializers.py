"""Requests and answers of the planning half of /api/migration: tenants, dependencies, network mappings, cohorts
(seed 004 "Migration Planner Phase 2.10 Endpoints")."""
from __future__ import annotations

from rest_framework import serializers

from ..choices import (
    TENANT_TARGET_FIELDS,
    AutoAssignStrategy,
    CheckStatus,
    CohortReadiness,
    CohortStatus,
    DependencyType,
    DetectionMethod,
)
from ..models import Cohort, NetworkMapping, Tenant, VMDependency
from .serializers import MAX_IDS, FiniteModelSerializer, StatusCounts

# --- tenants -----------------------------------------------------------------------------------------------------


class TenantSerializer(serializers.ModelSerializer):
    cohort_id = serializers.IntegerField(allow_null=True)
    cohort_name = serializers.CharField(source="cohort.name", allow_null=True, default=None)
    vm_count = serializers.IntegerField()
    total_vcpu = serializers.IntegerField()
    total_ram_gb = serializers.SerializerMethodField()
    total_disk_gb = serializers.FloatField()

    class Meta:
        model = Tenant
        fields = ["id", "tenant_name", "org_vdc", "detection_method", "cohort_id", "cohort_name",
                  "migration_priority", *TENANT_TARGET_FIELDS, "target_confirmed", "quota_vcpu", "quota_ram_gb",
                  "quota_disk_gb", "vm_count", "total_vcpu", "total_ram_gb", "total_disk_gb"]
        read_only_fields = fields

    def get_total_ram_gb(self, tenant) -> float:
        return round(tenant.total_ram_mb / 1024, 2)


class TenantListAnswer(serializers.Serializer):
    tenants = TenantSerializer(many=True)


class TenantRuleSerializer(serializers.Serializer):
    tenant_name = serializers.CharField(max_length=255)
    detection_method = serializers.ChoiceField(choices=DetectionMethod.choices)
    pattern_value = serializers.CharField(max_length=512)


class TenantRuleAnswer(serializers.Serializer):
    rule = TenantRuleSerializer()
    rule_id = serializers.IntegerField()
    tenant_count = serializers.IntegerField()


class DetectAnswer(serializers.Serializer):
    status = serializers.CharField()
    tenant_count = serializers.IntegerField()


class TenantUpdateSerializer(FiniteModelSerializer):
    class Meta:
        model = Tenant
        fields = [*TENANT_TARGET_FIELDS, "target_confirmed", "migration_priority", "quota_vcpu", "quota_ram_gb",
                  "quota_disk_gb"]
        extra_kwargs = {"quota_ram_gb": {"min_value": 0, "max_value": 10**9},
                        "quota_disk_gb": {"min_value": 0, "max_value": 10**12},
                        "quota_vcpu": {"max_value": 10**7}, "migration_priority": {"max_value": 10**6}}


class TenantAnswer(serializers.Serializer):
    tenant = TenantSerializer()


class BulkReplaceSerializer(serializers.Serializer):
    find = serializers.CharField(max_length=255, trim_whitespace=False)
    replace = serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False)
    case_sensitive = serializers.BooleanField(default=False)
    unconfirmed_only = serializers.BooleanField(default=False)
    preview_only = serializers.BooleanField(default=False)


class TenantBulkReplaceSerializer(BulkReplaceSerializer):
    field = serializers.ChoiceField(choices=TENANT_TARGET_FIELDS)


def bulk_replace_answer(kind: str, *row_names: str) -> type[serializers.Serializer]:
    """The answer of a find-and-replace over ``kind`` rows (``{kind}BulkReplaceAnswer`` in the schema): the status,
    a preview row per changed row (``{kind}PreviewRow``: its id, the text fields that name it, the value before and
    after) and how many rows it changed."""
    row_fields = {"id": serializers.IntegerField()}
    row_fields.update((name, serializers.CharField()) for name in row_names)
    row_fields.update(old_value=serializers.CharField(), new_value=serializers.CharField())
    row = type(f"{kind}PreviewRow", (serializers.Serializer,), {"__module__": __name__, **row_fields})
    return type(f"{kind}BulkReplaceAnswer", (serializers.Serializer,), {
        "__module__": __name__, "status": serializers.CharField(), "preview": row(many=True),
        "affected_count": serializers.IntegerField()})


TenantBulkReplaceAnswer = bulk_replace_answer("Tenant", "tenant_name", "org_vdc")


class CheckSerializer(serializers.Serializer):
    check_name = serializers.CharField()
    check_status = serializers.ChoiceField(choices=CheckStatus.choices)
    notes = serializers.CharField(required=False)


class ReadinessAnswer(serializers.Serializer):
    tenant_id = serializers.IntegerField()
    tenant_name = serializers.CharField()
    overall = serializers.ChoiceField(choices=CheckStatus.choices)
    score = serializers.IntegerField(min_value=0, max_value=5)
    checks = CheckSerializer(many=True)


# --- dependencies ------------------------------------------------------------------------------------------------


class DependencySerializer(serializers.ModelSerializer):
    vm_name = serializers.CharField()
    depends_on_vm_name = serializers.CharField()

    class Meta:
        model = VMDependency
        fields = ["id", "vm_id", "vm_name", "depends_on_vm_id", "depends_on_vm_name", "dependency_type", "notes",
                  "created_at"]
        read_only_fields = fields


class DependencyListAnswer(serializers.Serializer):
    dependencies = DependencySerializer(many=True)


class DependencyCreateSerializer(serializers.Serializer):
    depends_on_vm_id = serializers.IntegerField(min_value=1, max_value=2**62)
    dependency_type = serializers.ChoiceField(choices=DependencyType.choices,
                                              default=DependencyType.MUST_COMPLETE_BEFORE)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class DependencyAnswer(serializers.Serializer):
    dependency = DependencySerializer()


class DependencyQuerySerializer(serializers.Serializer):
    vm_id = serializers.IntegerField(min_value=1, max_value=2**62, required=False)


# --- network mappings --------------------------------------------------------------------------------------------


class NetworkMappingSerializer(serializers.ModelSerializer):
    vm_count = serializers.IntegerField(required=False, default=0)

    class Meta:
        model = NetworkMapping
        fields = ["id", "source_network_name", "target_network_name", "target_network_id", "vlan_id", "vm_count",
                  "confirmed", "notes"]
        read_only_fields = fields


class NetworkMappingListAnswer(serializers.Serializer):
    mappings = NetworkMappingSerializer(many=True)
    unconfirmed_count = serializers.IntegerField()


class NetworkMappingCreateSerializer(serializers.Serializer):
    source_network_name = serializers.CharField(max_length=255)
    target_network_name = serializers.CharField(max_length=255, allow_blank=True)
    target_network_id = serializers.CharField(max_length=64, allow_null=True, allow_blank=True, required=False)
    vlan_id = serializers.IntegerField(min_value=1, max_value=4094, allow_null=True, required=False)
    confirmed = serializers.BooleanField(required=False)
    notes = serializers.CharField(max_length=4000, allow_blank=True, required=False)


class NetworkMappingUpdateSerializer(serializers.Serializer):
    target_network_name = serializers.CharField(max_length=255, allow_blank=True, allow_null=True, required=False)
    target_network_id = serializers.CharField(max_length=64, allow_null=True, allow_blank=True, required=False)
    vlan_id = serializers.IntegerField(min_value=1, max_value=4094, allow_null=True, required=False)
    confirmed = serializers.BooleanField(required=False)
    notes = serializers.CharField(max_length=4000, allow_blank=True, required=False)


class NetworkMappingAnswer(serializers.Serializer):
    mapping = NetworkMappingSerializer()


NetworkBulkReplaceAnswer = bulk_replace_answer("Network", "source_network_name")


# --- cohorts -----------------------------------------------------------------------------------------------------


class CohortSerializer(serializers.ModelSerializer):
    depends_on_cohort_id = serializers.IntegerField(allow_null=True)
    tenant_count = serializers.IntegerField(required=False)
    vm_count = serializers.IntegerField(required=False)
    total_vcpu = serializers.IntegerField(required=False)
    total_ram_gb = serializers.SerializerMethodField()
    total_disk_gb = serializers.FloatField(required=False)

    class Meta:
        model = Cohort
        fields = ["id", "name", "cohort_order", "owner_name", "scheduled_start", "scheduled_end",
                  "depends_on_cohort_id", "status", "notes", "machine_group_id", "wave_id", "tenant_count", "vm_count",
                  "total_vcpu", "total_ram_gb", "total_disk_gb", "created_at"]
        read_only_fields = fields

    def get_total_ram_gb(self, cohort) -> float | None:
        ram = getattr(cohort, "total_ram_mb", None)
        return None if ram is None else round(ram / 1024, 2)


class CohortListAnswer(serializers.Serializer):
    cohorts = CohortSerializer(many=True)
    unassigned_tenant_count = serializers.IntegerField()


class CohortWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    cohort_order = serializers.IntegerField(min_value=0, max_value=10**6, required=False)
    owner_name = serializers.CharField(max_length=255, allow_blank=True, allow_null=True, required=False)
    scheduled_start = serializers.DateField(allow_null=True, required=False)
    scheduled_end = serializers.DateField(allow_null=True, required=False)
    depends_on_cohort_id = serializers.IntegerField(min_value=1, max_value=2**62, allow_null=True, required=False)
    status = serializers.ChoiceField(choices=CohortStatus.choices, required=False)
    notes = serializers.CharField(max_length=4000, allow_blank=True, allow_null=True, required=False)


class CohortAnswer(serializers.Serializer):
    cohort = CohortSerializer()


class AssignTenantsSerializer(serializers.Serializer):
    tenant_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62),
                                       max_length=MAX_IDS)
    replace = serializers.BooleanField(default=False)


class AssignTenantsAnswer(serializers.Serializer):
    status = serializers.CharField()
    cohort_id = serializers.IntegerField(allow_null=True)
    affected_count = serializers.IntegerField()


class CohortSummaryAnswer(serializers.Serializer):
    cohort_id = serializers.IntegerField()
    name = serializers.CharField()
    tenant_count = serializers.IntegerField()
    vm_count = serializers.IntegerField()
    total_vcpu = serializers.IntegerField()
    total_ram_gb = serializers.FloatField()
    total_disk_gb = serializers.FloatField()
    estimated_hours = serializers.FloatField()
    status_breakdown = StatusCounts()


class AutoAssignQuerySerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=AutoAssignStrategy.choices, default=AutoAssignStrategy.PRIORITY)


class Assignment(serializers.Serializer):
    tenant_id = serializers.IntegerField()
    tenant_name = serializers.CharField()
    cohort_id = serializers.IntegerField()
    cohort_name = serializers.CharField()


class AutoAssignAnswer(serializers.Serializer):
    status = serializers.CharField()
    strategy = serializers.ChoiceField(choices=AutoAssignStrategy.choices)
    assigned_count = serializers.IntegerField()
    assignments = Assignment(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class CohortReadinessAnswer(serializers.Serializer):
    cohort_id = serializers.IntegerField()
    cohort_name = serializers.CharField()
    overall = serializers.ChoiceField(choices=CohortReadiness.choices)
    tenant_count = serializers.IntegerField()
    pass_count = serializers.IntegerField()
    tenants = ReadinessAnswer(many=True)
