"""Seed 004's snapshot policy, on-demand pipeline and restore endpoints (paths at the root, as the seed has them)."""
from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import page_answer, page_of, query_flag
from apps.core.exceptions import InvalidInput, NotFound

from .. import cloud, restore, selectors, services
from ..choices import VolumeOutcome
from ..models import RestoreJob, SnapshotAssignment, SnapshotPolicy, SnapshotRun
from . import serializers as s
from .base import RestoreView, SnapshotsView, errors, paging_parameters


def _user(request) -> str:
    return request.user.get_username()


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _path_id(raw: str, what: str) -> int:
    """A numeric id from the path; anything else names nothing (404)."""
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"{what} {raw} not found")
    return int(raw)


def _int(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"{name} must be a whole number")
    return int(raw)


# -- policies ---------------------------------------------------------------------------------------


class PolicyListView(SnapshotsView):
    write_permission = "snapshots:admin"

    @extend_schema(summary="List snapshot policy sets", parameters=paging_parameters(), responses=page_of(s.PolicySerializer))
    def get(self, request):
        rows = SnapshotPolicy.objects.annotate(assignment_total=Count("assignments")).order_by("name")
        return page_answer(s.PolicySerializer, request, rows)

    @extend_schema(summary="Create a snapshot policy set (admin)", request=s.PolicySerializer,
                   responses={201: s.PolicySerializer, **errors(409)})
    def post(self, request):
        data = _valid(s.PolicySerializer, request.data)
        return Response(s.PolicySerializer(services.policy_save(None, data, user=_user(request))).data, status=201)


class PolicyDetailView(SnapshotsView):
    write_permission = "snapshots:admin"

    @extend_schema(summary="Update a snapshot policy set (admin)", request=s.PolicySerializer,
                   responses={200: s.PolicySerializer, **errors(409)})
    def put(self, request, policy_id: str):
        policy = services.policy_get(_path_id(policy_id, "Snapshot policy"))
        serializer = s.PolicySerializer(policy, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(s.PolicySerializer(services.policy_save(policy, serializer.validated_data)).data)

    @extend_schema(summary="Delete a snapshot policy set and its assignments (admin)", responses={204: None})
    def delete(self, request, policy_id: str):
        services.policy_delete(services.policy_get(_path_id(policy_id, "Snapshot policy")))
        return Response(status=204)


class AssignmentListView(SnapshotsView):
    write_permission = "snapshots:admin"

    @extend_schema(summary="List snapshot policy assignments", responses=page_of(s.AssignmentSerializer),
                   parameters=[OpenApiParameter("volume_id", str), OpenApiParameter("policy_set_id", int),
                               *paging_parameters()])
    def get(self, request):
        rows = SnapshotAssignment.objects.select_related("policy").order_by("id")
        if request.query_params.get("volume_id"):
            rows = rows.filter(target_type="volume", target_id=request.query_params["volume_id"])
        policy_id = _int(request, "policy_set_id")
        if policy_id is not None:
            rows = rows.filter(policy_id=policy_id)
        return page_answer(s.AssignmentSerializer, request, rows)

    @extend_schema(summary="Assign a policy to volumes, a VM or a tenant (admin)", request=s.AssignmentCreateSerializer,
                   responses={201: s.AssignmentsCreatedSerializer, **errors(404, 409, 502, 503)})
    def post(self, request):
        data = _valid(s.AssignmentCreateSerializer, request.data)
        policy = services.policy_get(data["policy_set_id"])
        made = services.assignments_create(policy=policy, target_type=data["target_type"],
                                           volume_ids=data.get("volume_ids") or [], target_id=data.get("target_id", ""),
                                           domain_id=data.get("domain_id", ""), user=_user(request))
        return Response({"assignments": s.AssignmentSerializer(made, many=True).data}, status=201)


class AssignmentDetailView(SnapshotsView):
    write_permission = "snapshots:admin"

    @extend_schema(summary="Remove a policy assignment (admin)", responses={204: None})
    def delete(self, request, assignment_id: str):
        services.assignment_delete(_path_id(assignment_id, "Snapshot assignment"))
        return Response(status=204)


# -- runs ---------------------------------------------------------------------------------------


class RunListView(SnapshotsView):
    @extend_schema(summary="History of snapshot runs", responses=page_of(s.RunSerializer),
                   parameters=[OpenApiParameter("status", str, enum=["running", "completed", "partial", "failed"]),
                               *paging_parameters(50)])
    def get(self, request):
        rows = SnapshotRun.objects.annotate(
            volumes_done=Count("volumes", filter=~Q(volumes__status=VolumeOutcome.PENDING))).order_by("-started_at", "-id")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ("running", "completed", "partial", "failed"):
                raise InvalidInput("status must be one of running, completed, partial, failed")
            rows = rows.filter(status=wanted)
        return page_answer(s.RunSerializer, request, rows, default_limit=50)


class RunProgressView(SnapshotsView):
    permission = "snapshot_runs:read"

    @extend_schema(summary="Live progress of a snapshot run", responses=s.RunProgressSerializer)
    def get(self, request, run_id: str):
        run = services.run_get(_path_id(run_id, "Snapshot run"))
        return Response(s.RunProgressSerializer(selectors.progress(run)).data)


class ActiveRunProgressView(SnapshotsView):
    permission = "snapshot_runs:read"

    @extend_schema(summary="Progress of the running snapshot run, if any", responses=s.ActiveProgressSerializer)
    def get(self, request):
        run = selectors.active_run()
        body = {"active": run is not None, "run": run, "batches": selectors.batches(run) if run else []}
        return Response(s.ActiveProgressSerializer(body).data)


# -- the on-demand pipeline ---------------------------------------------------------------------


class RunNowView(SnapshotsView):
    write_permission = "snapshots:admin"

    @extend_schema(summary="Start the snapshot pipeline now (admin)", request=None,
                   responses={202: s.PipelineQueuedSerializer, **errors(409)})
    def post(self, request):
        job = services.pipeline_trigger(user=_user(request))
        return Response({"job_id": job.job_id, "status": job.status,
                         "message": "Snapshot pipeline queued. A worker picks it up at once. Poll "
                                    "/snapshot/run-now/status for progress."}, status=202)


class RunNowStatusView(SnapshotsView):
    @extend_schema(summary="Status of the latest on-demand pipeline", responses=s.PipelineStatusSerializer)
    def get(self, request):
        return Response(s.PipelineStatusSerializer(s.PipelineStatusSerializer.of(services.pipeline_latest())).data)


# -- restore ------------------------------------------------------------------------------------


class RestoreConfigView(RestoreView):
    @extend_schema(summary="Restore configuration", responses=s.RestoreConfigSerializer)
    def get(self, request):
        return Response({"enabled": settings.MP_RESTORE_ENABLED, "dry_run": settings.MP_RESTORE_DRY_RUN,
                         "cleanup_volumes": settings.MP_RESTORE_CLEANUP_VOLUMES})


class RestoreSnapshotsView(RestoreView):
    @extend_schema(summary="A tenant's volume snapshots (newest first)", responses={200: page_of(s.CloudSnapshotSerializer),
                                                                                    **errors(502, 503)},
                   parameters=[OpenApiParameter("tenant_name", str, required=True), *paging_parameters()])
    def get(self, request):
        tenant = request.query_params.get("tenant_name")
        if not tenant:
            raise InvalidInput("tenant_name is required")
        _, client = cloud.connect()
        rows = [selectors.snapshot_row(x) for x in services._cloud_call(restore.tenant_snapshots, client, tenant)]
        return page_answer(s.CloudSnapshotSerializer, request, rows)


class RestorePointsView(RestoreView):
    @extend_schema(summary="Snapshots of a VM's boot volume, newest first", responses={200: s.RestorePointsSerializer,
                                                                                       **errors(409, 502, 503)},
                   parameters=[OpenApiParameter("project_id", str, required=True)])
    def get(self, request, vm_id: str):
        project = request.query_params.get("project_id")
        if not project:
            raise InvalidInput("project_id is required")
        _, client = cloud.connect()
        vm, points = services._cloud_call(restore.restore_points, client, vm_id=vm_id, project_id=project)
        return Response(s.RestorePointsSerializer({"vm_id": vm["id"], "vm_name": vm.get("name", ""),
                                                   "restore_points": [selectors.snapshot_row(p) for p in points]}).data)


class AvailableIpsView(RestoreView):
    @extend_schema(summary="Free addresses on a network", responses={200: s.AvailableIpsSerializer, **errors(502, 503)})
    def get(self, request, network_id: str):
        _, client = cloud.connect()
        return Response(services._cloud_call(restore.available_ips, client, network_id))


class RestorePlanView(RestoreView):
    write_permission = "restore:write"

    @extend_schema(summary="Validate and plan a restore (nothing is created)", request=s.RestorePlanRequestSerializer,
                   responses={201: s.RestoreJobSerializer, **errors(404, 409, 502, 503)})
    def post(self, request):
        data = _valid(s.RestorePlanRequestSerializer, request.data)
        job = services.restore_plan(user=_user(request), **data)
        return Response(s.RestoreJobSerializer(job).data, status=201)


class RestoreExecuteView(RestoreView):
    write_permission = "restore:write"

    @extend_schema(summary="Execute a planned restore", request=s.RestoreExecuteSerializer,
                   responses={202: s.RestoreJobSerializer, **errors(404, 409)})
    def post(self, request):
        data = _valid(s.RestoreExecuteSerializer, request.data)
        job = services.restore_execute(plan_id=data["plan_id"], confirm_destructive=data["confirm_destructive"])
        return Response(s.RestoreJobSerializer(job).data, status=202)


class RestoreJobListView(RestoreView):
    @extend_schema(summary="Restore jobs, newest first", responses=page_of(s.RestoreJobSerializer),
                   operation_id="restore_jobs_list",
                   parameters=[OpenApiParameter("status", str), OpenApiParameter("vm_id", str),
                               *paging_parameters()])
    def get(self, request):
        rows = RestoreJob.objects.select_related("original_job").order_by("-created_at", "-id")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted.upper() not in dict(RestoreJob._meta.get_field("status").choices):
                raise InvalidInput("status must be one of PLANNED, PENDING, RUNNING, COMPLETED, FAILED, CANCELED")
            rows = rows.filter(status=wanted.upper())
        if request.query_params.get("vm_id"):
            rows = rows.filter(vm_id=request.query_params["vm_id"])
        return page_answer(s.RestoreJobSerializer, request, rows)


class RestoreJobDetailView(RestoreView):
    @extend_schema(summary="A restore job with its steps", responses=s.RestoreJobSerializer)
    def get(self, request, job_id: str):
        return Response(s.RestoreJobSerializer(services.restore_get(job_id)).data)


class RestoreCancelView(RestoreView):
    write_permission = "restore:write"

    @extend_schema(summary="Cancel a restore", request=s.RestoreCancelSerializer,
                   responses={200: s.RestoreJobSerializer, **errors(409)})
    def post(self, request, job_id: str):
        data = _valid(s.RestoreCancelSerializer, request.data)
        return Response(s.RestoreJobSerializer(services.restore_cancel(job_id, reason=data["reason"])).data)


class RestoreCleanupView(RestoreView):
    write_permission = "restore:admin"

    @extend_schema(summary="Remove what a failed or cancelled restore left (admin)", request=s.RestoreCleanupSerializer,
                   responses={200: s.CleanupAnswerSerializer, **errors(409, 502, 503)})
    def post(self, request, job_id: str):
        data = _valid(s.RestoreCleanupSerializer, request.data)
        return Response(services.restore_cleanup(job_id, delete_volume=data["delete_volume"]))


class RestoreRetryView(RestoreView):
    write_permission = "restore:admin"

    @extend_schema(summary="Retry a failed restore (admin)", request=s.RestoreRetrySerializer,
                   responses={202: s.RetryAnswerSerializer, **errors(409, 502, 503)})
    def post(self, request, job_id: str):
        data = _valid(s.RestoreRetrySerializer, request.data)
        job, original = services.restore_retry(job_id, confirm_destructive=data["confirm_destructive"],
                                               ip_strategy_override=data["ip_strategy_override"], user=_user(request))
        return Response({"job_id": job.job_id, "original_job_id": original.job_id, "status": job.status,
                         "resumed_from_step": job.resumed_from_step, "reused_resources": job.reused_resources,
                         "ip_strategy": job.ip_strategy,
                         "message": "Retry execution started. Poll /restore/jobs/{job_id} for progress."}, status=202)


class RestoreStorageView(RestoreView):
    write_permission = "restore:admin"

    @extend_schema(summary="Delete storage a completed restore left (admin)", request=None,
                   responses={200: s.StorageAnswerSerializer, **errors(409, 502, 503)},
                   parameters=[OpenApiParameter("delete_old_volume", bool), OpenApiParameter("delete_source_snapshot", bool)])
    def post(self, request, job_id: str):
        return Response(services.restore_cleanup_storage(
            job_id, delete_old_volume=query_flag(request, "delete_old_volume", default=True),
            delete_source_snapshot=query_flag(request, "delete_source_snapshot", default=False)))

