"""Seed 004 "Drift Detection Endpoints": summary, events (list, one, acknowledge, bulk), rules (list, toggle)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.core.api.detail import query_flag
from apps.core.exceptions import NotFound

from .. import drift, models
from ..choices import Severity
from .base import PortalView, choice, errors, page_window
from .shapes import TEXT, shape

TAGS = ["portal: drift"]
EVENT = {"id": 1, "resource_type": "server", "resource_id": "r", "resource_name": "n", "field_name": "f",
         "old_value": TEXT, "new_value": TEXT, "severity": "critical", "rule_name": "r", "detected_at": "t",
         "acknowledged": True, "acknowledged_by": TEXT, "acknowledged_at": TEXT, "domain_name": "d",
         "tenant_name": "t"}
EVENT_FIELDS = [k for k in EVENT if k != "rule_name"]
SORTS = {"detected_at": "detected_at", "severity": "severity", "resource_type": "resource_type",
         "resource_name": "resource_name", "field_name": "field_name"}
RESOURCE_TYPES = sorted({rule[0] for rule in drift.BUILTIN})


def _scoped(request, queryset):
    for name in ("domain_name", "tenant_name"):
        if request.query_params.get(name):
            queryset = queryset.filter(**{name: request.query_params[name]})
    return queryset


def _event(row: dict) -> dict:
    return {**{k: row[k] for k in EVENT_FIELDS}, "rule_name": row["rule__rule_name"]}


class DriftView(PortalView):
    permission = "drift:read"
    write_permission = "drift:write"


class SummaryView(DriftView):
    @extend_schema(tags=TAGS, summary="Drift events by severity, resource type and acknowledgement",
                   parameters=[OpenApiParameter("domain_name", str), OpenApiParameter("tenant_name", str)],
                   responses={200: shape({"total_events": 1, "unacknowledged": 1,
                                          "by_severity": {"critical": 1, "warning": 1, "info": 1},
                                          "by_resource_type": {"*": 1}, "last_detected_at": TEXT}),
                              **errors(400)})
    def get(self, request):
        events = _scoped(request, models.DriftEvent.objects.all())
        totals = events.aggregate(total=Count("id"), open=Count("id", filter=Q(acknowledged=False)),
                                  last=Max("detected_at"))
        severities = dict(events.values_list("severity").annotate(n=Count("id")))
        types = dict(events.values_list("resource_type").annotate(n=Count("id")))
        return Response({"total_events": totals["total"], "unacknowledged": totals["open"],
                         "by_severity": {s: severities.get(s, 0) for s in Severity.values},
                         "by_resource_type": dict(sorted(types.items())), "last_detected_at": totals["last"]})


class EventsView(DriftView):
    @extend_schema(tags=TAGS, summary="Drift events, filtered, sorted and paged", operation_id="drift_events_list",
                   parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int),
                               OpenApiParameter("sort_by", str, enum=sorted(SORTS)),
                               OpenApiParameter("sort_dir", str, enum=["asc", "desc"]),
                               OpenApiParameter("resource_type", str, enum=RESOURCE_TYPES),
                               OpenApiParameter("severity", str, enum=Severity.values),
                               OpenApiParameter("acknowledged", bool), OpenApiParameter("domain_name", str),
                               OpenApiParameter("tenant_name", str), OpenApiParameter("search", str)],
                   responses={200: shape({"total": 1, "page": 1, "page_size": 1, "events": [EVENT]}), **errors(400)})
    def get(self, request):
        window = page_window(request)
        events = _scoped(request, models.DriftEvent.objects.all())
        resource_type = choice(request, "resource_type", None, RESOURCE_TYPES)
        severity = choice(request, "severity", None, Severity.values)
        acknowledged = query_flag(request, "acknowledged")
        if resource_type:
            events = events.filter(resource_type=resource_type)
        if severity:
            events = events.filter(severity=severity)
        if acknowledged is not None:
            events = events.filter(acknowledged=acknowledged)
        if request.query_params.get("search"):
            text = request.query_params["search"]
            events = events.filter(Q(resource_name__icontains=text) | Q(resource_id__icontains=text))
        column = SORTS[choice(request, "sort_by", "detected_at", sorted(SORTS))]
        descending = choice(request, "sort_dir", "desc", ("asc", "desc")) == "desc"
        events = events.order_by(f"-{column}" if descending else column, "-id")
        rows = events.values(*EVENT_FIELDS, "rule__rule_name")[window["offset"]:window["offset"] + window["limit"]]
        page = window.get("page", window["offset"] // window["limit"] + 1)
        return Response({"total": events.count(), "page": page, "page_size": window["limit"],
                         "events": [_event(r) for r in rows]})


def _number(text: str) -> int | None:
    """A path's numeric id (any text reaches the view, so a bad one is this API's 404, not the site's)."""
    return int(text) if text.isdigit() and len(text) < 19 else None


def _get_event(event_id: str) -> models.DriftEvent:
    event = models.DriftEvent.objects.select_related("rule").filter(pk=_number(event_id)).first()
    if event is None:
        raise NotFound(f"Drift event {event_id} not found")
    return event


class EventView(DriftView):
    @extend_schema(tags=TAGS, summary="One drift event with its rule",
                   responses={200: shape({**EVENT, "rule_id": 1, "rule_description": "d"}), **errors(404)})
    def get(self, request, id: str):  # noqa: A002 (the path's name, as the role matrix's other numeric ids)
        event = _get_event(id)
        body = {k: getattr(event, k) for k in EVENT_FIELDS}
        return Response({**body, "rule_id": event.rule_id, "rule_name": event.rule.rule_name,
                         "rule_description": event.rule.description})


ACK = {"acknowledged_by": "u", "acknowledged_at": "t"}


def _acknowledge(request, ids) -> tuple[int, dict]:
    stamp = {"acknowledged": True, "acknowledged_by": request.user.get_username(), "acknowledged_at": timezone.now()}
    with transaction.atomic():
        count = models.DriftEvent.objects.filter(pk__in=ids, acknowledged=False).update(**stamp)
    return count, stamp


class AcknowledgeView(DriftView):
    @extend_schema(tags=TAGS, summary="Acknowledge one drift event", request=None,
                   responses={200: shape({"id": 1, "acknowledged": True, **ACK}), **errors(404)})
    def put(self, request, id: str):  # noqa: A002
        event = _get_event(id)
        if not event.acknowledged:
            _acknowledge(request, [event.pk])
            event.refresh_from_db()
        return Response({"id": event.pk, "acknowledged": True, "acknowledged_by": event.acknowledged_by,
                         "acknowledged_at": event.acknowledged_at})


class BulkSerializer(serializers.Serializer):
    event_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=10_000)


class BulkAcknowledgeView(DriftView):
    @extend_schema(tags=TAGS, summary="Acknowledge several drift events", request=BulkSerializer,
                   responses={200: shape({"acknowledged_count": 1, **ACK}), **errors(400)})
    def put(self, request):
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count, stamp = _acknowledge(request, serializer.validated_data["event_ids"])
        return Response({"acknowledged_count": count, "acknowledged_by": stamp["acknowledged_by"],
                         "acknowledged_at": stamp["acknowledged_at"]})


RULE = {"id": 1, "resource_type": "server", "field_name": "f", "rule_name": "r", "description": "d",
        "severity": "warning", "enabled": True}


class RulesView(DriftView):
    @extend_schema(tags=TAGS, summary="The built-in drift rules and whether each is on",
                   responses={200: shape({"rules": [RULE], "total": 1})})
    def get(self, request):
        drift.ensure_rules()
        rules = list(models.DriftRule.objects.values(*RULE))
        return Response({"rules": rules, "total": len(rules)})


class RuleUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class RuleView(DriftView):
    @extend_schema(tags=TAGS, summary="Turn a drift rule on or off", request=RuleUpdateSerializer,
                   responses={200: shape({"id": 1, "rule_name": "r", "enabled": True, "updated_by": "u",
                                          "updated_at": "t"}), **errors(400, 404)})
    def put(self, request, id: str):  # noqa: A002
        serializer = RuleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        drift.ensure_rules()
        rule = models.DriftRule.objects.filter(pk=_number(id)).first()
        if rule is None:
            raise NotFound(f"Drift rule {id} not found")
        rule.enabled = serializer.validated_data["enabled"]
        rule.updated_by, rule.updated_at = request.user.get_username(), timezone.now()
        rule.save(update_fields=["enabled", "updated_by", "updated_at"])
        return Response({"id": rule.pk, "rule_name": rule.rule_name, "enabled": rule.enabled,
                         "updated_by": rule.updated_by, "updated_at": rule.updated_at})
