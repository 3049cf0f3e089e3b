"""Seed 004's metering and pricing endpoints under /api/metering/."""
from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_number, query_page
from apps.core.exceptions import InvalidInput, NotFound
from apps.core.utils import unique_or_conflict
from apps.portal import models as portal

from .. import reports
from ..choices import PricingCategory
from ..models import ApiUsageSample, EfficiencySample, MeteringSettings, Pricing, ResourceSample, RestoreSample, SnapshotSample
from . import serializers as s
from .base import MeteringView, errors, listing, tenant_parameters, text, window_parameters

MAX_HOURS = 2160


def _valid(serializer):
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# -- configuration ----------------------------------------------------------------------------------


class ConfigView(MeteringView):
    @extend_schema(summary="Metering configuration", responses={200: s.ConfigSerializer})
    def get(self, request):
        return Response(s.ConfigSerializer(MeteringSettings.load()).data)

    @extend_schema(summary="Update the metering configuration (all fields optional)", request=s.ConfigSerializer,
                   responses={200: s.ConfigSerializer, **errors(400)})
    def put(self, request):
        serializer = s.ConfigSerializer(MeteringSettings.load(), data=request.data, partial=True)
        _valid(serializer)
        return Response(s.ConfigSerializer(serializer.save()).data)


class OverviewView(MeteringView):
    @extend_schema(summary="Metering overview: the newest round, restores and API usage",
                   parameters=tenant_parameters(), responses={200: s.OverviewSerializer, **errors(400)})
    def get(self, request):
        return Response(reports.overview(project=text(request, "project"), domain=text(request, "domain")))


# -- sample lists -----------------------------------------------------------------------------------


class SampleList:
    """One sample list: its model, serializer, the seed's defaults and its filters."""

    def __init__(self, model, serializer, *, hours=24, limit=500, max_limit=10000, tenant=True, extra=()):
        self.model, self.serializer, self.hours, self.limit, self.max_limit = model, serializer, hours, limit, max_limit
        self.tenant, self.extra = tenant, extra

    def rows(self, request, *, paged: bool):
        hours = query_number(request, "hours", self.hours, 1, MAX_HOURS)
        tenant = {"project": text(request, "project"), "domain": text(request, "domain")} if self.tenant else {}
        rows = reports.scoped(self.model, hours=hours, **tenant)
        if "vm_id" in self.extra and text(request, "vm_id"):
            rows = rows.filter(vm_id=text(request, "vm_id"))
        if "endpoint" in self.extra and text(request, "endpoint"):
            rows = rows.filter(endpoint__icontains=text(request, "endpoint"))
        if "classification" in self.extra and request.query_params.get("classification"):
            wanted = request.query_params["classification"]
            if wanted not in s.CLASSIFICATIONS:
                raise InvalidInput(f"Invalid parameter: classification must be one of {', '.join(s.CLASSIFICATIONS)}")
            rows = rows.filter(classification=wanted)
        if not paged:
            return rows[:self.max_limit]
        return rows, *query_page(request, default_limit=self.limit, max_limit=self.max_limit)

    def parameters(self, *, paged: bool = True) -> list:
        found = tenant_parameters() if self.tenant else []
        found += window_parameters(self.hours, *((self.limit, self.max_limit) if paged else ()))
        descriptions = {"vm_id": "Filter by VM id", "endpoint": "Filter by endpoint path (partial match)",
                        "classification": "Filter: excellent, good, fair, poor, idle"}
        return found + [OpenApiParameter(name, str, description=descriptions[name]) for name in self.extra]

    def view(self, summary: str):
        spec = self

        class View(MeteringView):
            @extend_schema(summary=summary, parameters=spec.parameters(),
                           responses={200: listing(spec.serializer), **errors(400)})
            def get(self, request):
                rows, limit, offset = spec.rows(request, paged=True)
                data = spec.serializer(rows[offset:offset + limit], many=True).data
                return Response({"data": data, "count": len(data), "total": rows.count(), "limit": limit,
                                 "offset": offset})

        View.__name__ = f"{spec.model.__name__}ListView"
        return View

    def export(self, name: str):
        spec = self

        class Export(MeteringView):
            @extend_schema(summary=f"{name} metering as CSV", parameters=spec.parameters(paged=False),
                           responses={(200, "text/csv"): OpenApiTypes.STR, **errors(400)})
            def get(self, request):
                rows = spec.serializer(spec.rows(request, paged=False), many=True).data
                fields = list(spec.serializer.Meta.fields)
                return csv_response(name, fields, rows)

        Export.__name__ = f"{spec.model.__name__}ExportView"
        return Export


def csv_response(name: str, fields: list[str], rows) -> HttpResponse:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="metering-{name.lower()}-{stamp}.csv"'
    return response


RESOURCES = SampleList(ResourceSample, s.ResourceSerializer, extra=("vm_id",))
SNAPSHOTS = SampleList(SnapshotSample, s.SnapshotSerializer)
RESTORES = SampleList(RestoreSample, s.RestoreSerializer, hours=168, limit=200, max_limit=5000)
API_USAGE = SampleList(ApiUsageSample, s.ApiUsageSerializer, tenant=False, extra=("endpoint",))
EFFICIENCY = SampleList(EfficiencySample, s.EfficiencySerializer, extra=("classification",))

ResourceListView = RESOURCES.view("Resource usage samples per VM")
SnapshotListView = SNAPSHOTS.view("Snapshot samples")
RestoreListView = RESTORES.view("Finished restores")
ApiUsageListView = API_USAGE.view("API usage samples")
EfficiencyListView = EFFICIENCY.view("Efficiency scores per VM")
ResourceExportView = RESOURCES.export("Resources")
SnapshotExportView = SNAPSHOTS.export("Snapshots")
RestoreExportView = RESTORES.export("Restores")
ApiUsageExportView = API_USAGE.export("API-usage")
EfficiencyExportView = EFFICIENCY.export("Efficiency")


class ChargebackExportView(MeteringView):
    @extend_schema(summary="Chargeback per tenant as CSV: usage, cost per category and the total",
                   parameters=tenant_parameters() + window_parameters(24),
                   responses={(200, "text/csv"): OpenApiTypes.STR, **errors(400)})
    def get(self, request):
        rows = reports.chargeback(project=text(request, "project"), domain=text(request, "domain"),
                                  hours=query_number(request, "hours", 24, 1, MAX_HOURS))
        return csv_response("Chargeback", list(reports.CHARGEBACK_COLUMNS), rows)


# -- pricing ----------------------------------------------------------------------------------------


def _pricing(raw: str) -> Pricing:
    entry = Pricing.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) <= 18 else None
    if entry is None:
        raise NotFound(f"Pricing entry {raw} not found")
    return entry


def _save(serializer) -> Pricing:
    data, entry = serializer.validated_data, serializer.instance
    with unique_or_conflict(f"A {data.get('category', entry and entry.category)} pricing entry named "
                            f"{data.get('item_name', entry and entry.item_name)!r} already exists"):
        return serializer.save()


class PricingListView(MeteringView):
    @extend_schema(summary="All pricing entries", responses={200: s.PricingSerializer(many=True)})
    def get(self, request):
        return Response(s.PricingSerializer(Pricing.objects.all(), many=True).data)

    @extend_schema(summary="Create a pricing entry", request=s.PricingSerializer,
                   responses={201: s.PricingSerializer, **errors(400, 409)})
    def post(self, request):
        serializer = s.PricingSerializer(data=request.data)
        _valid(serializer)
        return Response(s.PricingSerializer(_save(serializer)).data, status=201)


class PricingDetailView(MeteringView):
    @extend_schema(summary="Update a pricing entry (all fields optional)", request=s.PricingSerializer,
                   responses={200: s.PricingSerializer, **errors(400, 404, 409)})
    def put(self, request, pricing_id: str):
        serializer = s.PricingSerializer(_pricing(pricing_id), data=request.data, partial=True)
        _valid(serializer)
        return Response(s.PricingSerializer(_save(serializer)).data)

    @extend_schema(summary="Delete a pricing entry", responses={204: None, **errors(404)})
    def delete(self, request, pricing_id: str):
        _pricing(pricing_id).delete()
        return Response(status=204)


class SyncFlavorsView(MeteringView):
    @extend_schema(summary="Add a flavor pricing entry (at 0) for each collected service offering without one",
                   request=None, responses={200: s.SyncSerializer})
    def post(self, request):
        existing = set(Pricing.objects.filter(category=PricingCategory.FLAVOR).values_list("item_name", flat=True))
        offerings = list(portal.ServiceOffering.objects.order_by("name"))
        new = [Pricing(category=PricingCategory.FLAVOR, item_name=o.name[:255], unit="per hour",
                       currency=MeteringSettings.load().cost_currency, vcpus=o.vcpus,
                       ram_gb=round(o.ram_mb / 1024, 3) if o.ram_mb is not None else None,
                       disk_gb=float((o.raw or {}).get("rootdisksize") or 0) or None, auto_populated=True)
               for o in offerings if o.name and o.name not in existing]
        new = list({p.item_name: p for p in new}.values())  # two offerings with one name are one flavor
        Pricing.objects.bulk_create(new, ignore_conflicts=True)
        return Response({"detail": f"Synced {len(new)} new flavors ({len(offerings) - len(new)} already existed)",
                         "inserted": len(new)})


class FiltersView(MeteringView):
    @extend_schema(summary="Filter options from the collected data", responses={200: s.FiltersSerializer})
    def get(self, request):
        tenants = set()
        for model in (portal.Server, portal.Volume, portal.Snapshot):
            tenants |= set(model.objects.exclude(tenant_name="").values_list("tenant_name", "domain_name"))
        return Response({
            "projects": sorted({p for p, _ in tenants}),
            "domains": sorted(set(portal.Domain.objects.values_list("name", flat=True)) | {d for _, d in tenants if d}),
            "all_tenants": [{"project": p, "domain": d} for p, d in sorted(tenants)],
            "flavors": [{"name": o.name, "vcpus": o.vcpus, "ram_mb": o.ram_mb,
                         "disk_gb": int((o.raw or {}).get("rootdisksize") or 0)}
                        for o in portal.ServiceOffering.objects.order_by("name")],
        })


