"""What the metering endpoints compute from the samples: the overview, and the chargeback per tenant.

Chargeback: each sample stands for its `period_min` of use. A running VM costs its flavor's price per hour where a
`flavor` pricing entry has one (cost_per_hour > 0), else vCPUs x cost_per_vcpu_hour + RAM GB x cost_per_gb_ram_hour
from the configuration. Storage (every volume, attached or not) and snapshots cost GB-months (730 hours a month) at
the first `storage_gb` / `snapshot_gb` entry's cost_per_month, else the configuration's rate. A `volume` entry's
cost_per_month is charged per volume-month, a `restore` entry's cost_per_hour per hour a restore ran, a `network`
entry's cost_per_month per GB the tenant's VMs moved in the window. API calls are not a tenant's (the web's request
counters are per endpoint, not per tenant), so they are in the overview, not the chargeback.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from .choices import Classification, PricingCategory
from .models import (
    ApiUsageSample,
    EfficiencySample,
    MeteringSettings,
    Pricing,
    ResourceSample,
    RestoreSample,
    SnapshotSample,
    StorageSample,
)

HOURS_PER_MONTH = 730
GiB = 1024**3
CHARGEBACK_COLUMNS = (
    "project_name", "domain", "vm_hours", "vcpu_hours", "ram_gb_hours", "storage_gb_months", "snapshot_gb_months",
    "volume_months", "restore_hours", "network_gb", "compute_cost", "flavor_cost", "storage_cost", "snapshot_cost",
    "volume_cost", "restore_cost", "network_cost", "total_cost", "currency")


def scoped(model, *, project: str | None = None, domain: str | None = None, hours: int | None = None, now=None):
    rows = model.objects.all()
    if project:
        rows = rows.filter(project_name=project)
    if domain:
        rows = rows.filter(domain=domain)
    if hours is not None:
        rows = rows.filter(collected_at__gte=(now or timezone.now()) - timedelta(hours=hours))
    return rows


def latest(rows):
    """The newest sampling round among `rows`."""
    newest = rows.order_by("-collected_at").values_list("collected_at", flat=True).first()
    return rows.filter(collected_at=newest) if newest else rows.none()


def overview(*, project: str | None = None, domain: str | None = None) -> dict:
    """The newest round of resources, snapshots and efficiency; every retained restore and API sample."""
    resources = latest(scoped(ResourceSample, project=project, domain=domain))
    figures = resources.aggregate(vms=Count("vm_id", distinct=True), vcpus=Sum("vcpus_allocated"),
                                  ram=Sum("ram_allocated_mb"), disk=Sum("disk_allocated_gb"),
                                  cpu=Avg("cpu_usage_percent"), ramp=Avg("ram_usage_percent"),
                                  diskp=Avg("disk_usage_percent"))
    snaps = latest(scoped(SnapshotSample, project=project, domain=domain)).aggregate(
        total=Count("id"), gb=Sum("size_gb"), ok=Count("id", filter=Q(is_compliant=True)))
    restores = scoped(RestoreSample, project=project, domain=domain).aggregate(
        total=Count("id"), ok=Count("id", filter=Q(status="completed")), failed=Count("id", filter=Q(status="failed")),
        duration=Avg("duration_seconds"))
    api = ApiUsageSample.objects.aggregate(calls=Sum("total_calls"), errors=Sum("error_count"))
    latency = sum(r.avg_latency_ms * r.total_calls for r in ApiUsageSample.objects.filter(total_calls__gt=0))
    scores = latest(scoped(EfficiencySample, project=project, domain=domain))
    by_class = dict(scores.values_list("classification").annotate(n=Count("id")))
    return {
        "total_vms_metered": figures["vms"] or 0,
        "resources": {"total_vcpus": figures["vcpus"] or 0, "total_ram_mb": figures["ram"] or 0,
                      "total_disk_gb": figures["disk"] or 0, "avg_cpu_usage": round(figures["cpu"] or 0, 1),
                      "avg_ram_usage": round(figures["ramp"] or 0, 1), "avg_disk_usage": round(figures["diskp"] or 0, 1)},
        "snapshots": {"total_snapshots": snaps["total"], "total_snapshot_gb": snaps["gb"] or 0,
                      "compliant_count": snaps["ok"], "non_compliant_count": snaps["total"] - snaps["ok"]},
        "restores": {"total_restores": restores["total"], "successful": restores["ok"], "failed": restores["failed"],
                     "avg_duration_sec": round(restores["duration"] or 0, 1)},
        "api_usage": {"total_api_calls": api["calls"] or 0, "total_api_errors": api["errors"] or 0,
                      "avg_api_latency_ms": round(latency / api["calls"], 1) if api["calls"] else 0.0},
        "efficiency": {"avg_efficiency": round(scores.aggregate(a=Avg("overall_score"))["a"] or 0, 1),
                       **{f"{c}_count": by_class.get(c, 0) for c in Classification.values}},
    }


def _rate(category: str, field: str, fallback: float = 0.0) -> float:
    entry = Pricing.objects.filter(category=category).order_by("id").first()
    return getattr(entry, field) if entry else fallback


def chargeback(*, project: str | None = None, domain: str | None = None, hours: int = 24, now=None) -> list[dict]:
    config = MeteringSettings.load()
    flavors = dict(Pricing.objects.filter(category=PricingCategory.FLAVOR, cost_per_hour__gt=0)
                   .values_list("item_name", "cost_per_hour"))
    rates = {"storage": _rate(PricingCategory.STORAGE_GB, "cost_per_month", config.cost_per_gb_storage_month),
             "snapshot": _rate(PricingCategory.SNAPSHOT_GB, "cost_per_month", config.cost_per_snapshot_gb_month),
             "volume": _rate(PricingCategory.VOLUME, "cost_per_month"),
             "restore": _rate(PricingCategory.RESTORE, "cost_per_hour"),
             "network": _rate(PricingCategory.NETWORK, "cost_per_month")}
    tenants: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    scope = {"project": project, "domain": domain, "hours": hours, "now": now}
    traffic: dict[tuple, list[int]] = {}
    for r in scoped(ResourceSample, **scope).order_by("collected_at", "id"):
        t, h = tenants[(r.project_name, r.domain)], r.period_min / 60
        moved = r.network_rx_bytes + r.network_tx_bytes
        seen = traffic.setdefault((r.project_name, r.domain, r.vm_id), [moved, moved])
        seen[1] = moved  # CloudStack's counters are totals since the VM started: the window's traffic is last - first
        if r.power_state != "running":
            continue
        t["vm_hours"] += h
        t["vcpu_hours"] += r.vcpus_allocated * h
        t["ram_gb_hours"] += r.ram_allocated_mb / 1024 * h
        if r.flavor in flavors:
            t["flavor_cost"] += flavors[r.flavor] * h
        else:
            t["compute_cost"] += (r.vcpus_allocated * config.cost_per_vcpu_hour
                                  + r.ram_allocated_mb / 1024 * config.cost_per_gb_ram_hour) * h
    for (p, d, _vm), (first, last) in traffic.items():
        tenants[(p, d)]["network_gb"] += max(last - first, 0) / GiB
    for s in scoped(StorageSample, **scope):
        months = s.period_min / 60 / HOURS_PER_MONTH
        tenants[(s.project_name, s.domain)]["storage_gb_months"] += s.size_gb * months
        tenants[(s.project_name, s.domain)]["volume_months"] += months
    for s in scoped(SnapshotSample, **scope):
        tenants[(s.project_name, s.domain)]["snapshot_gb_months"] += s.size_gb * s.period_min / 60 / HOURS_PER_MONTH
    for s in scoped(RestoreSample, **scope):
        tenants[(s.project_name, s.domain)]["restore_hours"] += (s.duration_seconds or 0) / 3600
    rows = []
    for (p, d), t in sorted(tenants.items()):
        t["storage_cost"] = t["storage_gb_months"] * rates["storage"]
        t["snapshot_cost"] = t["snapshot_gb_months"] * rates["snapshot"]
        t["volume_cost"] = t["volume_months"] * rates["volume"]
        t["restore_cost"] = t["restore_hours"] * rates["restore"]
        t["network_cost"] = t["network_gb"] * rates["network"]
        t["total_cost"] = sum(t[f"{k}_cost"] for k in ("compute", "flavor", "storage", "snapshot", "volume",
                                                       "restore", "network"))
        rows.append({"project_name": p, "domain": d, **{k: round(t[k], 6) for k in CHARGEBACK_COLUMNS[2:-1]},
                     "currency": config.cost_currency})
    return rows
