"""Metering's configuration, its samples (one row per resource per sampling round, all of a round sharing
`collected_at`) and the pricing rules the chargeback applies.

A sample keeps `period_min`, the sampling interval when it was taken: the hours it stands for in the chargeback.
"""
from __future__ import annotations

from django.db import models

from .choices import Classification, PricingCategory


class MeteringSettings(models.Model):
    """The one configuration row (pk 1): the seed's /api/metering/config, and what the sampler last saw."""

    enabled = models.BooleanField(default=True)
    collection_interval_min = models.PositiveIntegerField(default=15)
    retention_days = models.PositiveIntegerField(default=90)
    cost_per_vcpu_hour = models.FloatField(default=0.05)
    cost_per_gb_ram_hour = models.FloatField(default=0.01)
    cost_per_gb_storage_month = models.FloatField(default=0.10)
    cost_per_snapshot_gb_month = models.FloatField(default=0.05)
    cost_per_api_call = models.FloatField(default=0.0001)
    cost_currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)
    last_sampled_at = models.DateTimeField(null=True, blank=True)
    api_counters = models.JSONField(default=dict, blank=True, help_text="The request counters at the last sample")

    def __str__(self) -> str:
        return "metering configuration"

    @classmethod
    def load(cls) -> MeteringSettings:
        return cls.objects.get_or_create(pk=1)[0]


class Sample(models.Model):
    collected_at = models.DateTimeField(db_index=True)
    period_min = models.PositiveIntegerField(default=15)

    class Meta:
        abstract = True
        ordering = ["-collected_at", "id"]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.collected_at:%Y-%m-%d %H:%M}"


class TenantSample(Sample):
    project_name = models.CharField(max_length=255, blank=True, db_index=True)
    domain = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta(Sample.Meta):
        abstract = True


class VMSample(TenantSample):
    """A sample of one VM, by CloudStack's id (its name as it was then)."""

    vm_id = models.CharField(max_length=64, db_index=True)
    vm_name = models.CharField(max_length=255, blank=True)

    class Meta(TenantSample.Meta):
        abstract = True


class ResourceSample(VMSample):
    host = models.CharField(max_length=255, blank=True)
    flavor = models.CharField(max_length=255, blank=True)
    vcpus_allocated = models.IntegerField(default=0)
    ram_allocated_mb = models.IntegerField(default=0)
    disk_allocated_gb = models.IntegerField(default=0)
    cpu_usage_percent = models.FloatField(default=0)
    ram_usage_mb = models.FloatField(default=0)
    ram_usage_percent = models.FloatField(default=0)
    disk_used_gb = models.FloatField(default=0)
    disk_usage_percent = models.FloatField(default=0)
    network_rx_bytes = models.BigIntegerField(default=0)
    network_tx_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=32, blank=True)
    power_state = models.CharField(max_length=32, blank=True)


class StorageSample(TenantSample):
    """A volume's allocation (attached or not): the chargeback's storage."""

    volume_id = models.CharField(max_length=64, db_index=True)
    volume_name = models.CharField(max_length=255, blank=True)
    size_gb = models.IntegerField(default=0)


class SnapshotSample(TenantSample):
    snapshot_id = models.CharField(max_length=64, db_index=True)
    snapshot_name = models.CharField(max_length=255, blank=True)
    volume_id = models.CharField(max_length=64, blank=True)
    size_gb = models.FloatField(default=0)
    status = models.CharField(max_length=32, blank=True)
    policy = models.CharField(max_length=100, null=True, blank=True)
    is_compliant = models.BooleanField(default=False)
    created_at = models.DateTimeField(null=True, blank=True)


class RestoreSample(TenantSample):
    """A finished restore job, sampled once (its restore_job_id is unique)."""

    restore_job_id = models.CharField(max_length=36, unique=True)
    vm_id = models.CharField(max_length=64, blank=True)
    vm_name = models.CharField(max_length=255, blank=True)
    snapshot_id = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, blank=True)
    duration_seconds = models.IntegerField(null=True)
    initiated_by = models.CharField(max_length=150, blank=True)
    data_transferred_gb = models.FloatField(default=0)


class ApiUsageSample(Sample):
    endpoint = models.CharField(max_length=255, db_index=True)
    method = models.CharField(max_length=8)
    total_calls = models.BigIntegerField(default=0)
    error_count = models.BigIntegerField(default=0)
    avg_latency_ms = models.FloatField(default=0)
    p95_latency_ms = models.FloatField(null=True)
    p99_latency_ms = models.FloatField(null=True)


class EfficiencySample(VMSample):
    cpu_score = models.FloatField(default=0)
    ram_score = models.FloatField(default=0)
    disk_score = models.FloatField(default=0)
    overall_score = models.FloatField(default=0)
    classification = models.CharField(max_length=16, choices=Classification.choices, db_index=True)
    recommendation = models.CharField(max_length=255, blank=True)


class Pricing(models.Model):
    category = models.CharField(max_length=16, choices=PricingCategory.choices)
    item_name = models.CharField(max_length=255)
    unit = models.CharField(max_length=64, blank=True)
    cost_per_hour = models.FloatField(default=0)
    cost_per_month = models.FloatField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    notes = models.CharField(max_length=1000, null=True, blank=True)
    vcpus = models.IntegerField(null=True, blank=True)
    ram_gb = models.FloatField(null=True, blank=True)
    disk_gb = models.FloatField(null=True, blank=True)
    auto_populated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "item_name", "id"]
        constraints = [models.UniqueConstraint(fields=["category", "item_name"], name="metering_pricing_unique")]

    def __str__(self) -> str:
        return f"{self.category}: {self.item_name}"
