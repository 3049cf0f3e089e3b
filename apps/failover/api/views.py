"""Failover, validation and network mappings (seed 003; seed 000 "Failover (Enhanced + Unified)", "Validation",
"Network Mapping", "Debug")."""
from __future__ import annotations

from typing import NamedTuple

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schemas import errors
from apps.core.api.validation import validated
from apps.core.choices import Role
from apps.core.exceptions import InvalidInput, NotFound
from apps.core.pagination import MAX_OFFSET
from apps.inventory import services as inventory_services
from apps.settings import cloudstack as cs
from apps.settings import volumes

from .. import cloud, readiness, selectors, services, validation
from ..choices import ACTIVE, FailoverType
from ..filtersets import FailoverJobFilterSet, NetworkMappingFilterSet
from ..models import FailoverJob, NetworkMapping
from . import serializers as S

TYPE_PARAM = OpenApiParameter("failover_type", str, enum=["live", "test"], description="default: live")


def _who(request) -> str:
    return getattr(request.user, "username", "") or ""


def _vm(identifier: str):
    return inventory_services.vm_context_get(identifier)


def _vm_from(data: dict):
    context = _vm(data.get("vm_id") or data["vm_name"])
    if data.get("vm_id") and data.get("vm_name") and data["vm_name"] != context.vm_name:
        raise InvalidInput(f"vm_name '{data['vm_name']}' does not match vm_id {data['vm_id']} (VM '{context.vm_name}')")
    return context


def _failover_type(value: str | None, default: str = FailoverType.LIVE) -> str:
    value = value or default
    if value not in FailoverType.values:
        raise InvalidInput(f"failover_type must be 'live' or 'test', not '{value}'", error_code="INVALID_FAILOVER_TYPE")
    return value


def _bool_param(request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{name} must be true or false")


def _page(request, default: int = 50) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", default))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise InvalidInput("limit and offset must be integers") from None
    if not 1 <= limit <= 1000 or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"limit must be between 1 and 1000 and offset between 0 and {MAX_OFFSET}")
    return limit, offset


def _filtered(filterset_class, request, queryset):
    filterset = filterset_class(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


class Page(NamedTuple):
    """One page of a filtered list, as the list answers render it."""

    items: list
    total: int
    limit: int
    offset: int

    @property
    def returned(self) -> int:
        return len(self.items)


def _paged(rows, limit: int, offset: int) -> Page:
    return Page(items=list(rows[offset:offset + limit]), total=rows.count(), limit=limit, offset=offset)


def _answer(serializer_class, instance, message: str, code: int = status.HTTP_200_OK) -> Response:
    return Response(S.answer(serializer_class, instance, message), status=code)


class ReadView(APIView):
    read_roles = (Role.VIEWER,)
    write_roles = (Role.OPERATOR,)


# -- network mappings ------------------------------------------------------------------------------


class NetworkMappingListCreateView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("vm_id", str), OpenApiParameter("is_test_network", bool),
                               OpenApiParameter("source_network_name", str),
                               OpenApiParameter("destination_network_id", str), OpenApiParameter("q", str),
                               OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses={200: S.NetworkMappingListAnswerSerializer, **errors(400)},
                   tags=["network-mappings"], summary="List network mappings",
                   operation_id="network_mappings_list")
    def get(self, request):
        limit, offset = _page(request)
        rows = _filtered(NetworkMappingFilterSet, request, NetworkMapping.objects.select_related("vm_context"))
        return _answer(S.NetworkMappingListAnswerSerializer, _paged(rows, limit, offset), "Network mappings retrieved")

    @extend_schema(request=S.NetworkMappingSerializer,
                   responses={201: S.NetworkMappingCreatedSerializer, **errors(400, 404, 409, 502, 503)},
                   tags=["network-mappings"],
                   summary="Map a VM's source network to an existing CloudStack network")
    def post(self, request):
        data = validated(S.NetworkMappingSerializer, request.data)
        mapping = services.mapping_create(
            vm_context=_vm(data["vm_id"]), source_network_name=data["source_network_name"],
            destination_network_id=data["destination_network_id"],
            destination_network_name=data.get("destination_network_name", ""),
            is_test_network=data["is_test_network"])
        return _answer(S.NetworkMappingCreatedSerializer, mapping, "Network mapping created successfully",
                       status.HTTP_201_CREATED)


def _vm_mappings(context, **extra) -> dict:
    """A VM and its mappings, for the answers about them."""
    return {"vm": context, **extra,
            "mappings": list(NetworkMapping.objects.filter(vm_context=context).select_related("vm_context"))}


class NetworkMappingVMView(ReadView):
    @extend_schema(responses={200: S.NetworkMappingsOfVMSerializer, **errors(404)}, tags=["network-mappings"],
                   summary="A VM's network mappings",
                   operation_id="network_mappings_vm_retrieve")
    def get(self, request, vm_id):
        return _answer(S.NetworkMappingsOfVMSerializer, _vm_mappings(_vm(vm_id)), "Network mappings retrieved")

    @extend_schema(request=S.MappingsPutSerializer,
                   responses={200: S.NetworkMappingsUpdatedSerializer, **errors(400, 404, 502, 503)}, tags=["network-mappings"],
                   summary="Create or replace a VM's mappings ({mappings: [...]} or one mapping object)")
    def put(self, request, vm_id):
        context = _vm(vm_id)
        body = request.data
        if isinstance(body, dict) and "mappings" not in body:
            body = {"mappings": [body]}
        data = validated(S.MappingsPutSerializer, body)
        saved = services.mappings_put(vm_context=context, items=data["mappings"])
        return _answer(S.NetworkMappingsUpdatedSerializer, _vm_mappings(context, updated=len(saved)),
                       "Network mappings updated")

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete a VM's mappings (optionally only test or production)",
                   operation_id="network_mappings_vm_destroy")
    def delete(self, request, vm_id):
        context = _vm(vm_id)
        count = services.mappings_delete(vm_context=context, is_test_network=_bool_param(request, "is_test_network"))
        return _answer(S.NetworkMappingsDeletedSerializer, {"vm": context, "deleted": count},
                       f"Deleted {count} network mapping(s)")


class NetworkMappingSourceView(ReadView):
    @extend_schema(responses={200: S.NetworkMappingsOfSourceSerializer, **errors(404)},
                   tags=["network-mappings"], summary="A VM's mappings of one source network",
                   operation_id="network_mappings_source_retrieve")
    def get(self, request, vm_id, source_network_name):
        context = _vm(vm_id)
        rows = NetworkMapping.objects.filter(vm_context=context, source_network_name=source_network_name)
        if not rows.exists():
            raise NotFound(f"VM '{context.vm_name}' has no network mapping for '{source_network_name}'",
                           error_code="MAPPING_NOT_FOUND")
        return _answer(S.NetworkMappingsOfSourceSerializer,
                       {"vm": context, "mappings": rows.select_related("vm_context")}, "Network mappings retrieved")

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsOfSourceDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete the mapping(s) of one source network",
                   operation_id="network_mappings_source_destroy")
    def delete(self, request, vm_id, source_network_name):
        context = _vm(vm_id)
        count = services.mappings_delete(vm_context=context, source_network_name=source_network_name,
                                         is_test_network=_bool_param(request, "is_test_network"))
        return _answer(S.NetworkMappingsOfSourceDeletedSerializer,
                       {"vm": context, "source_network_name": source_network_name, "deleted": count},
                       f"Deleted {count} network mapping(s)")


def _network_status(request, vm_id) -> Response:
    context = _vm(vm_id)
    info = readiness.network_info(context, failover_type=_failover_type(request.query_params.get("failover_type")))
    return _answer(S.NetworkMappingStatusAnswerSerializer, {"vm": context, "network_status": info},
                   "Network mapping status retrieved")


class NetworkMappingStatusView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.NetworkMappingStatusAnswerSerializer, **errors(400, 404)},
                   tags=["network-mappings"],
                   summary="Which of the VM's source networks are mapped")
    def get(self, request, vm_id):
        return _network_status(request, vm_id)

    @extend_schema(exclude=True)
    def delete(self, request, vm_id):
        # DELETE /network-mappings/{vm_id}/status is the delete of a source network named "status".
        return NetworkMappingSourceView().delete(request, vm_id, "status")


# -- validation ------------------------------------------------------------------------------------------


def _readiness(context, failover_type: str, **kwargs) -> Response:
    result, _ = validation.validate(context, failover_type, **kwargs)
    return _answer(S.FailoverReadinessSerializer, result, "VM failover readiness validation completed")


class ReadinessView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.FailoverReadinessSerializer, **errors(400, 404)},
                   tags=["validation"],
                   summary="Failover readiness: every check, a score and the actions to take")
    def get(self, request, vm_id):
        return _readiness(_vm(vm_id), _failover_type(request.query_params.get("failover_type")))


class SyncStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverSyncStatusAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Last sync and stored change ids")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        return _answer(S.FailoverSyncStatusAnswerSerializer,
                       {"vm": context, "sync_status": readiness.sync_info(context)}, "VM sync status retrieved")


class NetworkMappingStatusVMView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.NetworkMappingStatusAnswerSerializer, **errors(400, 404)},
                   tags=["validation"],
                   summary="Network mapping status for failover")
    def get(self, request, vm_id):
        return _network_status(request, vm_id)


class VolumeStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverVolumeStatusAnswerSerializer, **errors(404, 502, 503)},
                   tags=["validation"], summary="Replica volumes as CloudStack sees them")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        config = cloud.config_for(context)
        client = cloud.client_for(config)
        try:
            oma = volumes.oma_vm_id(config, client)
            info = readiness.volume_info(context, client=client, oma_id=oma)
        except cs.CloudStackError as exc:
            raise cloud.api_error(exc) from exc
        return _answer(S.FailoverVolumeStatusAnswerSerializer, {"vm": context, "info": info}, "Volume status retrieved")


class ActiveJobsView(ReadView):
    @extend_schema(responses={200: S.FailoverActiveJobsAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Jobs that would block a failover")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        return _answer(S.FailoverActiveJobsAnswerSerializer,
                       {"vm": context, "active_jobs": readiness.active_jobs_info(context)},
                       "Active jobs status retrieved")


class ConfigurationCheckView(ReadView):
    @extend_schema(responses={200: S.FailoverConfigurationCheckSerializer, **errors(404)}, tags=["validation"],
                   summary="Every check for a live and for a test failover, with the sections")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        live, _ = validation.validate(context, FailoverType.LIVE)
        test, _ = validation.validate(context, FailoverType.TEST)
        return _answer(S.FailoverConfigurationCheckSerializer,
                       {"vm": context, "configuration": {"live": live, "test": test},
                        "sync_status": readiness.sync_info(context), "network_status": readiness.network_info(context),
                        "active_jobs": readiness.active_jobs_info(context)},
                       "Configuration check completed")


# -- failover jobs ---------------------------------------------------------------------------------------


def _start(request, failover_type: str, data: dict) -> Response:
    job = services.failover_start(vm_context=_vm_from(data), failover_type=failover_type, options=data,
                                  requested_by=_who(request))
    estimate = validation.estimate(job.job_type, job.vm_context)
    if job.job_type == FailoverType.TEST:
        estimate = f"{estimate} (test duration: {job.test_duration})"
    return _answer(S.FailoverStartedSerializer, {"job": job, "estimated_duration": estimate},
                   f"{job.job_type.capitalize()} failover execution started successfully", status.HTTP_202_ACCEPTED)


class TestFailoverView(ReadView):
    @extend_schema(request=S.TestFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a reversible test failover")
    def post(self, request):
        return _start(request, FailoverType.TEST, validated(S.TestFailoverSerializer, request.data))


class LiveFailoverView(ReadView):
    @extend_schema(request=S.LiveFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a live (final) failover")
    def post(self, request):
        return _start(request, FailoverType.LIVE, validated(S.LiveFailoverSerializer, request.data))


class UnifiedFailoverView(ReadView):
    @extend_schema(request=S.UnifiedFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a failover of either type (failover_type)")
    def post(self, request):
        data = validated(S.UnifiedFailoverSerializer, request.data)
        return _start(request, data["failover_type"], data)


def _test_cleanup_answer(job: FailoverJob) -> Response:
    return _answer(S.TestFailoverCleanupStartedSerializer, job, "Test failover cleanup initiated successfully",
                   status.HTTP_202_ACCEPTED)


def _job_status(job: FailoverJob) -> Response:
    return _answer(S.FailoverJobStatusSerializer, job, f"Retrieved status for {job.job_type} failover job")


class TestFailoverDetailView(ReadView):
    @extend_schema(responses={200: S.FailoverJobStatusSerializer, **errors(404)}, tags=["failover"],
                   summary="Status of a test failover job")
    def get(self, request, job_id):
        return _job_status(services.job_get(job_id))

    @extend_schema(responses={202: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="End a test failover: destroy its VM, revert and reattach the volumes")
    def delete(self, request, job_id):
        job = services.test_end(job=services.job_get(job_id), requested_by=_who(request))
        return _test_cleanup_answer(job)


class CleanupTestView(ReadView):
    @extend_schema(request=None, responses={202: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)},
                   tags=["failover"],
                   summary="End the running test failover of a VM")
    def post(self, request, vm_name):
        job = services.test_end_for_vm(vm_context=_vm(vm_name), requested_by=_who(request))
        return _test_cleanup_answer(job)


class CleanupFailedView(ReadView):
    @extend_schema(request=None, responses={202: S.FailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="Clean up what a failed failover of a VM left behind")
    def post(self, request, vm_name):
        job = services.cleanup_failed(vm_context=_vm(vm_name), requested_by=_who(request))
        return _answer(S.FailoverCleanupStartedSerializer, job, "Cleanup of the failed execution started",
                       status.HTTP_202_ACCEPTED)


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
        limit, offset = _page(request)
        rows = _filtered(FailoverJobFilterSet, request, FailoverJob.objects.select_related("vm_context"))
        return _answer(S.FailoverJobListSerializer, _paged(rows, limit, offset), "Retrieved failover jobs list")


class PreflightConfigView(ReadView):
    @extend_schema(responses={200: S.FailoverPreflightConfigSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="What a failover of this type would use (networks, offering, volumes) and whether it can")
    def get(self, request, failover_type, vm_name):
        failover_type = _failover_type(failover_type)
        context = _vm(vm_name)
        result, validator = validation.validate(context, failover_type)
        configuration = selectors.preflight_configuration(context, failover_type, validator)
        return _answer(S.FailoverPreflightConfigSerializer,
                       {"vm": context, "failover_type": failover_type, "configuration": configuration,
                        "result": result}, "Preflight configuration")


class PreflightValidateView(ReadView):
    # A validation changes nothing: viewers may run it.
    write_roles = (Role.VIEWER,)

    @extend_schema(request=S.PreflightValidateSerializer,
                   responses={200: S.FailoverReadinessSerializer, **errors(400, 404, 502, 503)}, tags=["failover"],
                   summary="Validate a failover as it would be requested (with network overrides)")
    def post(self, request):
        data = validated(S.PreflightValidateSerializer, request.data)
        context = _vm_from(data)
        if data["network_mappings"]:
            services.check_sources(context, list(data["network_mappings"]))
        return _readiness(context, data["failover_type"], overrides=data["network_mappings"],
                          custom_config=data["custom_config"])


class RollbackView(ReadView):
    @extend_schema(request=S.RollbackSerializer,
                   responses={202: S.FailoverRollbackStartedSerializer, **S.refusals(400, 404, 409)}, tags=["failover"],
                   summary="Roll a failover back: end a running test, stop a running job, clean up a failed one")
    def post(self, request):
        data = validated(S.RollbackSerializer, request.data)
        context = _vm_from(data) if not data.get("job_id") else None
        job = services.rollback_target(job_id=data.get("job_id", ""), vm_context=context,
                                       failover_type=data.get("failover_type", ""))
        job, what = services.rollback(job=job, requested_by=_who(request))
        return _answer(S.FailoverRollbackStartedSerializer, job, f"Rollback started: {what}", status.HTTP_202_ACCEPTED)


class RollbackDecisionView(ReadView):
    @extend_schema(responses={200: S.FailoverRollbackDecisionSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="Whether the VM's latest failover of this type can be rolled back, and what that does")
    def get(self, request, failover_type, vm_name):
        failover_type = _failover_type(failover_type)
        context = _vm(vm_name)
        decision = selectors.rollback_decision(services.latest_job(context, failover_type), failover_type,
                                               context.vm_name)
        return _answer(S.FailoverRollbackDecisionSerializer, decision, "Rollback decision computed")


class DebugFailoverJobsView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("vm_id", str),
                               OpenApiParameter("limit", int)],
                   responses={200: S.FailoverDebugJobListSerializer, **errors(400)},
                   tags=["debug"], summary="Failover jobs with plans, volumes, resources, events")
    def get(self, request):
        limit, offset = _page(request, default=20)
        rows = _filtered(FailoverJobFilterSet, request,
                         FailoverJob.objects.select_related("vm_context", "ossea_config"))
        page = _paged(rows, limit, offset)
        return _answer(S.FailoverDebugJobListSerializer,
                       {"items": page.items, "total": page.total,
                        "active_jobs": FailoverJob.objects.filter(status__in=ACTIVE).count(),
                        "jobs_needing_cleanup": FailoverJob.objects.filter(needs_cleanup=True).count()},
                       "Failover jobs (debug)")
