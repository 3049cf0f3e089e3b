"""Seed 004's runbook endpoints under /api/runbooks."""
from __future__ import annotations

from django.db.models import Count, Max, Q, Sum
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import errors, query_page
from apps.core.exceptions import InvalidInput

from .. import catalog, services
from ..choices import PENDING, ExecutionStatus
from ..models import ApprovalPolicy, Execution
from . import serializers as s
from .base import RunbooksView


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _runbook(rb: catalog.Runbook) -> dict:
    return {"runbook_id": rb.runbook_id, "name": rb.name, "display_name": rb.display_name,
            "description": rb.description, "category": rb.category, "risk_level": rb.risk_level,
            "supports_dry_run": rb.supports_dry_run, "enabled": rb.enabled, "parameters_schema": rb.parameters_schema}


class RunbookListView(RunbooksView):
    @extend_schema(summary="List the runbook catalog", responses=s.RunbookSerializer(many=True))
    def get(self, request):
        return Response([_runbook(rb) for rb in catalog.CATALOG.values()])


class RunbookDetailView(RunbooksView):
    @extend_schema(summary="One runbook's definition", responses={200: s.RunbookSerializer, **errors(404)})
    def get(self, request, runbook_name: str):
        return Response(_runbook(services.runbook_get(runbook_name)))


class TriggerView(RunbooksView):
    write_permission = "runbooks:write"

    @extend_schema(summary="Trigger a runbook (a dry run answers with its result; a real run may wait for approval)",
                   request=s.TriggerSerializer, responses={200: s.ExecutionSerializer, **errors(404, 409, 503)})
    def post(self, request):
        data = _valid(s.TriggerSerializer, request.data)
        execution = services.trigger(user=request.user, runbook_name=data["runbook_name"], dry_run=data["dry_run"],
                                     parameters=data.get("parameters"))
        execution.refresh_from_db()  # an eager worker may have run it already
        return Response(services.shown_once(execution, s.ExecutionSerializer(execution).data))


class ApproveView(RunbooksView):
    write_permission = "runbooks:admin"

    @extend_schema(summary="Approve or reject a pending execution (an admin other than its trigger)",
                   request=s.DecisionSerializer, responses={200: s.ExecutionDetailSerializer, **errors(404, 409)})
    def post(self, request, execution_id: str):
        execution = services.execution_get(execution_id)
        data = _valid(s.DecisionSerializer, request.data)
        execution = services.decide(user=request.user, execution=execution, decision=data["decision"],
                                    comment=data["comment"])
        execution.refresh_from_db()
        return Response(services.shown_once(execution, s.ExecutionDetailSerializer(execution).data))


class CancelView(RunbooksView):
    write_permission = "runbooks:write"

    @extend_schema(summary="Cancel a pending or executing run", request=None,
                   responses={200: s.ExecutionDetailSerializer, **errors(404, 409)})
    def post(self, request, execution_id: str):
        execution = services.cancel(user=request.user, execution=services.execution_get(execution_id))
        return Response(s.ExecutionDetailSerializer(execution).data)


class HistoryView(RunbooksView):
    @extend_schema(summary="Execution history, newest first", responses={200: s.HistorySerializer},
                   parameters=[OpenApiParameter("runbook_name", str),
                               OpenApiParameter("status", str, enum=list(ExecutionStatus.values)),
                               OpenApiParameter("limit", int, description="Results per page (default 25, max 1000)"),
                               OpenApiParameter("offset", int, description="Starting position (default 0)")])
    def get(self, request):
        limit, offset = query_page(request, default_limit=25)
        rows = Execution.objects.all()
        if request.query_params.get("runbook_name"):
            rows = rows.filter(runbook_name=request.query_params["runbook_name"])
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ExecutionStatus.values:
                raise InvalidInput(f"status must be one of {', '.join(ExecutionStatus.values)}")
            rows = rows.filter(status=wanted)
        return Response({"executions": s.ExecutionSummarySerializer(rows[offset:offset + limit], many=True).data,
                         "total": rows.count()})


class ExecutionDetailView(RunbooksView):
    @extend_schema(summary="An execution with its parameters, result and approval history",
                   responses={200: s.ExecutionDetailSerializer, **errors(404)})
    def get(self, request, execution_id: str):
        execution = services.execution_get(execution_id)
        return Response(services.shown_once(execution, s.ExecutionDetailSerializer(execution).data))


class PendingApprovalsView(RunbooksView):
    permission = "runbooks:admin"

    @extend_schema(summary="Executions waiting for an approver", responses=s.ExecutionDetailSerializer(many=True))
    def get(self, request):
        rows = Execution.objects.filter(status=ExecutionStatus.PENDING_APPROVAL).order_by("triggered_at", "id")
        return Response(s.ExecutionDetailSerializer(rows, many=True).data)


_POLICY_KEY = OpenApiParameter("runbook_name", str, OpenApiParameter.PATH,
                               description="The runbook's name (GET, PUT); the policy_id (DELETE), as the seed has it")


class PolicyView(RunbooksView):
    write_permission = "runbooks:admin"

    @extend_schema(summary="A runbook's approval policies", parameters=[_POLICY_KEY],
                   responses={200: s.PolicySerializer(many=True), **errors(404)})
    def get(self, request, runbook_name: str):
        runbook = services.runbook_get(runbook_name)
        return Response(s.PolicySerializer(ApprovalPolicy.objects.filter(runbook_name=runbook.name), many=True).data)

    @extend_schema(summary="Create or update the runbook's policy for a trigger role", parameters=[_POLICY_KEY],
                   request=s.PolicySerializer, responses={200: s.PolicySerializer, **errors(404)})
    def put(self, request, runbook_name: str):
        runbook = services.runbook_get(runbook_name)
        policy, _ = services.policy_save(runbook, _valid(s.PolicySerializer, request.data))
        return Response(s.PolicySerializer(policy).data)

    @extend_schema(summary="Delete an approval policy by its policy_id", parameters=[_POLICY_KEY],
                   responses={204: None, **errors(404)})
    def delete(self, request, runbook_name: str):
        services.policy_delete(runbook_name)
        return Response(status=204)


class StatsView(RunbooksView):
    @extend_schema(summary="Execution counts per runbook", responses=s.StatsSerializer(many=True))
    def get(self, request):
        rows = (Execution.objects.order_by().values("runbook_name").annotate(
            total_executions=Count("id"),
            completed=Count("id", filter=Q(status=ExecutionStatus.COMPLETED)),
            failed=Count("id", filter=Q(status=ExecutionStatus.FAILED)),
            pending=Count("id", filter=Q(status__in=PENDING)),
            rejected=Count("id", filter=Q(status=ExecutionStatus.REJECTED)),
            total_items_found=Sum("items_found"), total_items_actioned=Sum("items_actioned"),
            last_run=Max("triggered_at")).order_by("runbook_name"))
        return Response(s.StatsSerializer(rows, many=True).data)
