"""Tenant health (seed 004 "Tenant Health Endpoints"): per tenant (a CloudStack project or account) its resources,
snapshot compliance, drift, and a score.

Health score: 100, less 10 per VM in error, 5 per volume or snapshot in error, a fifth of the compliance shortfall
(100 - compliance %), 10 per unacknowledged critical and 3 per unacknowledged warning drift event of the last 7
days; clamped to 0-100. Healthy from 80, warning from 50, critical below. Quota: CloudStack's resource limits
(listResourceLimits, read live) against what the tenant holds in the collected tables.
"""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.settings import cloudstack as cs
from apps.settings import selectors as settings_selectors
from apps.settings.volumes import client_for

from . import dashboards, models

VOLUME_ERRORS = ("Error", "Destroy", "Expunged")
SNAPSHOT_ERRORS = ("Error",)


def status_of(score: int) -> str:
    return "healthy" if score >= 80 else "warning" if score >= 50 else "critical"


def score(*, error_vms: int, error_volumes: int, error_snapshots: int, compliance: float, critical: int,
          warning: int) -> int:
    value = 100 - 10 * error_vms - 5 * (error_volumes + error_snapshots) - (100 - compliance) * 0.2
    value -= 10 * critical + 3 * warning
    return int(max(0, min(100, round(value))))


def _grouped(queryset, **aggregates) -> dict[str, dict]:
    return {row["tenant_id"]: row for row in queryset.values("tenant_id").annotate(**aggregates)}


def overview(*, domain_id: str | None = None) -> list[dict]:
    """Every tenant's figures and score (a fixed number of grouped queries)."""
    week = timezone.now() - timedelta(days=7)
    servers = _grouped(models.Server.objects, total=Count("id"), active=Count("id", filter=Q(status="ACTIVE")),
                       shutoff=Count("id", filter=Q(status="SHUTOFF")), error=Count("id", filter=Q(status="ERROR")),
                       cpu_sum=Sum("vcpus"), ram_sum=Sum("ram_mb"),
                       active_cpu_sum=Sum("vcpus", filter=Q(status="ACTIVE")),
                       active_ram_sum=Sum("ram_mb", filter=Q(status="ACTIVE")),
                       hosts=Count("hypervisor_id", distinct=True, filter=~Q(hypervisor_id="")))
    volumes = _grouped(models.Volume.objects, total=Count("id"), gb=Sum("size_gb"),
                       error=Count("id", filter=Q(state__in=VOLUME_ERRORS)),
                       attached=Count("id", filter=~Q(server_id="")))
    snapshots = _grouped(models.Snapshot.objects, total=Count("id"),
                         error=Count("id", filter=Q(state__in=SNAPSHOT_ERRORS)))
    networks = _grouped(models.Network.objects, total=Count("id"))
    drift = _grouped(models.DriftEvent.objects, total=Count("id"),
                     critical=Count("id", filter=Q(severity="critical", acknowledged=False, detected_at__gte=week)),
                     warning=Count("id", filter=Q(severity="warning", acknowledged=False, detected_at__gte=week)))
    sla = {t["tenant_id"]: t["compliance_percentage"] for t in dashboards.snapshot_sla(2)["tenants"]}
    flavor_disk = 0  # CloudStack's compute offerings carry no disk size
    out = []
    for tenant_id, info in dashboards.tenants().items():
        if domain_id and info["domain_id"] != domain_id:
            continue
        s, v, sn = servers.get(tenant_id, {}), volumes.get(tenant_id, {}), snapshots.get(tenant_id, {})
        d = drift.get(tenant_id, {})
        compliance = sla.get(tenant_id, 100.0)
        total = s.get("total", 0)
        value = score(error_vms=s.get("error", 0), error_volumes=v.get("error", 0), error_snapshots=sn.get("error", 0),
                      compliance=compliance, critical=d.get("critical", 0), warning=d.get("warning", 0))
        out.append({
            "project_id": tenant_id, "project_name": info["name"], "tenant_kind": info["kind"],
            "domain_id": info["domain_id"], "domain_name": info["domain_name"],
            "health_score": value, "health_status": status_of(value),
            "total_servers": total, "active_servers": s.get("active", 0), "shutoff_servers": s.get("shutoff", 0),
            "error_servers": s.get("error", 0),
            "other_servers": total - s.get("active", 0) - s.get("shutoff", 0) - s.get("error", 0),
            "total_vcpus": s.get("cpu_sum") or 0, "total_ram_mb": s.get("ram_sum") or 0,
            "total_flavor_disk_gb": flavor_disk, "active_vcpus": s.get("active_cpu_sum") or 0,
            "active_ram_mb": s.get("active_ram_sum") or 0, "hypervisor_count": s.get("hosts", 0),
            "power_on_pct": dashboards.percent(s.get("active", 0), total, 2),
            "total_volumes": v.get("total", 0), "error_volumes": v.get("error", 0), "total_volume_gb": v.get("gb") or 0,
            "attached_volumes": v.get("attached", 0), "total_networks": networks.get(tenant_id, {}).get("total", 0),
            "total_snapshots": sn.get("total", 0), "error_snapshots": sn.get("error", 0), "compliance_pct": compliance,
            "total_drift_events": d.get("total", 0), "critical_drift_events": d.get("critical", 0),
            "warning_drift_events": d.get("warning", 0),
        })
    return out


def summary(rows: list[dict]) -> dict:
    scores = [r["health_score"] for r in rows]
    return {"total_tenants": len(rows),
            **{state: sum(1 for r in rows if r["health_status"] == state) for state in ("healthy", "warning",
                                                                                       "critical")},
            "avg_health_score": round(sum(scores) / len(scores), 1) if scores else 0.0}


def utilization(row: dict) -> float:
    """The heatmap's weighted score: 60% VM activity (power-on share) and 40% volume use (attached share)."""
    volume_use = dashboards.percent(row["attached_volumes"], row["total_volumes"])
    return round(0.6 * row["power_on_pct"] + 0.4 * volume_use, 1)


def recent_drift(tenant_id: str, limit: int = 10) -> list[dict]:
    return list(models.DriftEvent.objects.filter(tenant_id=tenant_id).order_by("-detected_at", "-id").values(
        "id", "resource_type", "resource_name", "field_name", "old_value", "new_value", "severity",
        "detected_at")[:limit])


def detail(row: dict) -> dict:
    tenant_id = row["project_id"]
    volumes = models.Volume.objects.filter(tenant_id=tenant_id)
    top = [{"volume_id": v.cloud_id, "volume_name": v.name, "size_gb": v.size_gb,
            "status": "in-use" if v.server_id else "available", "attached_to": v.server_name or None}
           for v in volumes.order_by("-size_gb", "name")[:5]]
    snaps = models.Snapshot.objects.filter(tenant_id=tenant_id)
    return {
        "project_id": tenant_id, "project_name": row["project_name"], "domain_name": row["domain_name"],
        "health_score": row["health_score"], "health_status": row["health_status"],
        "resources": {
            "servers": {"total": row["total_servers"], "active": row["active_servers"],
                        "shutoff": row["shutoff_servers"], "error": row["error_servers"]},
            "volumes": {"total": row["total_volumes"], "available": row["total_volumes"] - row["attached_volumes"]
                        - row["error_volumes"], "in_use": row["attached_volumes"], "error": row["error_volumes"]},
            "snapshots": {"total": row["total_snapshots"], "available": snaps.exclude(state__in=SNAPSHOT_ERRORS)
                          .count(), "error": row["error_snapshots"]},
            "networks": {"total": row["total_networks"]},
        },
        "compliance_pct": row["compliance_pct"], "top_volumes": top, "recent_drift_events": recent_drift(tenant_id),
    }


def trends(row: dict, days: int) -> list[dict]:
    """Day by day (newest first): drift events and snapshots taken that day, with today's compliance and score for
    today and the score the drift of each earlier day would leave."""
    tenant_id, today = row["project_id"], timezone.now().date()
    since = timezone.now() - timedelta(days=days)
    drift: dict = {}
    for day, severity in models.DriftEvent.objects.filter(tenant_id=tenant_id, detected_at__gte=since).values_list(
            "detected_at", "severity"):
        counts = drift.setdefault(day.date(), {"total": 0, "critical": 0, "warning": 0})
        counts["total"] += 1
        counts[severity] = counts.get(severity, 0) + 1
    snaps: dict = {}
    for created in models.Snapshot.objects.filter(tenant_id=tenant_id, created__gte=since).values_list("created",
                                                                                                     flat=True):
        snaps[created.date()] = snaps.get(created.date(), 0) + 1
    out = []
    for back in range(days):
        day = today - timedelta(days=back)
        counts = drift.get(day, {})
        value = score(error_vms=row["error_servers"], error_volumes=row["error_volumes"],
                      error_snapshots=row["error_snapshots"], compliance=row["compliance_pct"],
                      critical=counts.get("critical", 0), warning=counts.get("warning", 0))
        out.append({"date": day, "drift_events": counts.get("total", 0), "snapshots_created": snaps.get(day, 0),
                    "compliance_pct": row["compliance_pct"], "health_score": value})
    return out


def _limit(limits: dict, kind: str) -> int:
    return int(limits.get(kind, -1))


def quota(row: dict) -> dict:
    """The tenant's CloudStack resource limits (live) and what it holds; `available: false` with the reason when
    CloudStack is not configured or does not answer."""
    config = settings_selectors.active_ossea_config()
    if config is None:
        return {"available": False, "reason": "CloudStack is not configured"}
    kind = row["tenant_kind"]
    tenant_id = row["project_id"]
    try:
        account = models.Account.objects.get(cloud_id=tenant_id) if kind == "account" else None
        found = client_for(config).list_resource_limits(
            project_id=tenant_id if kind == "project" else None, account=account.name if account else None,
            domain_id=account.domain_id if account else None)
    except cs.CloudStackError as exc:
        return {"available": False, "reason": f"CloudStack did not answer: {exc}"}
    limits = {str(item.get("resourcetype")): item.get("max", -1) for item in found}
    snaps = models.Snapshot.objects.filter(tenant_id=tenant_id).count()

    def entry(resource_type: str, in_use: int) -> dict:
        return {"limit": _limit(limits, resource_type), "in_use": in_use, "reserved": 0}

    return {
        "available": True, "project_id": tenant_id,
        "compute": {"instances": entry("0", row["total_servers"]), "cores": entry("8", row["total_vcpus"]),
                    "ram_mb": entry("9", row["total_ram_mb"])},
        "storage": {"volumes": entry("2", row["total_volumes"]), "gigabytes": entry("10", row["total_volume_gb"]),
                    "snapshots": entry("3", snaps)},
    }
