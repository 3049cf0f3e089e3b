"""The console's page of the destination cloud (seed 004's dashboard and tenant health, `apps/portal`): the
collected figures, each tenant's health as a bar, and the capacity trend as a line, drawn server-side as SVG so the
page needs no chart library."""
from __future__ import annotations

from apps.portal import dashboards, selectors, tenant_health

CHART_WIDTH, CHART_HEIGHT = 600, 160


def _points(values: list[float]) -> str:
    """SVG polyline points of percentages (0-100) spread over the chart's width, oldest left."""
    if not values:
        return ""
    step = CHART_WIDTH / max(1, len(values) - 1)
    return " ".join(f"{round(i * step, 1)},{round(CHART_HEIGHT - CHART_HEIGHT * min(max(v, 0), 100) / 100, 1)}"
                    for i, v in enumerate(values))


def page(days: int = 30) -> dict:
    tenants = sorted(tenant_health.overview(), key=lambda row: (row["health_score"], row["project_name"]))
    trends = dashboards.capacity_trends(days)
    storage = [point["used_percent"] for point in trends["storage_trend"]]
    cpu = [point["avg_utilization"] for point in trends["cpu_trend"]]
    return {
        "summary": dashboards.health_summary(),
        "freshness": selectors.freshness(),
        "tenants": tenants,
        "tenant_summary": tenant_health.summary(tenants),
        "trends": trends,
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT, "days": len(storage),
                  "storage": _points(storage), "cpu": _points(cpu),
                  "storage_now": storage[-1] if storage else None, "cpu_now": cpu[-1] if cpu else None},
    }
