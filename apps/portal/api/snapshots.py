"""Seed 004's volume snapshot metadata and snapshot compliance report (Infrastructure: Volumes, Snapshots).

CloudStack's snapshot facts as collected: how many snapshots a volume has, the last one, and whether it is inside
the SLA window (a volume is compliant when a snapshot of it was taken within `days`, as on the dashboard).
"""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_number
from apps.core.exceptions import NotFound

from .. import dashboards, models, selectors
from .base import PortalView, errors, page_window
from .shapes import FRESHNESS, TEXT, shape

TAGS = ["portal: infrastructure"]
METADATA = {"volume_id": "v", "volume_name": "n", "tenant_name": "t", "snapshot_count": 1, "last_snapshot": TEXT,
            "compliant": True}


def _metadata(volumes, since) -> list[dict]:
    ids = [v["cloud_id"] for v in volumes]
    snaps = {r["volume_id"]: r for r in models.Snapshot.objects.filter(volume_id__in=ids).values("volume_id")
             .annotate(n=Count("id"), last=Max("created"))}
    out = []
    for vol in volumes:
        found = snaps.get(vol["cloud_id"], {})
        last = found.get("last")
        out.append({"volume_id": vol["cloud_id"], "volume_name": vol["name"], "tenant_name": vol["tenant_name"],
                    "snapshot_count": found.get("n", 0), "last_snapshot": last,
                    "compliant": last is not None and last >= since})
    return out


class VolumeMetadataView(PortalView):
    permission = "resources:read"

    @extend_schema(tags=TAGS, summary="A volume's snapshot facts", responses={200: shape(METADATA), **errors(404)})
    def get(self, request, volume_id: str):
        volumes = list(models.Volume.objects.filter(cloud_id=volume_id).values("cloud_id", "name", "tenant_name"))
        if not volumes:
            raise NotFound(f"Volume {volume_id} not found")
        return Response(_metadata(volumes, timezone.now() - timedelta(days=2))[0])


class BulkMetadataView(PortalView):
    permission = "resources:read"

    @extend_schema(tags=TAGS, summary="Every volume's snapshot facts",
                   parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses={200: shape({"total": 1, "limit": 1, "offset": 1, "results": [METADATA],
                                          "freshness": FRESHNESS}), **errors(400)})
    def get(self, request):
        window = page_window(request)
        volumes = models.Volume.objects.order_by("name", "id")
        page = list(volumes.values("cloud_id", "name", "tenant_name")[window["offset"]:window["offset"] +
                                                                      window["limit"]])
        return Response({"total": volumes.count(), **window,
                         "results": _metadata(page, timezone.now() - timedelta(days=2)),
                         "freshness": selectors.freshness()})


TENANT = {"tenant_id": "t", "tenant_name": "n", "domain_name": "d", "total_volumes": 1, "compliant": 1, "warning": 1,
          "critical": 1, "compliance_percentage": 1.5,
          "warnings": [{"volume_id": "v", "volume_name": "n", "policy": TEXT, "last_snapshot": TEXT, "message": "m"}]}


class ComplianceView(PortalView):
    permission = "resources:read"

    @extend_schema(tags=TAGS, summary="Snapshot compliance report (SLA analysis)",
                   parameters=[OpenApiParameter("days", int, description="SLA window, 1-365 (default 2)"),
                               OpenApiParameter("tenant_id", str), OpenApiParameter("project_id", str)],
                   responses={200: shape({"days": 1, "overall_compliance": 1.5, "total_volumes": 1, "compliant": 1,
                                          "warning": 1, "critical": 1, "tenants": [TENANT],
                                          "freshness": FRESHNESS}), **errors(400)})
    def get(self, request):
        days = query_number(request, "days", 2, 1, 365)
        wanted = {request.query_params.get(n) for n in ("tenant_id", "project_id")} - {None, ""}
        tenants = [t for t in dashboards.snapshot_sla(days)["tenants"] if not wanted or t["tenant_id"] in wanted]
        totals = {k: sum(t[k] for t in tenants) for k in ("total_volumes", "compliant", "warning", "critical")}
        return Response({"days": days, "overall_compliance": dashboards.percent(totals["compliant"],
                                                                             totals["total_volumes"]),
                         **totals, "tenants": tenants, "freshness": selectors.freshness()})
