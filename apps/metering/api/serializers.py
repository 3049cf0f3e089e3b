"""Seed 004's metering shapes."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

from ..choices import Classification, PricingCategory
from ..models import ApiUsageSample, EfficiencySample, MeteringSettings, Pricing, ResourceSample, RestoreSample, SnapshotSample


class ConfigSerializer(serializers.ModelSerializer):
    collection_interval_min = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    retention_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    cost_per_vcpu_hour = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    cost_per_gb_ram_hour = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    cost_per_gb_storage_month = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    cost_per_snapshot_gb_month = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    cost_per_api_call = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    cost_currency = serializers.RegexField(r"^[A-Z]{3}\Z", required=False,
                                           error_messages={"invalid": "A three-letter currency code (USD, EUR)"})

    class Meta:
        model = MeteringSettings
        fields = ["enabled", "collection_interval_min", "retention_days", "cost_per_vcpu_hour",
                  "cost_per_gb_ram_hour", "cost_per_gb_storage_month", "cost_per_snapshot_gb_month",
                  "cost_per_api_call", "cost_currency", "updated_at"]
        read_only_fields = ["updated_at"]


SAMPLE = ["id", "collected_at"]


class ResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourceSample
        fields = [*SAMPLE, "vm_id", "vm_name", "project_name", "domain", "host", "flavor", "vcpus_allocated",
                  "ram_allocated_mb", "disk_allocated_gb", "cpu_usage_percent", "ram_usage_mb", "ram_usage_percent",
                  "disk_used_gb", "disk_usage_percent", "network_rx_bytes", "network_tx_bytes", "status",
                  "power_state"]


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = SnapshotSample
        fields = [*SAMPLE, "snapshot_id", "snapshot_name", "volume_id", "project_name", "domain", "size_gb",
                  "status", "policy", "is_compliant", "created_at"]


class RestoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = RestoreSample
        fields = [*SAMPLE, "restore_job_id", "vm_id", "vm_name", "project_name", "domain", "snapshot_id", "mode",
                  "status", "duration_seconds", "initiated_by", "data_transferred_gb"]


class ApiUsageSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiUsageSample
        fields = [*SAMPLE, "endpoint", "method", "total_calls", "error_count", "avg_latency_ms", "p95_latency_ms",
                  "p99_latency_ms"]


class EfficiencySerializer(serializers.ModelSerializer):
    class Meta:
        model = EfficiencySample
        fields = [*SAMPLE, "vm_id", "vm_name", "project_name", "domain", "cpu_score", "ram_score", "disk_score",
                  "overall_score", "classification", "recommendation"]


class PricingSerializer(serializers.ModelSerializer):
    category = serializers.ChoiceField(choices=PricingCategory.choices)
    item_name = serializers.CharField(max_length=255)
    cost_per_hour = serializers.FloatField(min_value=0, max_value=1e9, required=False)
    cost_per_month = serializers.FloatField(min_value=0, max_value=1e9, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}\Z", required=False,
                                      error_messages={"invalid": "A three-letter currency code (USD, EUR)"})
    notes = serializers.CharField(max_length=1000, allow_null=True, allow_blank=True, required=False)
    vcpus = serializers.IntegerField(min_value=0, max_value=100000, allow_null=True, required=False)
    ram_gb = serializers.FloatField(min_value=0, max_value=1e7, allow_null=True, required=False)
    disk_gb = serializers.FloatField(min_value=0, max_value=1e9, allow_null=True, required=False)

    class Meta:
        model = Pricing
        fields = ["id", "category", "item_name", "unit", "cost_per_hour", "cost_per_month", "currency", "notes",
                  "vcpus", "ram_gb", "disk_gb", "auto_populated", "created_at", "updated_at"]
        read_only_fields = ["id", "auto_populated", "created_at", "updated_at"]
        validators = []  # the (category, item_name) clash is a 409 from the view, not a 400


SyncSerializer = plain_answer("SyncSerializer", "detail inserted:int")

# The overview's sections.
_Resources = plain_answer("_Resources", "total_vcpus:int total_ram_mb:int total_disk_gb:int avg_cpu_usage:float "
                                        "avg_ram_usage:float avg_disk_usage:float")
_Snapshots = plain_answer("_Snapshots", "total_snapshots:int total_snapshot_gb:float compliant_count:int "
                                        "non_compliant_count:int")
_Restores = plain_answer("_Restores", "total_restores:int successful:int failed:int avg_duration_sec:float")
_Api = plain_answer("_Api", "total_api_calls:int total_api_errors:int avg_api_latency_ms:float")
_Efficiency = plain_answer("_Efficiency", "avg_efficiency:float excellent_count:int good_count:int fair_count:int "
                                          "poor_count:int idle_count:int")


class OverviewSerializer(PlainSerializer):
    plain = Plain("total_vms_metered:int")
    resources = _Resources()
    snapshots = _Snapshots()
    restores = _Restores()
    api_usage = _Api()
    efficiency = _Efficiency()


_Tenant = plain_answer("_Tenant", "project domain")
_Flavor = plain_answer("_Flavor", "name vcpus:int? ram_mb:int? disk_gb:int")


class FiltersSerializer(PlainSerializer):
    plain = Plain("projects:texts domains:texts")
    all_tenants = _Tenant(many=True)
    flavors = _Flavor(many=True)


CLASSIFICATIONS = Classification.values
