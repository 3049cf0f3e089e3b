"""The dashboard's figures (seed 004 "Dashboard Endpoints") from the collected tables, each in a bounded number of
queries whatever the cloud's size (grouped queries, values lists; never one query per row).

Snapshot compliance: a volume is compliant when a snapshot of it was taken within the window (`days`), warning
when its last snapshot is older, critical when it has none. Utilisation comes from CloudStack's host figures
(listHosts cpuused, memoryused); per-VM CPU and memory only where CloudStack reports them (`cpuused` with VM
metrics enabled), else null. Trends read the daily samples each collection writes (`DailyFigures`).
"""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from . import models
from .choices import ChangeAction, Severity

HOT, WARM = 85.0, 70.0


def level(*percents) -> str:
    top = max((p for p in percents if p is not None), default=0)
    return "critical" if top >= HOT else "warning" if top >= WARM else "ok"


def percent(part, whole, digits: int = 1) -> float:
    return round(100.0 * part / whole, digits) if whole else 0.0


def _memorypercent(host: models.Host) -> float:
    return percent(host.memory_used_mb, host.memory_total_mb)


def tenants() -> dict[str, dict]:
    """Every tenant (CloudStack projects and accounts) by id: name and domain."""
    out = {}
    for kind, model in (("project", models.Project), ("account", models.Account)):
        for row in model.objects.values("cloud_id", "name", "domain_name", "domain_id"):
            out[row["cloud_id"]] = {"name": row["name"], "domain_name": row["domain_name"],
                                    "domain_id": row["domain_id"], "kind": kind}
    return out


def health_summary() -> dict:
    servers = models.Server.objects.aggregate(total=Count("id"), running=Count("id", filter=Q(status="ACTIVE")))
    hosts = list(models.Host.objects.all())
    alerts = dict(models.DriftEvent.objects.filter(acknowledged=False).values_list("severity").annotate(n=Count("id")))
    last = models.Collection.objects.filter(status="succeeded").values_list("finished_at", flat=True).first()
    return {
        "timestamp": timezone.now(), "total_tenants": models.Account.objects.count() + models.Project.objects.count(),
        "total_vms": servers["total"], "vms_running": servers["running"],
        "total_volumes": models.Volume.objects.count(), "total_networks": models.Network.objects.count(),
        "avg_cpu_utilization": round(sum(h.cpu_used_percent for h in hosts) / len(hosts), 1) if hosts else 0.0,
        "avg_memory_utilization": round(sum(_memorypercent(h) for h in hosts) / len(hosts), 1) if hosts else 0.0,
        "alerts": {s: alerts.get(s, 0) for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)},
        "metrics_last_update": last,
    }


def _last_snapshots() -> dict[str, object]:
    return dict(models.Snapshot.objects.values_list("volume_id").annotate(last=Max("created")))


def snapshot_sla(days: int) -> dict:
    since = timezone.now() - timedelta(days=days)
    last = _last_snapshots()
    names = tenants()
    by_tenant: dict[str, dict] = {}
    for vol in models.Volume.objects.values("cloud_id", "name", "tenant_id", "tenant_name", "domain_name"):
        entry = by_tenant.setdefault(vol["tenant_id"], {
            "tenant_id": vol["tenant_id"], "tenant_name": vol["tenant_name"],
            "domain_name": names.get(vol["tenant_id"], {}).get("domain_name", vol["domain_name"]),
            "total_volumes": 0, "compliant": 0, "warning": 0, "critical": 0, "warnings": []})
        entry["total_volumes"] += 1
        taken = last.get(vol["cloud_id"])
        if taken is not None and taken >= since:
            entry["compliant"] += 1
            continue
        entry["warning" if taken else "critical"] += 1
        entry["warnings"].append({"volume_id": vol["cloud_id"], "volume_name": vol["name"], "policy": None,
                                  "last_snapshot": taken,
                                  "message": f"No snapshot in last {days} days" if taken else "Never snapshotted"})
    rows = sorted(by_tenant.values(), key=lambda t: t["tenant_name"])
    for row in rows:
        row["compliance_percentage"] = percent(row["compliant"], row["total_volumes"])
    total = sum(r["total_volumes"] for r in rows)
    return {"overall_compliance": percent(sum(r["compliant"] for r in rows), total), "period_days": days,
            "tenants": rows}


def top_hosts(limit: int, sort: str) -> dict:
    load = dict(models.Server.objects.filter(status="ACTIVE").values_list("hypervisor_id").annotate(n=Count("id")))
    hosts = [{"hostname": h.name, "cpu_percent": h.cpu_used_percent, "memory_percent": _memorypercent(h),
              "vm_count": load.get(h.cloud_id, 0), "status": level(h.cpu_used_percent, _memorypercent(h))}
             for h in models.Host.objects.all()]
    key = "cpu_percent" if sort == "cpu" else "memory_percent"
    hosts.sort(key=lambda h: (-h[key], h["hostname"]))
    return {"hosts": hosts[:limit], "total_hosts": len(hosts), "timestamp": timezone.now()}


def change_type(change: models.Change) -> str:
    return f"{'vm' if change.resource_type == 'server' else change.resource_type}_{change.action}"


def change_user(change: models.Change) -> str:
    """Who made the change: the portal user, else CloudStack's user from its event, else just "cloudstack"."""
    return change.user or (change.event.username if change.event else "") or "cloudstack"


def change_details(change: models.Change) -> str:
    """What changed, with CloudStack's own description of the action when its event was found."""
    said = f" ({change.event.description})" if change.event and change.event.description else ""
    return _what_changed(change) + said


def _what_changed(change: models.Change) -> str:
    if change.action == ChangeAction.CHANGED:
        return "; ".join(f"{field}: {values['before']} -> {values['after']}" for field, values in change.fields.items())
    if change.action == ChangeAction.DELETED:
        return f"{change.resource_type} deleted"
    flavor = change.snapshot.get("flavor_name")
    return f"New {change.resource_type} created" + (f" with flavor {flavor}" if flavor else "")


def recent_changes(hours: int, limit: int) -> dict:
    since = timezone.now() - timedelta(hours=hours)
    window = models.Change.objects.filter(detected_at__gte=since)
    rows = [{"timestamp": c.detected_at, "type": change_type(c), "resource_id": c.resource_id,
             "resource_name": c.resource_name, "project_name": c.tenant_name, "user": change_user(c),
             "details": change_details(c)}
            for c in window.select_related("event").order_by("-detected_at", "-id")[:limit]]
    return {"changes": rows, "total_changes": window.count(), "period_hours": hours}


def coverage_risks() -> dict:
    covered = set(models.Snapshot.objects.values_list("volume_id", flat=True))
    volumes = list(models.Volume.objects.values("cloud_id", "name", "size_gb", "tenant_name", "server_id",
                                                "volume_type"))
    at_risk = []
    for vol in volumes:
        if vol["cloud_id"] in covered:
            continue
        # Bigger and attached (in use) volumes have more to lose.
        score = min(10, 4 + vol["size_gb"] // 50 + (2 if vol["server_id"] else 0) + (1 if vol["volume_type"] ==
                                                                                      "DATADISK" else 0))
        at_risk.append({"volume_id": vol["cloud_id"], "volume_name": vol["name"], "size_gb": vol["size_gb"],
                        "tenant_name": vol["tenant_name"], "risk_score": score,
                        "recommendation": "Create a daily recurring snapshot policy for this volume in CloudStack"})
    at_risk.sort(key=lambda v: (-v["risk_score"], v["volume_name"]))
    return {"total_at_risk": len(at_risk), "total_volumes": len(volumes),
            "risk_percentage": percent(len(at_risk), len(volumes)), "volumes": at_risk}


def _growth_per_day(samples: list[dict], field: str) -> float | None:
    """Least-squares slope per day of a daily sample field; None with fewer than two days."""
    points = [((s["date"] - samples[0]["date"]).days, s[field]) for s in samples]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x, mean_y = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else None


def _days_until(current: float, limit: float, slope: float | None) -> int | None:
    if slope is None or slope <= 0 or current >= limit:
        return None
    return int((limit - current) / slope)


def capacity_pressure() -> dict:
    samples = list(models.DailyFigures.objects.values("date", "storage_used_gb")[:90])
    slope = _growth_per_day(samples, "storage_used_gb")
    storage = []
    for pool in models.StoragePool.objects.all():
        used = percent(pool.used_gb, pool.total_gb)
        days = _days_until(pool.used_gb, pool.total_gb, slope)
        storage.append({"pool_name": pool.name, "used_percent": used, "available_gb": pool.total_gb - pool.used_gb,
                        "allocated_gb": pool.allocated_gb, "status": level(used),
                        "forecast_full": f"{days} days" if days is not None else None})
    compute = [{"hostname": h.name, "cpu_used_percent": h.cpu_used_percent, "memory_used_percent": _memorypercent(h),
                "cpu_allocated_percent": h.cpu_allocated_percent, "status": level(h.cpu_used_percent, _memorypercent(h))}
               for h in models.Host.objects.all()]
    return {"storage_pressure": storage, "compute_pressure": compute}


def vm_hotspots(sort: str, limit: int) -> dict:
    storage = dict(models.Volume.objects.exclude(server_id="").values_list("server_id").annotate(gb=Sum("size_gb")))
    rows = []
    for vm in models.Server.objects.values("cloud_id", "name", "tenant_name", "raw", "status"):
        cpu = vm["raw"].get("cpuused")
        cpu = float(str(cpu).rstrip("%")) if cpu not in (None, "") else None
        free, total = vm["raw"].get("memoryintfreekbs"), vm["raw"].get("memorykbs")
        # Free memory -1: the guest reports none (no balloon driver's statistics), so its use is not known.
        memory = round(100 - 100 * free / total, 1) if free is not None and free >= 0 and total else None
        rows.append({"vm_id": vm["cloud_id"], "vm_name": vm["name"], "tenant_name": vm["tenant_name"],
                     "cpu_percent": cpu, "memory_percent": memory, "storage_gb": storage.get(vm["cloud_id"], 0),
                     "status": level(cpu, memory)})
    key = {"cpu": "cpu_percent", "memory": "memory_percent", "storage": "storage_gb"}[sort]
    rows.sort(key=lambda r: (r[key] is None, -(r[key] or 0), r["vm_name"]))
    return {"hotspots": rows[:limit], "sort_by": sort, "total_vms": len(rows)}


def tenant_risk_scores() -> dict:
    sla = {t["tenant_id"]: t for t in snapshot_sla(2)["tenants"]}
    hot_hosts = set(models.Host.objects.filter(cpu_used_percent__gte=HOT).values_list("cloud_id", flat=True))
    week = timezone.now() - timedelta(days=7)
    servers = {r["tenant_id"]: r for r in models.Server.objects.values("tenant_id").annotate(
        total=Count("id"), hot=Count("id", filter=Q(hypervisor_id__in=hot_hosts)),
        error=Count("id", filter=Q(status="ERROR")))}
    created = dict(models.Change.objects.filter(resource_type="server", action=ChangeAction.CREATED,
                                                detected_at__gte=week, collection__isnull=False)
                   .exclude(collection=models.Collection.objects.order_by("started_at").first())
                   .values_list("tenant_id").annotate(n=Count("id")))
    out = []
    for tenant_id, info in sorted(tenants().items(), key=lambda t: t[1]["name"]):
        vms, vols = servers.get(tenant_id, {}), sla.get(tenant_id)
        total = vms.get("total", 0)
        if not total and not vols:
            continue
        factors = {"overutilization": round(percent(vms.get("hot", 0) + vms.get("error", 0), total)),
                   "missing_snapshots": round(100 - vols["compliance_percentage"]) if vols else 0,
                   "cost_trend": round(min(100.0, percent(created.get(tenant_id, 0), total)))}
        score = round(sum(factors.values()) / len(factors))
        recommendations = []
        if vms.get("hot") or vms.get("error"):
            recommendations.append(f"Review {vms.get('hot', 0) + vms.get('error', 0)} VMs on hot hosts or in error")
        if vols and vols["compliant"] < vols["total_volumes"]:
            recommendations.append(f"Enable snapshots on {vols['total_volumes'] - vols['compliant']} volumes")
        out.append({"tenant_id": tenant_id, "tenant_name": info["name"], "risk_score": score,
                    "risk_level": "high" if score >= 70 else "medium" if score >= 40 else "low",
                    "factors": factors, "recommendations": recommendations})
    return {"tenants": out}


def _trend(now_value: float, before: float | None) -> str:
    if before is None or abs(now_value - before) < 0.5:
        return "stable"
    return "improving" if now_value > before else "declining"


def compliance_drift(days: int) -> dict:
    """Per day: the share of the volumes that existed that day with a snapshot in the 2 days before its end."""
    today = timezone.now()
    volumes = list(models.Volume.objects.values_list("cloud_id", "first_seen"))
    snaps: dict[str, list] = {}
    for volume_id, created in models.Snapshot.objects.exclude(created=None).values_list("volume_id", "created"):
        snaps.setdefault(volume_id, []).append(created)
    points, previous = [], None
    for back in range(days - 1, -1, -1):
        end = today - timedelta(days=back)
        alive = [v for v, first in volumes if first <= end]
        ok = sum(1 for v in alive if any(end - timedelta(days=2) <= t <= end for t in snaps.get(v, ())))
        share = percent(ok, len(alive))
        points.append({"date": end.date(), "compliance_percent": share, "violations": len(alive) - ok,
                       "trend": _trend(share, previous)})
        previous = share
    current = points[-1]["compliance_percent"] if points else 0.0
    return {"period_days": days, "drift_events": points, "current_compliance": current,
            "trend": _trend(current, points[0]["compliance_percent"] if len(points) > 1 else None)}


def _forecast_date(samples, field: str, limit_field: str | None, limit: float | None):
    slope = _growth_per_day(samples, field)
    if not samples:
        return None
    last = samples[-1]
    ceiling = last[limit_field] if limit_field else limit
    days = _days_until(last[field], ceiling, slope)
    return last["date"] + timedelta(days=days) if days is not None else None


def capacity_trends(days: int) -> dict:
    since = timezone.now().date() - timedelta(days=days - 1)
    samples = list(models.DailyFigures.objects.filter(date__gte=since).values(
        "date", "storage_used_gb", "storage_total_gb", "cpu_avg_percent"))
    return {
        "period_days": days,
        "storage_trend": [{"date": s["date"], "used_percent": percent(s["storage_used_gb"], s["storage_total_gb"]),
                           "available_gb": s["storage_total_gb"] - s["storage_used_gb"]} for s in samples],
        "cpu_trend": [{"date": s["date"], "avg_utilization": s["cpu_avg_percent"]} for s in samples],
        "forecast": {"storage_full_date": _forecast_date(samples, "storage_used_gb", "storage_total_gb", None),
                     "cpu_saturation_date": _forecast_date(samples, "cpu_avg_percent", None, 100.0)},
    }


def trendlines(period: int) -> dict:
    since = timezone.now().date() - timedelta(days=period - 1)
    samples = list(models.DailyFigures.objects.filter(date__gte=since).values("date", "vms", "volumes"))
    current = {"vms": models.Server.objects.count(), "volumes": models.Volume.objects.count()}
    metrics, forecast = {}, {}
    for name in ("vms", "volumes"):
        start = samples[0][name] if samples else current[name]
        span = max(1, (samples[-1]["date"] - samples[0]["date"]).days) if len(samples) > 1 else period
        change = current[name] - start
        velocity = round(change / span, 1)
        metrics[name] = {"current": current[name], "start": start, "change": change,
                         "change_percent": percent(change, start), "velocity_per_day": velocity}
        forecast[name] = max(0, round(current[name] + velocity * 30))
    return {"period_days": period, "metrics": metrics, "forecast_30_days": forecast}
