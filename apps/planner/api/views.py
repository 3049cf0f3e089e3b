"""Projects, the RVTools upload, the inventory, assessment, bandwidth, sizing and the plan (seed 004 "Migration
Planner"). Tenants, dependencies, network mappings and cohorts: ``planning_views.py``."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView

from apps.core.api.validation import validated
from apps.core.exceptions import InvalidInput, NotFound

from .. import plan, planning, selectors, services
from ..choices import MigrationMode, OsFamily, RiskLevel
from ..filtersets import SORTABLE, SourceVMFilterSet
from ..models import SourceVM
from . import serializers as s
from .base import ADMIN, TAGS, PlannerView, ProjectCommand, errors, ok
from .pagination import MAX_LIMIT, PagePagination

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ProjectListView(PlannerView):
    @extend_schema(responses={200: s.ProjectListAnswer}, tags=TAGS, operation_id="migration_projects_list",
                   summary="List migration projects (newest first)")
    def get(self, request):
        return ok(s.ProjectListAnswer({"projects": selectors.projects()}).data)

    @extend_schema(request=s.ProjectWriteSerializer, responses={201: s.ProjectAnswer}, tags=TAGS,
                   summary="Create a migration project (draft)")
    def post(self, request):
        data = validated(s.ProjectWriteSerializer, request.data)
        if not data.get("name"):
            raise InvalidInput("Invalid request: name: This field is required.")
        project = services.project_create(data=data)
        return ok(s.ProjectAnswer({"project": project}).data, status=201)


class ProjectDetailView(PlannerView):
    access = {"delete": ADMIN}

    @extend_schema(responses={200: s.ProjectAnswer}, tags=TAGS, summary="A migration project")
    def get(self, request, project_id):
        return ok(s.ProjectAnswer({"project": services.project_get(project_id)}).data)

    @extend_schema(request=s.ProjectWriteSerializer, responses={200: s.ProjectAnswer}, tags=TAGS,
                   summary="Change a project's settings (any subset)")
    def patch(self, request, project_id):
        project = services.project_get(project_id)
        data = validated(s.ProjectWriteSerializer, request.data, partial=True)
        return ok(s.ProjectAnswer({"project": services.project_update(project=project, data=data)}).data)

    @extend_schema(responses={200: s.StatusAnswer}, tags=TAGS, summary="Delete a project and everything in it")
    def delete(self, request, project_id):
        services.project_delete(project=services.project_get(project_id))
        return ok({"status": "ok"})


class UploadView(PlannerView):
    @extend_schema(request={"multipart/form-data": s.UploadSerializer}, responses={200: s.UploadAnswer}, tags=TAGS,
                   summary="Upload an RVTools export (replaces the project's source data)")
    def post(self, request, project_id):
        project = services.project_get(project_id)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Invalid request: file: an RVTools .xlsx file is required (multipart field 'file')")
        if upload.size > MAX_UPLOAD_BYTES:
            raise InvalidInput(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
        stats = services.upload_rvtools(project=project, stream=upload, file_name=upload.name or "")
        return ok({"stats": stats})


def _query(name: str, description: str, enum=None, kind=OpenApiTypes.STR) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, enum=enum)


VM_LIST_PARAMETERS = [
    _query("page", "Page number (default 1)", kind=OpenApiTypes.INT),
    _query("limit", f"Page size (default 50, at most {MAX_LIMIT})", kind=OpenApiTypes.INT),
    _query("sort", "Column to sort by (default vm_name)", SORTABLE),
    _query("order", "asc (default) or desc", ["asc", "desc"]),
    _query("search", "Part of the VM name"),
    _query("risk_level", "GREEN, YELLOW or RED", RiskLevel.values),
    _query("migration_mode", "The engine's migration mode", MigrationMode.values),
    _query("tenant", "The assigned tenant's name"),
    _query("os_family", "windows, linux or other", OsFamily.values),
    _query("power_state", "poweredOn, poweredOff or suspended"),
    _query("cluster", "The source cluster's name"),
]


class ImportDiscoveredView(ProjectCommand, run=services.import_discovered, body=s.ImportDiscoveredSerializer, key="stats",
                           answer=s.UploadAnswer,
                           summary="Take the inventory from the platform's discovered VMs (replaces the source data)"):
    pass


class VMListView(PlannerView, GenericAPIView):
    serializer_class = s.VMSerializer
    filterset_class = SourceVMFilterSet
    pagination_class = PagePagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SourceVM.objects.none()
        return selectors.vms(services.project_get(self.kwargs["project_id"]))

    @extend_schema(parameters=VM_LIST_PARAMETERS, responses={200: s.VMPageAnswer}, tags=TAGS,
                   summary="The project's VMs: paged, sortable, filterable")
    def get(self, request, project_id):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class VMDetailsView(PlannerView):
    @extend_schema(responses={200: s.VMDetailAnswer}, tags=TAGS, summary="A VM's disks and NICs")
    def get(self, request, project_id, vm_name):
        vm = selectors.vm_details(services.project_get(project_id), vm_name)
        if vm is None:
            raise NotFound(f"VM {vm_name[:255]!r} not found in this project")
        return ok(s.VMDetailAnswer({"vm_name": vm.vm_name, "disks": vm.disks.all(), "nics": vm.nics.all()}).data)


class HostListView(PlannerView):
    @extend_schema(responses={200: s.HostListAnswer}, tags=TAGS, summary="The source hosts (vHost)")
    def get(self, request, project_id):
        return ok(s.HostListAnswer({"hosts": services.project_get(project_id).hosts.all()}).data)


class ClusterListView(PlannerView):
    @extend_schema(responses={200: s.ClusterListAnswer}, tags=TAGS, summary="The source clusters (vCluster)")
    def get(self, request, project_id):
        return ok(s.ClusterListAnswer({"clusters": services.project_get(project_id).clusters.all()}).data)


class StatsView(PlannerView):
    @extend_schema(responses={200: s.StatsAnswer}, tags=TAGS, summary="Totals and risk, mode and OS distributions")
    def get(self, request, project_id):
        return ok(s.StatsAnswer(selectors.stats(services.project_get(project_id))).data)


class RiskConfigView(PlannerView):
    @extend_schema(responses={200: s.RiskConfigAnswer}, tags=TAGS, summary="The assessment's rule set")
    def get(self, request, project_id):
        return ok({"risk_config": services.risk_config_get(services.project_get(project_id))})

    @extend_schema(request=s.RiskConfigUpdateSerializer, responses={200: s.RiskConfigAnswer}, tags=TAGS,
                   summary="Change the rule set (merged into the current one)")
    def put(self, request, project_id):
        project = services.project_get(project_id)
        if not isinstance(request.data, dict):
            raise InvalidInput("Invalid request: the request body must be a JSON object")
        validated(s.RiskConfigUpdateSerializer, request.data)
        return ok({"risk_config": services.risk_config_update(project=project, data=dict(request.data))})


class AssessView(ProjectCommand, run=services.assessment_run, answer=s.AssessAnswer,
                 summary="Run the assessment: tenants, risk, migration modes"):
    pass


class ResetAssessmentView(ProjectCommand, run=services.assessment_reset, answer=s.StatusAnswer,
                          summary="Clear risk scores and migration modes (source data stays)"):
    pass


class ResetPlanView(ProjectCommand, run=services.plan_reset, answer=s.ResetPlanAnswer,
                    summary="Clear cohorts, their assignments and readiness results (assessment stays)"):
    pass


class ApproveView(PlannerView):
    access = {"post": ADMIN}

    @extend_schema(request=None, responses={200: s.ApproveAnswer, **errors(409)}, tags=TAGS,
                   summary="Approve the plan: cohorts become machine groups, mappings failover mappings")
    def post(self, request, project_id):
        project = services.project_approve(project=services.project_get(project_id),
                                           approved_by=request.user.get_username())
        return ok(s.ApproveAnswer({"project": project, "approval": project.approval_report}).data)


class BandwidthView(PlannerView):
    @extend_schema(responses={200: s.BandwidthAnswer}, tags=TAGS, summary="The four-constraint bandwidth model")
    def get(self, request, project_id):
        return ok({"bandwidth": selectors.bandwidth(services.project_get(project_id)).as_dict()})


class AgentRecommendationView(PlannerView):
    @extend_schema(responses={200: s.RecommendationAnswer}, tags=TAGS, summary="Agent count and size to plan for")
    def get(self, request, project_id):
        project = services.project_get(project_id)
        count, avg_hours = selectors.workload(project)
        return ok({"recommendation": planning.agent_recommendation(project, count, avg_hours)})


class ExportPlanView(PlannerView):
    @extend_schema(parameters=[s.ExportQuerySerializer],
                   responses={(200, "application/json"): s.PlanAnswer, (200, "text/csv"): OpenApiTypes.STR,
                              (200, XLSX): OpenApiTypes.BINARY},
                   tags=TAGS, summary="The migration plan: per-VM estimates, per-tenant rollups, a daily schedule")
    def get(self, request, project_id):
        project = services.project_get(project_id)
        kind = validated(s.ExportQuerySerializer, request.query_params.dict(), what="the query")["download"]
        body = plan.build(project)
        if kind == "json":
            return ok(s.PlanAnswer(body).data)
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in project.name)[:60] or "plan"
        if kind == "csv":
            response = HttpResponse(plan.to_csv(body), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(plan.to_xlsx(body), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{stem}-plan.{kind}"'
        return response


# --- a VM's status and mode --------------------------------------------------------------------------------------


class VMCommand(PlannerView):
    # A PATCH of one VM of the project through one service, given the VM and the body's fields, answering the VM
    # the service returns. A view names them in its class line:
    #     class VMStatusView(VMCommand, run=services.vm_status_update, body=s.VMStatusSerializer, summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, run=None, body=None, summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if run is None:
            return

        @extend_schema(request=body, responses={200: s.VMAnswer}, tags=TAGS, summary=summary)
        def patch(self, request, project_id, vm_id):
            vm = services.vm_get(services.project_get(project_id), vm_id)
            return ok({"vm": s.VMSerializer(run(vm=vm, **validated(body, request.data))).data})

        cls.patch = patch


class VMStatusView(VMCommand, run=services.vm_status_update, body=s.VMStatusSerializer,
                   summary="Set a VM's migration status"):
    pass


class VMBulkStatusView(PlannerView):
    @extend_schema(request=s.VMBulkStatusSerializer, responses={200: s.StatusAnswer}, tags=TAGS,
                   summary="Set several VMs' migration status")
    def patch(self, request, project_id):
        project = services.project_get(project_id)
        data = validated(s.VMBulkStatusSerializer, request.data)
        count = services.vm_status_bulk(project=project, vm_ids=data["vm_ids"], status=data["status"],
                                        status_note=data.get("status_note"))
        return ok({"status": "ok", "affected_count": count})


class VMModeOverrideView(VMCommand, run=services.vm_mode_override, body=s.ModeOverrideSerializer,
                         summary="Force warm or cold (null: the engine's classification)"):
    pass



