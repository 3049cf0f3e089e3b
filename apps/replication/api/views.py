"""Replication jobs (seed 001 "Replication Job Management"; seed 000 "Replications", "ChangeID", "Progress Proxy"),
and a VM context's replication view (seed 001 "VM Context API")."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import ErrorResponseSerializer, errors
from apps.core.api.validation import validated
from apps.core.exceptions import Conflict, InvalidInput, UpstreamError
from apps.core.pagination import PagedOnRequestPagination
from apps.enrollment.agent_client import AgentClient, endpoint_for_job
from apps.inventory import services as inventory_services
from apps.settings.cloudstack import volume_name_for_disk

from .. import selectors, services
from ..choices import TERMINAL, ReplicationStatus
from ..filtersets import ReplicationJobFilterSet
from ..models import ReplicationJob, ReplicaVolume, VMExportMapping
from .serializers import (
    AgentProgressSerializer,
    ChangeIdAnswerSerializer,
    ChangeIdStoredSerializer,
    ChangeIdStoreSerializer,
    ProgressPushAnswerSerializer,
    ProgressPushSerializer,
    RecentJobsSerializer,
    ReplicationCreatedSerializer,
    ReplicationCreateSerializer,
    ReplicationDetailSerializer,
    ReplicationJobSerializer,
    ReplicationUpdateSerializer,
    StoredProgressSerializer,
    VMContextDetailSerializer,
)


def _who(request) -> str:
    return getattr(request.user, "username", "") or ""


def creation_answer(job: ReplicationJob) -> dict:
    """Seed 001's answer: volumes and exports already known for this VM are reported as reused."""
    context = job.vm_context
    volumes = {v.disk_unit_number: v for v in ReplicaVolume.objects.filter(vm_context=context)}
    exports = {e.disk_unit_number: e for e in VMExportMapping.objects.filter(vm_id=context.vm_id)}
    created_volumes, nbd_exports = [], []
    for disk in context.disks.all():
        volume = volumes.get(disk.unit_number)
        created_volumes.append({
            "volume_id": volume.volume_id if volume else None,
            "volume_name": volume.volume_name if volume else volume_name_for_disk(context.vm_name, disk.unit_number),
            "size_gb": disk.size_gb, "disk_id": disk.disk_id,
            "status": "reused" if volume else "pending"})
        if disk.unit_number in exports:
            nbd_exports.append(exports[disk.unit_number])
    return ReplicationCreatedSerializer({
        "job_id": job.job_id, "status": job.status, "progress_percent": job.progress_percent,
        "replication_type": job.replication_type, "vm_context_id": context.context_id,
        "source_vm": job.source_vm or {"id": context.moref or context.vm_id, "name": context.vm_name,
                                       "path": context.vm_path, "datacenter": context.datacenter},
        "created_volumes": created_volumes, "nbd_exports": nbd_exports, "started_at": job.started_at,
        "message": ("Migration workflow started - VM export reused" if nbd_exports
                    else "Migration workflow started - volumes and exports are being provisioned"),
    }).data


class ReplicationListCreateView(ListAPIView):
    serializer_class = ReplicationJobSerializer
    filterset_class = ReplicationJobFilterSet
    pagination_class = PagedOnRequestPagination

    def get_queryset(self):
        return ReplicationJob.objects.select_related("vm_context")

    @extend_schema(request=ReplicationCreateSerializer,
                   responses={202: ReplicationCreatedSerializer, 400: ErrorResponseSerializer,
                              404: ErrorResponseSerializer, 409: ErrorResponseSerializer, 503: ErrorResponseSerializer},
                   tags=["replications"], summary="Start a replication of a VM's disks into CloudStack volumes")
    def post(self, request):
        data = validated(ReplicationCreateSerializer, request.data)
        job = services.replication_request(data=data, requested_by=_who(request))
        return Response(creation_answer(job), status=status.HTTP_202_ACCEPTED)


class ReplicationDetailView(APIView):
    @extend_schema(responses={200: ReplicationDetailSerializer, 404: ErrorResponseSerializer}, tags=["replications"])
    def get(self, request, job_id):
        return Response(ReplicationDetailSerializer(services.replication_get(job_id)).data)

    @extend_schema(request=ReplicationUpdateSerializer, responses={200: ReplicationJobSerializer, **errors(409)},
                   tags=["replications"], summary="Cancel (status=cancelled) or retry (status=pending) a job")
    def put(self, request, job_id):
        job = services.replication_get(job_id)
        data = validated(ReplicationUpdateSerializer, request.data)
        if data["status"] == ReplicationStatus.CANCELLED:
            job = services.replication_cancel(job=job, requested_by=_who(request))
        else:
            job = services.replication_retry(job=job, requested_by=_who(request))
        return Response(ReplicationJobSerializer(job).data)

    @extend_schema(responses={202: ReplicationJobSerializer, **errors(409)}, tags=["replications"],
                   summary="Cancel a running job; it cleans up what it created and did not hand over")
    def delete(self, request, job_id):
        job = services.replication_get(job_id)
        if job.status in TERMINAL:
            raise Conflict(f"Job {job.job_id} already ended ({job.status}); nothing to cancel",
                           error_code="INVALID_STATE")
        job = services.replication_cancel(job=job, requested_by=_who(request))
        return Response(ReplicationJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class LegacyJobListView(ReplicationListCreateView):
    # Seed 001's alias. A comment, not in the docstring: the schema shows the docstring to API readers.
    """GET /replication/jobs: the replication jobs, as GET /replications lists them (read only)."""

    http_method_names = ["get", "head", "options"]


class ChangeIdView(APIView):
    agent_methods = ("get",)  # the agent reads the change id an incremental sync starts from
    @extend_schema(parameters=[OpenApiParameter("vm_path", str, required=True),
                               OpenApiParameter("disk_id", str, required=True)],
                   responses={200: ChangeIdAnswerSerializer, 400: ErrorResponseSerializer}, tags=["cbt"],
                   summary="The previous change id of a VM disk")
    def get(self, request):
        vm_path = request.query_params.get("vm_path", "")
        disk_id = request.query_params.get("disk_id", "")
        if not vm_path or not disk_id:
            raise InvalidInput("vm_path and disk_id query parameters are required")
        record = services.change_id_previous(vm_path=vm_path, disk_id=disk_id)
        return Response(ChangeIdAnswerSerializer({"success": True, "vm_path": vm_path, "disk_id": disk_id,
                                                  "change_id": record.change_id if record else None,
                                                  "job_id": record.job.job_id if record else None,
                                                  "created_at": record.created_at if record else None}).data)


class ChangeIdStoreView(APIView):
    agent_methods = ("post",)
    @extend_schema(request=ChangeIdStoreSerializer, responses={201: ChangeIdStoredSerializer, 404: ErrorResponseSerializer,
                                                                 409: ErrorResponseSerializer}, tags=["cbt"],
                   summary="Store a disk's change id after its data reached the target")
    def post(self, request, job_id):
        job = services.replication_get(job_id)
        data = validated(ChangeIdStoreSerializer, request.data)
        record = services.change_id_store(job=job, **data)
        return Response(ChangeIdStoredSerializer({"success": True, "message": "Change id stored", "job_id": job.job_id,
                                                  "disk_id": record.disk_id, "change_id": record.change_id}).data,
                        status=status.HTTP_201_CREATED)


class ReplicationProgressView(APIView):
    agent_methods = ("post",)  # the agent pushes; reading is for people
    @extend_schema(responses={200: StoredProgressSerializer, 404: ErrorResponseSerializer}, tags=["replications"],
                   summary="The stored progress view of a job")
    def get(self, request, job_id):
        return Response(StoredProgressSerializer(services.replication_get(job_id)).data)

    @extend_schema(request=ProgressPushSerializer, responses={200: ProgressPushAnswerSerializer, 400: ErrorResponseSerializer},
                   tags=["replications"], summary="The agent pushes progress (and the final status)")
    def post(self, request, job_id):
        job = services.replication_get(job_id)
        data = validated(ProgressPushSerializer, request.data)
        job = services.replication_progress(job=job, data=data)
        return Response(ProgressPushAnswerSerializer(job).data)


class ProgressProxyView(APIView):
    @extend_schema(responses={200: AgentProgressSerializer, 404: ErrorResponseSerializer, 502: ErrorResponseSerializer,
                              503: ErrorResponseSerializer},
                   tags=["replications"], summary="Live progress straight from the agent")
    def get(self, request, job_id):
        job = services.replication_get(job_id)
        agent = AgentClient(base_url=endpoint_for_job(job.appliance_id).url)  # the job's own agent
        record = agent.progress(job_id)
        # An agent of another version may answer a record of another shape: that is the agent's fault (502), said
        # with what is missing, not a server error of ours.
        missing = sorted(set(AgentProgressSerializer().fields) - set(record)) if isinstance(record, dict) else ["all"]
        if missing:
            raise UpstreamError(f"The agent's progress record for job {job_id} lacks {', '.join(missing)}; is the agent "
                                "of this platform's version?", error_code="AGENT_ANSWER", details={"missing": missing})
        try:
            return Response(AgentProgressSerializer(record).data)
        except (TypeError, ValueError) as exc:
            raise UpstreamError(f"The agent's progress record for job {job_id} has a value of the wrong type ({exc})",
                                error_code="AGENT_ANSWER") from exc


class VMContextDetailView(APIView):
    @extend_schema(responses={200: VMContextDetailSerializer, **errors(404)}, tags=["vm-contexts"],
                   summary="A VM with its current job, job history, disks, NICs and CBT history")
    def get(self, request, vm_name):
        context = inventory_services.vm_context_get(vm_name)
        return Response(VMContextDetailSerializer(selectors.vm_context_detail(context)).data)


class RecentJobsView(APIView):
    @extend_schema(parameters=[OpenApiParameter("limit", int)], responses={200: RecentJobsSerializer, **errors(400, 404)},
                   tags=["vm-contexts"])
    def get(self, request, context_id):
        context = inventory_services.vm_context_get(context_id)
        try:
            limit = max(1, min(int(request.query_params.get("limit", 10)), 100))
        except ValueError:
            raise InvalidInput("limit must be an integer between 1 and 100")
        return Response(RecentJobsSerializer({"success": True, "context_id": context.context_id,
                                              "jobs": selectors.recent_jobs(context, limit=limit)}).data)
