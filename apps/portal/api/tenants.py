"""Seed 004 "Tenant Health Endpoints": overview, heatmap, one tenant, its trends and its quota."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_number
from apps.core.exceptions import NotFound

from .. import selectors, tenant_health
from .base import PortalView, choice, errors
from .shapes import FRESHNESS, TEXT, shape

TAGS = ["portal: tenant health"]
SORTS = ("health_score", "project_name", "domain_name", "total_servers", "total_volumes", "total_networks",
         "total_drift_events", "compliance_pct")
ROW = {"project_id": "p", "project_name": "n", "tenant_kind": "project", "domain_id": "d", "domain_name": "d",
       "health_score": 1, "health_status": "healthy", "total_servers": 1, "active_servers": 1, "shutoff_servers": 1,
       "error_servers": 1, "other_servers": 1, "total_vcpus": 1, "total_ram_mb": 1, "total_flavor_disk_gb": 1,
       "active_vcpus": 1, "active_ram_mb": 1, "hypervisor_count": 1, "power_on_pct": 1.5, "total_volumes": 1,
       "error_volumes": 1, "total_volume_gb": 1, "attached_volumes": 1, "total_networks": 1, "total_snapshots": 1,
       "error_snapshots": 1, "compliance_pct": 1.5, "total_drift_events": 1, "critical_drift_events": 1,
       "warning_drift_events": 1}
HEAT = ("project_id", "project_name", "domain_name", "health_score", "total_servers", "active_servers",
        "shutoff_servers", "error_servers", "total_vcpus", "active_vcpus", "total_ram_mb", "active_ram_mb",
        "power_on_pct", "total_volumes", "total_volume_gb", "total_drift_events", "compliance_pct")
DRIFT_ROW = {"id": 1, "resource_type": "server", "resource_name": "n", "field_name": "f", "old_value": TEXT,
             "new_value": TEXT, "severity": "critical", "detected_at": "t"}


class TenantHealthView(PortalView):
    permission = "tenant_health:read"

    def tenant(self, project_id: str) -> dict:
        row = next((r for r in tenant_health.overview() if r["project_id"] == project_id), None)
        if row is None:
            raise NotFound(f"Tenant {project_id} not found")
        return row


class OverviewView(TenantHealthView):
    @extend_schema(tags=TAGS, summary="Every tenant's health score and figures",
                   parameters=[OpenApiParameter("domain_id", str), OpenApiParameter("sort_by", str, enum=list(SORTS)),
                               OpenApiParameter("sort_dir", str, enum=["asc", "desc"]),
                               OpenApiParameter("search", str)],
                   responses={200: shape({"summary": {"total_tenants": 1, "healthy": 1, "warning": 1, "critical": 1,
                                                      "avg_health_score": 1.5}, "tenants": [ROW],
                                          "freshness": FRESHNESS}), **errors(400)})
    def get(self, request):
        sort = choice(request, "sort_by", "health_score", SORTS)
        descending = choice(request, "sort_dir", "desc", ("asc", "desc")) == "desc"
        rows = tenant_health.overview(domain_id=request.query_params.get("domain_id"))
        search = (request.query_params.get("search") or "").lower()
        if search:
            rows = [r for r in rows if search in r["project_name"].lower() or search in r["domain_name"].lower()]
        rows.sort(key=lambda r: (r[sort], r["project_name"]), reverse=descending)
        return Response({"summary": tenant_health.summary(rows), "tenants": rows, "freshness": selectors.freshness()})


class HeatmapView(TenantHealthView):
    @extend_schema(tags=TAGS, summary="Per-tenant utilisation for a heatmap", parameters=[OpenApiParameter("domain_id",
                                                                                                           str)],
                   responses={200: shape({"tenants": [{**{k: ROW[k] for k in HEAT}, "critical_drift": 1,
                                                       "utilization_score": 1.5}], "freshness": FRESHNESS}),
                              **errors(400)})
    def get(self, request):
        rows = tenant_health.overview(domain_id=request.query_params.get("domain_id"))
        tenants = [{**{k: r[k] for k in HEAT}, "critical_drift": r["critical_drift_events"],
                    "utilization_score": tenant_health.utilization(r)} for r in rows]
        tenants.sort(key=lambda t: (-t["utilization_score"], t["project_name"]))
        return Response({"tenants": tenants, "freshness": selectors.freshness()})


class DetailView(TenantHealthView):
    @extend_schema(tags=TAGS, summary="One tenant's health: resources, top volumes, recent drift",
                   responses={200: shape({
                       "project_id": "p", "project_name": "n", "domain_name": "d", "health_score": 1,
                       "health_status": "healthy", "resources": {
                           "servers": {"total": 1, "active": 1, "shutoff": 1, "error": 1},
                           "volumes": {"total": 1, "available": 1, "in_use": 1, "error": 1},
                           "snapshots": {"total": 1, "available": 1, "error": 1}, "networks": {"total": 1}},
                       "compliance_pct": 1.5, "top_volumes": [{"volume_id": "v", "volume_name": "n", "size_gb": 1,
                                                               "status": "in-use", "attached_to": TEXT}],
                       "recent_drift_events": [DRIFT_ROW]}), **errors(404)})
    def get(self, request, project_id: str):
        return Response(tenant_health.detail(self.tenant(project_id)))


class TrendsView(TenantHealthView):
    @extend_schema(tags=TAGS, summary="A tenant's daily drift and snapshot counts",
                   parameters=[OpenApiParameter("days", int, description="1-365 (default 30)")],
                   responses={200: shape({"project_id": "p", "project_name": "n", "period_days": 1, "trends": [{
                       "date": "d", "drift_events": 1, "snapshots_created": 1, "compliance_pct": 1.5,
                       "health_score": 1}]}), **errors(400, 404)})
    def get(self, request, project_id: str):
        days = query_number(request, "days", 30, 1, 365)
        row = self.tenant(project_id)
        return Response({"project_id": project_id, "project_name": row["project_name"], "period_days": days,
                         "trends": tenant_health.trends(row, days)})


LIMIT = {"limit": 1, "in_use": 1, "reserved": 1}


class QuotaView(TenantHealthView):
    @extend_schema(tags=TAGS, summary="A tenant's CloudStack resource limits (read live) and use; -1 is unlimited",
                   responses={200: {"oneOf": [
                       shape({"available": True, "project_id": "p",
                              "compute": {"instances": LIMIT, "cores": LIMIT, "ram_mb": LIMIT},
                              "storage": {"volumes": LIMIT, "gigabytes": LIMIT, "snapshots": LIMIT}}),
                       shape({"available": False, "reason": "r"})]}, **errors(404)})
    def get(self, request, project_id: str):
        return Response(tenant_health.quota(self.tenant(project_id)))
