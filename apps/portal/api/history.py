"""Seed 004 "History & Audit Endpoints" over the changes the collector (and the portal's own writes) recorded.

A change is identified by its `change_hash`; deletions keep the resource's last collected state, queried as the
seed's `deletion` resource type.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_flag, query_number
from apps.core.exceptions import InvalidInput, NotFound

from .. import dashboards, models
from ..choices import RESOURCE_TYPES, ChangeAction
from .base import PortalView, choice, errors, page_window
from .shapes import TEXT, shape

ANY = {"*": {}}  # a record's fields as collected: any names, any values

TAGS = ["portal: history"]
# The seed's names (server, flavor...) and ours for what CloudStack has beyond them (account, security_group...).
VALID_TYPES = sorted(set(RESOURCE_TYPES) | {"deletion"})
# An entry of CloudStack's own event log, as collected.
EVENT = {"id": "e", "type": "VM.STOP", "level": "INFO", "state": "Completed", "description": "d", "username": "u",
         "account": "a", "domain_name": "d", "tenant_name": "t", "resource_type": TEXT, "resource_id": TEXT,
         "created": "t"}
CHANGE = {"id": 1, "resource_type": "server", "resource_id": "r", "resource_name": "n", "action": "created",
          "type": "vm_created", "changed_fields": ["f"], "change_hash": "h", "detected_at": "t", "user": "u",
          "domain_name": "d", "tenant_name": "t", "details": "d", "cloudstack_event": (EVENT, "nullable")}
# The fields worth showing first for each kind (the seed's "key field extraction").
KEY_FIELDS = {"server": ("status", "flavor_name", "vcpus", "ram_mb", "hypervisor_hostname", "ips"),
              "volume": ("state", "size_gb", "server_name", "volume_type"),
              "snapshot": ("state", "size_gb", "volume_name"), "network": ("state", "cidr", "gateway_ip"),
              "flavor": ("vcpus", "ram_mb"), "security_group": ("description", "rules")}


def _event(e: models.CloudEvent) -> dict:
    return {"id": e.cloud_id, "type": e.type, "level": e.level, "state": e.state, "description": e.description,
            "username": e.username, "account": e.account, "domain_name": e.domain_name, "tenant_name": e.tenant_name,
            "resource_type": e.resource_type or None, "resource_id": e.resource_id or None, "created": e.created}


def _change(c: models.Change) -> dict:
    """A change row (its `event` loaded with it: select_related)."""
    return {"id": c.pk, "resource_type": c.resource_type, "resource_id": c.resource_id,
            "resource_name": c.resource_name, "action": c.action, "type": dashboards.change_type(c),
            "changed_fields": sorted(c.fields), "change_hash": c.change_hash, "detected_at": c.detected_at,
            "user": dashboards.change_user(c), "domain_name": c.domain_name, "tenant_name": c.tenant_name,
            "details": dashboards.change_details(c), "cloudstack_event": _event(c.event) if c.event else None}


def _resource_type(value: str) -> str:
    if value not in VALID_TYPES:
        raise InvalidInput(f"Invalid resource_type: {value} (one of {', '.join(VALID_TYPES)})")
    return value


class HistoryView(PortalView):
    permission = "history:read"


class RecentView(HistoryView):
    @extend_schema(tags=TAGS, summary="Recent changes of every resource type, deletions included",
                   parameters=[OpenApiParameter("hours", int, description="1-168 (default 24)"),
                               OpenApiParameter("limit", int, description="1-1000 (default 100)")],
                   responses={200: shape({"changes": [CHANGE], "total": 1, "period_hours": 1,
                                          "cloudstack_events": [EVENT], "cloudstack_events_total": 1}),
                              **errors(400)})
    def get(self, request):
        hours, limit = query_number(request, "hours", 24, 1, 168), query_number(request, "limit", 100, 1, 1000)
        since = timezone.now() - timedelta(hours=hours)
        window = models.Change.objects.filter(detected_at__gte=since)
        rows = [_change(c) for c in window.select_related("event").order_by("-detected_at", "-id")[:limit]]
        # CloudStack's own log beside: also what changed nothing we collect (a failed job, a start and stop).
        events = models.CloudEvent.objects.filter(created__gte=since, state="Completed")
        return Response({"changes": rows, "total": window.count(), "period_hours": hours,
                         "cloudstack_events": [_event(e) for e in events.order_by("-created", "-id")[:limit]],
                         "cloudstack_events_total": events.count()})


class MostChangedView(HistoryView):
    @extend_schema(tags=TAGS, summary="Resources with the most recorded changes",
                   parameters=[OpenApiParameter("hours", int, description="1-8760 (default 24)"),
                               OpenApiParameter("limit", int, description="1-1000 (default 20)")],
                   responses={200: shape({"resources": [{"resource_type": "server", "resource_id": "r",
                                                         "resource_name": "n", "change_count": 1,
                                                         "last_change": "t"}], "period_hours": 1}), **errors(400)})
    def get(self, request):
        hours, limit = query_number(request, "hours", 24, 1, 8760), query_number(request, "limit", 20, 1, 1000)
        rows = (models.Change.objects.filter(detected_at__gte=timezone.now() - timedelta(hours=hours))
                .values("resource_type", "resource_id").annotate(change_count=Count("id"), last_change=Max(
                    "detected_at"), resource_name=Max("resource_name"))
                .order_by("-change_count", "-last_change")[:limit])
        return Response({"resources": list(rows), "period_hours": hours})


class ByTimeframeView(HistoryView):
    @extend_schema(tags=TAGS, summary="Changes grouped by hour or day",
                   parameters=[OpenApiParameter("timeframe", str, enum=["hour", "day"]),
                               OpenApiParameter("days", int, description="1-90 (default 7)")],
                   responses={200: shape({"timeframe": "day", "period_days": 1, "periods": [{
                       "period": "p", "total": 1, "created": 1, "changed": 1, "deleted": 1,
                       "by_resource_type": {"*": 1}}]}), **errors(400)})
    def get(self, request):
        timeframe = choice(request, "timeframe", "day", ("hour", "day"))
        days = query_number(request, "days", 7, 1, 90)
        since = timezone.now() - timedelta(days=days)
        periods: dict[str, dict] = {}
        for at, action, rtype in models.Change.objects.filter(detected_at__gte=since).values_list(
                "detected_at", "action", "resource_type"):
            key = at.strftime("%Y-%m-%dT%H:00Z" if timeframe == "hour" else "%Y-%m-%d")
            bucket = periods.setdefault(key, {"period": key, "total": 0, "created": 0, "changed": 0, "deleted": 0,
                                              "by_resource_type": {}})
            bucket["total"] += 1
            bucket[action] += 1
            bucket["by_resource_type"][rtype] = bucket["by_resource_type"].get(rtype, 0) + 1
        return Response({"timeframe": timeframe, "period_days": days,
                         "periods": [periods[k] for k in sorted(periods)]})


def _history(resource_type: str, resource_id: str):
    if resource_type == "deletion":
        rows = models.Change.objects.filter(resource_id=resource_id, action=ChangeAction.DELETED)
    else:
        rows = models.Change.objects.filter(resource_type=resource_type, resource_id=resource_id)
    if not rows.exists():
        raise NotFound(f"No history for {resource_type} {resource_id}")
    return rows


def _deletion_reason(change: models.Change) -> str:
    if change.user:
        return f"deleted through the portal by {change.user}"
    if change.event:
        return f"deleted in CloudStack by {change.event.username}: {change.event.description}"
    return "deleted in CloudStack (gone at collection)"


class ResourceHistoryView(HistoryView):
    @extend_schema(tags=TAGS, summary="A resource's complete change history (or its deletion record)",
                   parameters=[OpenApiParameter("limit", int, description="1-1000 (default 100)")],
                   responses={200: shape({"resource_type": "server", "resource_id": "r", "resource_name": "n",
                                          "total": 1, "history": [{**CHANGE, "fields": ANY, "state": ANY,
                                                                "original_resource_type": TEXT, "reason": TEXT,
                                                                "last_seen": TEXT}],
                                          "cloudstack_events": [EVENT]}),
                              **errors(400, 404)})
    def get(self, request, resource_type: str, resource_id: str):
        _resource_type(resource_type)
        limit = query_number(request, "limit", 100, 1, 1000)
        rows = _history(resource_type, resource_id)
        history = []
        for change in rows.select_related("event").order_by("-detected_at", "-id")[:limit]:
            entry = {**_change(change), "fields": change.fields, "state": change.snapshot,
                     "original_resource_type": None, "reason": None, "last_seen": None}
            if resource_type == "deletion":
                entry.update(original_resource_type=change.resource_type, reason=_deletion_reason(change),
                             last_seen=change.snapshot.get("last_seen"))
            history.append(entry)
        events = models.CloudEvent.objects.filter(resource_id=resource_id, state="Completed")
        if resource_type != "deletion":
            events = events.filter(resource_type=resource_type)
        return Response({"resource_type": resource_type, "resource_id": resource_id,
                         "resource_name": history[0]["resource_name"] if history else "", "total": rows.count(),
                         "history": history,
                         "cloudstack_events": [_event(e) for e in events.order_by("-created", "-id")[:limit]]})


class CompareView(HistoryView):
    @extend_schema(tags=TAGS, summary="Field-level differences between two history entries",
                   parameters=[OpenApiParameter("current_hash", str, required=True),
                               OpenApiParameter("previous_hash", str, required=True)],
                   responses={200: shape({"resource_type": "server", "resource_id": "r",
                                          "current": ({"change_hash": "h", "detected_at": "t"}, "nullable"),
                                          "previous": ({"change_hash": "h", "detected_at": "t"}, "nullable"),
                                          "differences": [{"field": "f", "previous": {}, "current": {}}],
                                          "message": TEXT}), **errors(400, 404)})
    def get(self, request, resource_type: str, resource_id: str):
        _resource_type(resource_type)
        if resource_type == "deletion":
            return Response({"resource_type": resource_type, "resource_id": resource_id, "current": None,
                             "previous": None, "differences": [],
                             "message": "Comparison is not available for deletions: see the resource's history"})
        hashes = {name: request.query_params.get(name) for name in ("current_hash", "previous_hash")}
        missing = [name for name, value in hashes.items() if not value]
        if missing:
            raise InvalidInput(f"Invalid parameter: {' and '.join(missing)} required")
        rows = {c.change_hash: c for c in _history(resource_type, resource_id).filter(
            change_hash__in=hashes.values())}
        for name, value in hashes.items():
            if value not in rows:
                raise NotFound(f"No {resource_type} {resource_id} history entry with {name} {value}")
        current, previous = rows[hashes["current_hash"]], rows[hashes["previous_hash"]]
        keys = sorted(set(current.snapshot) | set(previous.snapshot))
        differences = [{"field": k, "previous": previous.snapshot.get(k), "current": current.snapshot.get(k)}
                       for k in keys if current.snapshot.get(k) != previous.snapshot.get(k)]
        return Response({"resource_type": resource_type, "resource_id": resource_id,
                         "current": {"change_hash": current.change_hash, "detected_at": current.detected_at},
                         "previous": {"change_hash": previous.change_hash, "detected_at": previous.detected_at},
                         "differences": differences, "message": None})


class DetailsView(HistoryView):
    @extend_schema(tags=TAGS, summary="A resource's changes numbered in order, with its key fields",
                   responses={200: shape({"resource_type": "server", "resource_id": "r", "resource_name": "n",
                                          "total_changes": 1, "changes": [{**CHANGE, "sequence": 1, "key_fields": ANY,
                                                                           "fields": ANY}]}), **errors(400, 404)})
    def get(self, request, resource_type: str, resource_id: str):
        _resource_type(resource_type)
        rows = list(_history(resource_type, resource_id).select_related("event").order_by("detected_at", "id")[:1000])
        keys = KEY_FIELDS.get(resource_type, ())
        changes = [{**_change(c), "sequence": n, "fields": c.fields,
                    "key_fields": {k: c.snapshot.get(k) for k in keys if k in c.snapshot}}
                   for n, c in enumerate(rows, start=1)]
        return Response({"resource_type": resource_type, "resource_id": resource_id,
                         "resource_name": rows[-1].resource_name, "total_changes": len(rows), "changes": changes})


class TimelineView(HistoryView):
    permission = "audit:read"

    @extend_schema(tags=TAGS, summary="Changes of one resource type day by day",
                   parameters=[OpenApiParameter("days", int, description="1-365 (default 30)")],
                   responses={200: shape({"resource_type": "server", "period_days": 1, "total_changes": 1,
                                          "timeline": [{"date": "d", "created": 1, "changed": 1, "deleted": 1,
                                                        "total": 1, "cloudstack_events": 1,
                                                        "cloudstack_errors": 1}]}), **errors(400)})
    def get(self, request, resource_type: str):
        _resource_type(resource_type)
        days = query_number(request, "days", 30, 1, 365)
        rows = models.Change.objects.filter(detected_at__gte=timezone.now() - timedelta(days=days))
        rows = rows.filter(action=ChangeAction.DELETED) if resource_type == "deletion" else rows.filter(
            resource_type=resource_type)
        timeline: dict = {}

        def day_of(at):
            return timeline.setdefault(at.date(), {"date": at.date(), "created": 0, "changed": 0, "deleted": 0,
                                                   "total": 0, "cloudstack_events": 0, "cloudstack_errors": 0})

        for at, action in rows.values_list("detected_at", "action"):
            day = day_of(at)
            day[action] += 1
            day["total"] += 1
        # CloudStack's finished actions on this kind of resource, and how many of them failed.
        events = models.CloudEvent.objects.filter(created__gte=timezone.now() - timedelta(days=days),
                                                  state="Completed", resource_type=resource_type)
        for at, level in events.values_list("created", "level"):
            day = day_of(at)
            day["cloudstack_events"] += 1
            day["cloudstack_errors"] += level == "ERROR"
        return Response({"resource_type": resource_type, "period_days": days,
                         "total_changes": sum(d["total"] for d in timeline.values()),
                         "timeline": [timeline[k] for k in sorted(timeline)]})


def _date(request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"Invalid parameter: {name} must be a date (YYYY-MM-DD)") from None


class ComplianceReportView(HistoryView):
    permission = "audit:read"

    @extend_schema(tags=TAGS, summary="Snapshot compliance, drift and changes over a period",
                   parameters=[OpenApiParameter("start_date", str, description="YYYY-MM-DD (default 30 days ago)"),
                               OpenApiParameter("end_date", str, description="YYYY-MM-DD (default today)")],
                   responses={200: shape({
                       "start_date": "d", "end_date": "d", "generated_at": "t", "snapshot_compliance": 1.5,
                       "volumes_total": 1, "volumes_compliant": 1,
                       "drift": {"total": 1, "unacknowledged": 1, "by_severity": {"*": 1}},
                       "changes": {"total": 1, "created": 1, "changed": 1, "deleted": 1},
                       "cloudstack_events": {"total": 1, "errors": 1, "by_user": {"*": 1}, "by_type": {"*": 1}},
                       "tenants": [{"tenant_id": "t", "tenant_name": "n", "compliance_percentage": 1.5,
                                    "drift_events": 1}]}), **errors(400)})
    def get(self, request):
        today = timezone.now().date()
        end = _date(request, "end_date", today)
        start = _date(request, "start_date", end - timedelta(days=30))
        if start > end:
            raise InvalidInput("Invalid parameter: start_date must not be after end_date")
        zone = timezone.get_current_timezone()
        first, last = datetime.combine(start, time.min, zone), datetime.combine(end, time.max, zone)
        window = Q(detected_at__gte=first, detected_at__lte=last)
        sla = dashboards.snapshot_sla(2)
        events = models.DriftEvent.objects.filter(window)
        drift_by_tenant = dict(events.values_list("tenant_id").annotate(n=Count("id")))
        changes = dict(models.Change.objects.filter(window).values_list("action").annotate(n=Count("id")))
        # Who did what in CloudStack over the period: its finished actions by user and by type.
        actions = models.CloudEvent.objects.filter(created__gte=first, created__lte=last, state="Completed")
        return Response({
            "start_date": start, "end_date": end, "generated_at": timezone.now(),
            "snapshot_compliance": sla["overall_compliance"],
            "volumes_total": sum(t["total_volumes"] for t in sla["tenants"]),
            "volumes_compliant": sum(t["compliant"] for t in sla["tenants"]),
            "drift": {"total": events.count(), "unacknowledged": events.filter(acknowledged=False).count(),
                      "by_severity": dict(events.values_list("severity").annotate(n=Count("id")))},
            "changes": {"total": sum(changes.values()), **{a: changes.get(a, 0) for a in ChangeAction.values}},
            "cloudstack_events": {
                "total": actions.count(), "errors": actions.filter(level="ERROR").count(),
                "by_user": dict(actions.values_list("username").annotate(n=Count("id")).order_by()),
                "by_type": dict(actions.values_list("type").annotate(n=Count("id")).order_by())},
            "tenants": [{"tenant_id": t["tenant_id"], "tenant_name": t["tenant_name"],
                         "compliance_percentage": t["compliance_percentage"],
                         "drift_events": drift_by_tenant.get(t["tenant_id"], 0)} for t in sla["tenants"]],
        })


class CloudStackEventsView(HistoryView):
    permission = "audit:read"

    @extend_schema(tags=TAGS, summary="Who did what in CloudStack: its event log as collected, newest first",
                   parameters=[OpenApiParameter("username", str, description="who acted (CloudStack's user)"),
                               OpenApiParameter("type", str, description="CloudStack's event type, e.g. VM.STOP"),
                               OpenApiParameter("level", str, enum=["INFO", "WARN", "ERROR"]),
                               OpenApiParameter("resource_type", str), OpenApiParameter("resource_id", str),
                               OpenApiParameter("tenant_id", str),
                               OpenApiParameter("all_states", bool, description="also the Scheduled and Started "
                                                "events of async actions (default: finished actions only)"),
                               OpenApiParameter("days", int, description="1-365 (default 30)"),
                               OpenApiParameter("limit", int, description="1-1000 (default 100)"),
                               OpenApiParameter("offset", int)],
                   responses={200: shape({"events": [EVENT], "total": 1, "period_days": 1}), **errors(400)})
    def get(self, request):
        days, window = query_number(request, "days", 30, 1, 365), page_window(request)
        level = choice(request, "level", None, ("INFO", "WARN", "ERROR"))
        events = models.CloudEvent.objects.filter(created__gte=timezone.now() - timedelta(days=days))
        if query_flag(request, "all_states") is not True:
            events = events.filter(state="Completed")
        if level:
            events = events.filter(level=level)
        for name in ("username", "type", "resource_type", "resource_id", "tenant_id"):
            if request.query_params.get(name):
                events = events.filter(**{name: request.query_params[name]})
        shown = events.order_by("-created", "-id")[window["offset"]:window["offset"] + window["limit"]]
        return Response({"events": [_event(e) for e in shown], "total": events.count(), "period_days": days})
