"""Seed 004's monitoring: request metrics (public and signed-in), and the recent logs (admins), from the log ring
core keeps for /api/v1/debug/logs. Seed 004's ``GET /health`` is core's (seed 001's answer, the older contract)."""
from __future__ import annotations

import time

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import query_number
from apps.core.exceptions import InvalidInput
from apps.core.logging import RingBufferHandler

from .. import middleware, selectors
from ..permissions import AUTHENTICATED, PUBLIC
from . import serializers as s
from .base import AccountsView

TAGS = ["portal: monitoring"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _metrics() -> dict:
    counts = middleware.figures()
    requests = counts["requests"]
    return {"uptime_seconds": int(time.time() - middleware.STARTED), "request_count": requests,
            "avg_response_time_ms": round(counts["total_ms"] / requests, 1) if requests else 0.0,
            "error_rate": round(counts["errors"] / requests, 4) if requests else 0.0,
            "active_sessions": selectors.active_sessions()}


class PublicMetricsView(AccountsView, tags=TAGS, answer=s.MetricsSerializer, read=_metrics,
                        operation_id="portal_metrics_public",
                        summary="Request counts, response time, error rate, sessions (public)"):
    requires = {"get": PUBLIC}


class MetricsView(AccountsView, tags=TAGS, answer=s.MetricsSerializer, read=_metrics, operation_id="portal_metrics",
                  summary="Request counts, response time, error rate, sessions"):
    requires = {"get": AUTHENTICATED}


class LogsView(AccountsView):
    requires = {"get": "logs:read"}

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="Default 100, 1 to 1000"),
                               OpenApiParameter("level", str, enum=LEVELS, description="This level and above"),
                               OpenApiParameter("source", str, description="Logger name prefix, e.g. apps.accounts"),
                               OpenApiParameter("log_file", str, enum=["all"],
                                                description='Only "all": the platform keeps recent records in memory')],
                   responses={200: s.LogsSerializer}, tags=TAGS,
                   summary="Recent log records of the answering web process (admin)")
    def get(self, request):
        params = request.query_params
        limit = query_number(request, "limit", 100, 1, 1000)
        level = params.get("level", "").upper()
        if level and level not in LEVELS:
            raise InvalidInput(f"Invalid parameter: level must be one of {', '.join(LEVELS)}")
        if params.get("log_file", "all") != "all":
            raise InvalidInput('Invalid parameter: log_file must be "all" (records are kept in memory, not files)')
        records = RingBufferHandler.recent(limit=RingBufferHandler.capacity, level=level or None)
        source = params.get("source", "")
        if source:
            records = [r for r in records if r["logger"] == source or r["logger"].startswith(source + ".")]
        records = records[-limit:]
        return Response(s.LogsSerializer({"logs": records, "total": len(records), "limit": limit}).data)
