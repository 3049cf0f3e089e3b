"""Requests and answers of the planning half of /api/migration: tenants, dependencies, network mappings, cohorts
(seed 004 "Migration Planner Phase 2.10 Endpoints")."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

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
from .serializers import MAX_IDS, FiniteModelSerializer, ReadOnlyModelSerializer, StatusCounts, wrapper

# --- tenants -----------------------------------------------------------------------------------------------------


class TenantSerializer(ReadOnlyModelSerializer):
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

    def get_total_ram_gb(self, tenant) -> float:
        return round(tenant.total_ram_mb / 1024, 2)


TenantListAnswer = wrapper("TenantListAnswer", tenants=TenantSerializer(many=True))


class TenantRuleSerializer(serializers.Serializer):
    tenant_name = serializers.CharField(max_length=255)
    detection_method = serializers.ChoiceField(choices=DetectionMethod.choices)
    pattern_value = serializers.CharField(max_length=512)


class TenantRuleAnswer(PlainSerializer):
    rule = TenantRuleSerializer()
    plain = Plain("rule_id:int tenant_count:int")


DetectAnswer = plain_answer("DetectAnswer", "status tenant_count:int")


class TenantUpdateSerializer(FiniteModelSerializer):
    class Meta:
        model = Tenant
        fields = [*TENANT_TARGET_FIELDS, "target_confirmed", "migration_priority", "quota_vcpu", "quota_ram_gb",
                  "quota_disk_gb"]
        extra_kwargs = {"quota_ram_gb": {"min_value": 0, "max_value": 10**9},
                        "quota_disk_gb": {"min_value": 0, "max_value": 10**12},
                        "quota_vcpu": {"max_value": 10**7}, "migration_priority": {"max_value": 10**6}}


TenantAnswer = wrapper("TenantAnswer", tenant=TenantSerializer())


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
    row = plain_answer(f"{kind}PreviewRow", " ".join(["id:int", *row_names, "old_value new_value"]))
    return type(PlainSerializer)(f"{kind}BulkReplaceAnswer", (PlainSerializer,), {
        "__module__": __name__, "plain": Plain("status"), "preview": row(many=True),
        "plain_tail": Plain("affected_count:int")})


TenantBulkReplaceAnswer = bulk_replace_answer("Tenant", "tenant_name", "org_vdc")


class CheckSerializer(serializers.Serializer):
    check_name = serializers.CharField()
    check_status = serializers.ChoiceField(choices=CheckStatus.choices)
    notes = serializers.CharField(required=False)


class ReadinessAnswer(PlainSerializer):
    plain = Plain("tenant_id:int tenant_name")
    overall = serializers.ChoiceField(choices=CheckStatus.choices)
    score = serializers.IntegerField(min_value=0, max_value=5)
    checks = CheckSerializer(many=True)


# --- dependencies ------------------------------------------------------------------------------------------------


class DependencySerializer(ReadOnlyModelSerializer):
    vm_name = serializers.CharField()
    depends_on_vm_name = serializers.CharField()

    class Meta:
        model = VMDependency
        fields = ["id", "vm_id", "vm_name", "depends_on_vm_id", "depends_on_vm_name", "dependency_type", "notes",
                  "created_at"]


DependencyListAnswer = wrapper("DependencyListAnswer", dependencies=DependencySerializer(many=True))


class DependencyCreateSerializer(serializers.Serializer):
    depends_on_vm_id = serializers.IntegerField(min_value=1, max_value=2**62)
    dependency_type = serializers.ChoiceField(choices=DependencyType.choices,
                                              default=DependencyType.MUST_COMPLETE_BEFORE)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)


DependencyAnswer = wrapper("DependencyAnswer", dependency=DependencySerializer())


class DependencyQuerySerializer(serializers.Serializer):
    vm_id = serializers.IntegerField(min_value=1, max_value=2**62, required=False)


# --- network mappings --------------------------------------------------------------------------------------------


class NetworkMappingSerializer(ReadOnlyModelSerializer):
    vm_count = serializers.IntegerField(required=False, default=0)

    class Meta:
        model = NetworkMapping
        fields = ["id", "source_network_name", "target_network_name", "target_network_id", "vlan_id", "vm_count",
                  "confirmed", "notes"]


class NetworkMappingListAnswer(PlainSerializer):
    mappings = NetworkMappingSerializer(many=True)
    plain = Plain("unconfirmed_count:int")


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


NetworkMappingAnswer = wrapper("NetworkMappingAnswer", mapping=NetworkMappingSerializer())


NetworkBulkReplaceAnswer = bulk_replace_answer("Network", "source_network_name")


# --- cohorts -----------------------------------------------------------------------------------------------------


class CohortSerializer(ReadOnlyModelSerializer):
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

    def get_total_ram_gb(self, cohort) -> float | None:
        ram = getattr(cohort, "total_ram_mb", None)
        return None if ram is None else round(ram / 1024, 2)


class CohortListAnswer(PlainSerializer):
    cohorts = CohortSerializer(many=True)
    plain = Plain("unassigned_tenant_count:int")


class CohortWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    cohort_order = serializers.IntegerField(min_value=0, max_value=10**6, required=False)
    owner_name = serializers.CharField(max_length=255, allow_blank=True, allow_null=True, required=False)
    scheduled_start = serializers.DateField(allow_null=True, required=False)
    scheduled_end = serializers.DateField(allow_null=True, required=False)
    depends_on_cohort_id = serializers.IntegerField(min_value=1, max_value=2**62, allow_null=True, required=False)
    status = serializers.ChoiceField(choices=CohortStatus.choices, required=False)
    notes = serializers.CharField(max_length=4000, allow_blank=True, allow_null=True, required=False)


CohortAnswer = wrapper("CohortAnswer", cohort=CohortSerializer())


class AssignTenantsSerializer(serializers.Serializer):
    tenant_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62),
                                       max_length=MAX_IDS)
    replace = serializers.BooleanField(default=False)


AssignTenantsAnswer = plain_answer("AssignTenantsAnswer", "status cohort_id:int? affected_count:int")


class CohortSummaryAnswer(PlainSerializer):
    plain = Plain("cohort_id:int name tenant_count:int vm_count:int total_vcpu:int total_ram_gb:float total_disk_gb:float "
                  "estimated_hours:float")
    status_breakdown = StatusCounts()


class AutoAssignQuerySerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=AutoAssignStrategy.choices, default=AutoAssignStrategy.PRIORITY)


Assignment = plain_answer("Assignment", "tenant_id:int tenant_name cohort_id:int cohort_name")


class AutoAssignAnswer(PlainSerializer):
    plain = Plain("status")
    strategy = serializers.ChoiceField(choices=AutoAssignStrategy.choices)
    plain_tail = Plain("assigned_count:int")
    assignments = Assignment(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class CohortReadinessAnswer(PlainSerializer):
    plain = Plain("cohort_id:int cohort_name")
    overall = serializers.ChoiceField(choices=CohortReadiness.choices)
    plain_tail = Plain("tenant_count:int pass_count:int")
    tenants = ReadinessAnswer(many=True)
