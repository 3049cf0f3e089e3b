"""Seed 004 "Dashboard Endpoints": the figures of `dashboards`, each answer with the data's freshness."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_number

from .. import dashboards, selectors
from .base import PortalView, choice, errors
from .shapes import FRESHNESS, NUM, TEXT, shape

TAGS = ["portal: dashboard"]
SEVERITIES = {"critical": 1, "warning": 1, "info": 1}


def _answer(body: dict) -> Response:
    return Response({**body, "freshness": selectors.freshness()})


def _schema(example: dict) -> dict:
    return {200: shape({**example, "freshness": FRESHNESS}), **errors(400)}


def _int(name: str, text: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, description=text)


class HealthSummaryView(PortalView):
    @extend_schema(tags=TAGS, summary="System-wide operational figures", responses=_schema({
        "timestamp": "t", "total_tenants": 1, "total_vms": 1, "vms_running": 1, "total_volumes": 1,
        "total_networks": 1, "avg_cpu_utilization": 1.5, "avg_memory_utilization": 1.5, "alerts": SEVERITIES,
        "metrics_last_update": TEXT}))
    def get(self, request):
        return _answer(dashboards.health_summary())


VOLUME_WARNING = {"volume_id": "v", "volume_name": "n", "policy": TEXT, "last_snapshot": TEXT, "message": "m"}


class SnapshotSlaView(PortalView):
    @extend_schema(tags=TAGS, summary="Snapshot compliance by tenant", parameters=[_int("days", "SLA window (1-365)")],
                   responses=_schema({"overall_compliance": 1.5, "period_days": 1, "tenants": [{
                       "tenant_id": "t", "tenant_name": "n", "domain_name": "d", "total_volumes": 1, "compliant": 1,
                       "warning": 1, "critical": 1, "compliance_percentage": 1.5, "warnings": [VOLUME_WARNING]}]}))
    def get(self, request):
        return _answer(dashboards.snapshot_sla(query_number(request, "days", 2, 1, 365)))


class TopHostsView(PortalView):
    @extend_schema(tags=TAGS, summary="Top hosts by utilisation",
                   parameters=[_int("limit", "1-20 (default 10)"), OpenApiParameter("sort", str, enum=["cpu", "memory"])],
                   responses=_schema({"hosts": [{"hostname": "h", "cpu_percent": 1.5, "memory_percent": 1.5,
                                                 "vm_count": 1, "status": "ok"}], "total_hosts": 1, "timestamp": "t"}))
    def get(self, request):
        return _answer(dashboards.top_hosts(query_number(request, "limit", 10, 1, 20),
                                            choice(request, "sort", "cpu", ("cpu", "memory"))))


class RecentChangesView(PortalView):
    @extend_schema(tags=TAGS, summary="Recent infrastructure changes",
                   parameters=[_int("hours", "Lookback (1-720, default 24)"), _int("limit", "1-1000 (default 20)")],
                   responses=_schema({"changes": [{"timestamp": "t", "type": "vm_created", "resource_id": "r",
                                                   "resource_name": "n", "project_name": "p", "user": "u",
                                                   "details": "d"}], "total_changes": 1, "period_hours": 1}))
    def get(self, request):
        return _answer(dashboards.recent_changes(query_number(request, "hours", 24, 1, 720),
                                                 query_number(request, "limit", 20, 1, 1000)))


class CoverageRisksView(PortalView):
    @extend_schema(tags=TAGS, summary="Volumes without snapshot protection", responses=_schema({
        "total_at_risk": 1, "total_volumes": 1, "risk_percentage": 1.5, "volumes": [{
            "volume_id": "v", "volume_name": "n", "size_gb": 1, "tenant_name": "t", "risk_score": 1,
            "recommendation": "r"}]}))
    def get(self, request):
        return _answer(dashboards.coverage_risks())


class CapacityPressureView(PortalView):
    @extend_schema(tags=TAGS, summary="Storage and compute capacity warnings", responses=_schema({
        "storage_pressure": [{"pool_name": "p", "used_percent": 1.5, "available_gb": 1, "allocated_gb": 1,
                              "status": "ok", "forecast_full": TEXT}],
        "compute_pressure": [{"hostname": "h", "cpu_used_percent": 1.5, "memory_used_percent": 1.5,
                              "cpu_allocated_percent": 1.5, "status": "ok"}]}))
    def get(self, request):
        return _answer(dashboards.capacity_pressure())


class VmHotspotsView(PortalView):
    @extend_schema(tags=TAGS, summary="Top resource-consuming VMs",
                   parameters=[OpenApiParameter("sort", str, enum=["cpu", "memory", "storage"]),
                               _int("limit", "1-100 (default 10)")],
                   responses=_schema({"hotspots": [{"vm_id": "v", "vm_name": "n", "tenant_name": "t",
                                                    "cpu_percent": NUM, "memory_percent": NUM, "storage_gb": 1,
                                                    "status": "ok"}], "sort_by": "cpu", "total_vms": 1}))
    def get(self, request):
        return _answer(dashboards.vm_hotspots(choice(request, "sort", "cpu", ("cpu", "memory", "storage")),
                                              query_number(request, "limit", 10, 1, 100)))


class TenantRiskView(PortalView):
    @extend_schema(tags=TAGS, summary="Risk per tenant", responses=_schema({"tenants": [{
        "tenant_id": "t", "tenant_name": "n", "risk_score": 1, "risk_level": "low",
        "factors": {"overutilization": 1, "missing_snapshots": 1, "cost_trend": 1}, "recommendations": ["r"]}]}))
    def get(self, request):
        return _answer(dashboards.tenant_risk_scores())


class ComplianceDriftView(PortalView):
    @extend_schema(tags=TAGS, summary="Snapshot compliance day by day", parameters=[_int("days", "1-90 (default 7)")],
                   responses=_schema({"period_days": 1, "drift_events": [{
                       "date": "d", "compliance_percent": 1.5, "violations": 1, "trend": "stable"}],
                       "current_compliance": 1.5, "trend": "stable"}))
    def get(self, request):
        return _answer(dashboards.compliance_drift(query_number(request, "days", 7, 1, 90)))


class CapacityTrendsView(PortalView):
    @extend_schema(tags=TAGS, summary="Capacity use day by day, with forecasts",
                   parameters=[_int("days", "1-365 (default 7)")],
                   responses=_schema({"period_days": 1,
                                      "storage_trend": [{"date": "d", "used_percent": 1.5, "available_gb": 1}],
                                      "cpu_trend": [{"date": "d", "avg_utilization": 1.5}],
                                      "forecast": {"storage_full_date": TEXT, "cpu_saturation_date": TEXT}}))
    def get(self, request):
        return _answer(dashboards.capacity_trends(query_number(request, "days", 7, 1, 365)))


GROWTH = {"current": 1, "start": 1, "change": 1, "change_percent": 1.5, "velocity_per_day": 1.5}


class TrendlinesView(PortalView):
    @extend_schema(tags=TAGS, summary="Growth of VMs and volumes",
                   parameters=[OpenApiParameter("period", int, enum=[7, 30, 90])],
                   responses=_schema({"period_days": 7, "metrics": {"vms": GROWTH, "volumes": GROWTH},
                                      "forecast_30_days": {"vms": 1, "volumes": 1}}))
    def get(self, request):
        period = choice(request, "period", "7", ("7", "30", "90"))
        return _answer(dashboards.trendlines(int(period)))
