"""Failover jobs: start, end a test, clean up, roll back, their status and lists (seed 003 "Failover Management",
seed 000 "Failover (Enhanced + Unified)", "Debug")."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from apps.core.api.schemas import errors
from apps.core.api.validation import validated

from ... import services, validation
from ...choices import ACTIVE, FailoverType
from ...filtersets import FailoverJobFilterSet
from ...models import FailoverJob
from .. import serializers as S
from .common import ReadView, answer, filtered, find_vm, page_bounds, paged, vm_from, who


# Starts a failover: the path fixes its type, or the body names it (failover_type). A comment, not a docstring: the
# schema would show a docstring as every start operation's description. The actions answer 200 with the job still
# running (its status says so), as seed 003 documents and its clients check (docs/api-compatibility.md).
class FailoverStartView(ReadView):
    input_serializer: type
    failover_type = ""

    def post(self, request):
        data = validated(self.input_serializer, request.data)
        job = services.failover_start(vm_context=vm_from(data), failover_type=self.failover_type or data["failover_type"],
                                     options=data, requested_by=who(request))
        estimate = validation.estimate(job.job_type, job.vm_context)
        if job.job_type == FailoverType.TEST:
            estimate = f"{estimate} (test duration: {job.test_duration})"
        return answer(S.FailoverStartedSerializer, {"job": job, "estimated_duration": estimate},
                      f"{job.job_type.capitalize()} failover execution started successfully", status.HTTP_200_OK)


def _starts(input_serializer, summary: str):
    """One failover start endpoint: what its body is and how the schema shows it."""
    def decorate(view):
        view.input_serializer = input_serializer
        return extend_schema_view(post=extend_schema(
            request=input_serializer, tags=["failover"], summary=summary,
            responses={200: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}))(view)
    return decorate


@_starts(S.TestFailoverSerializer, "Start a reversible test failover")
class TestFailoverView(FailoverStartView):
    failover_type = FailoverType.TEST


@_starts(S.LiveFailoverSerializer, "Start a live (final) failover")
class LiveFailoverView(FailoverStartView):
    failover_type = FailoverType.LIVE


@_starts(S.UnifiedFailoverSerializer, "Start a failover of either type (failover_type)")
class UnifiedFailoverView(FailoverStartView):
    pass  # the body names the type

def _test_cleanup_answer(job: FailoverJob) -> Response:
    return answer(S.TestFailoverCleanupStartedSerializer, job, "Test failover cleanup initiated successfully",
                  status.HTTP_200_OK)


def _job_status(job: FailoverJob) -> Response:
    return answer(S.FailoverJobStatusSerializer, job, f"Retrieved status for {job.job_type} failover job")


class TestFailoverDetailView(ReadView):
    @extend_schema(responses={200: S.FailoverJobStatusSerializer, **errors(404)}, tags=["failover"],
                   summary="Status of a test failover job")
    def get(self, request, job_id):
        return _job_status(services.job_get(job_id))

    @extend_schema(responses={200: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="End a test failover: destroy its VM, revert and reattach the volumes")
    def delete(self, request, job_id):
        job = services.test_end(job=services.job_get(job_id), requested_by=who(request))
        return _test_cleanup_answer(job)


class CleanupTestView(ReadView):
    @extend_schema(request=None, responses={200: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)},
                   tags=["failover"],
                   summary="End the running test failover of a VM")
    def post(self, request, vm_name):
        job = services.test_end_for_vm(vm_context=find_vm(vm_name), requested_by=who(request))
        return _test_cleanup_answer(job)


class CleanupFailedView(ReadView):
    @extend_schema(request=None, responses={200: S.FailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="Clean up what a failed failover of a VM left behind")
    def post(self, request, vm_name):
        job = services.cleanup_failed(vm_context=find_vm(vm_name), requested_by=who(request))
        return answer(S.FailoverCleanupStartedSerializer, job, "Cleanup of the failed execution started",
                      status.HTTP_200_OK)


class JobStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverJobStatusSerializer, **errors(404)}, tags=["failover"],
                   summary="Status of a failover job")
    def get(self, request, job_id):
        return _job_status(services.job_get(job_id))


class JobListView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("type", str, enum=["live", "test"]),
                               OpenApiParameter("vm_id", str), OpenApiParameter("limit", int),
                               OpenApiParameter("offset", int)],
                   responses={200: S.FailoverJobListSerializer, **errors(400)}, tags=["failover"], summary="List failover jobs")
    def get(self, request):
        limit, offset = page_bounds(request)
        rows = filtered(FailoverJobFilterSet, request, FailoverJob.objects.select_related("vm_context"))
        return answer(S.FailoverJobListSerializer, paged(rows, limit, offset), "Retrieved failover jobs list")


class RollbackView(ReadView):
    @extend_schema(request=S.RollbackSerializer,
                   responses={200: S.FailoverRollbackStartedSerializer, **S.refusals(400, 404, 409)}, tags=["failover"],
                   summary="Roll a failover back: end a running test, stop a running job, clean up a failed one")
    def post(self, request):
        data = validated(S.RollbackSerializer, request.data)
        context = vm_from(data) if not data.get("job_id") else None
        job = services.rollback_target(job_id=data.get("job_id", ""), vm_context=context,
                                       failover_type=data.get("failover_type", ""))
        job, what = services.rollback(job=job, requested_by=who(request))
        return answer(S.FailoverRollbackStartedSerializer, job, f"Rollback started: {what}", status.HTTP_200_OK)


class DebugFailoverJobsView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("vm_id", str),
                               OpenApiParameter("limit", int)],
                   responses={200: S.FailoverDebugJobListSerializer, **errors(400)},
                   tags=["debug"], summary="Failover jobs with plans, volumes, resources, events")
    def get(self, request):
        limit, offset = page_bounds(request, default=20)
        rows = filtered(FailoverJobFilterSet, request,
                        FailoverJob.objects.select_related("vm_context", "ossea_config"))
        page = paged(rows, limit, offset)
        return answer(S.FailoverDebugJobListSerializer,
                      {"items": page.items, "total": page.total,
                       "active_jobs": FailoverJob.objects.filter(status__in=ACTIVE).count(),
                       "jobs_needing_cleanup": FailoverJob.objects.filter(needs_cleanup=True).count()},
                      "Failover jobs (debug)")
