"""Failover, validation and network mappings (seed 003; seed 000 "Failover (Enhanced + Unified)", "Validation",
"Network Mapping", "Debug")."""
from __future__ import annotations

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
from apps.replication.models import ReplicaVolume
from apps.settings import cloudstack as cs
from apps.settings import volumes

from .. import cloud, selectors, services, validation
from ..choices import ACTIVE, FailoverType
from ..filtersets import FailoverJobFilterSet, NetworkMappingFilterSet
from ..models import FailoverJob, NetworkMapping
from . import schemas as S
from .serializers import (
    LiveFailoverSerializer,
    MappingsPutSerializer,
    NetworkMappingSerializer,
    PreflightValidateSerializer,
    RollbackSerializer,
    TestFailoverSerializer,
    UnifiedFailoverSerializer,
)

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
        page = list(rows[offset:offset + limit])
        return Response({"success": True, "message": "Network mappings retrieved", "total_mappings": rows.count(),
                         "returned_mappings": len(page), "mappings": [selectors.mapping_dict(m) for m in page]})

    @extend_schema(request=NetworkMappingSerializer,
                   responses={201: S.NetworkMappingCreatedSerializer, **errors(400, 404, 409, 502, 503)},
                   tags=["network-mappings"],
                   summary="Map a VM's source network to an existing CloudStack network")
    def post(self, request):
        data = validated(NetworkMappingSerializer, request.data)
        mapping = services.mapping_create(
            vm_context=_vm(data["vm_id"]), source_network_name=data["source_network_name"],
            destination_network_id=data["destination_network_id"],
            destination_network_name=data.get("destination_network_name", ""),
            is_test_network=data["is_test_network"])
        return Response({"success": True, "message": "Network mapping created successfully",
                         "mapping": selectors.mapping_dict(mapping)}, status=status.HTTP_201_CREATED)


def _vm_mappings_answer(context, message: str, **extra) -> dict:
    rows = NetworkMapping.objects.filter(vm_context=context).select_related("vm_context")
    return {"success": True, "message": message, "vm_id": context.vm_id, "vm_name": context.vm_name,
            "mappings": [selectors.mapping_dict(m) for m in rows], "total_mappings": rows.count(), **extra}


class NetworkMappingVMView(ReadView):
    @extend_schema(responses={200: S.NetworkMappingsOfVMSerializer, **errors(404)}, tags=["network-mappings"],
                   summary="A VM's network mappings",
                   operation_id="network_mappings_vm_retrieve")
    def get(self, request, vm_id):
        return Response(_vm_mappings_answer(_vm(vm_id), "Network mappings retrieved"))

    @extend_schema(request=MappingsPutSerializer,
                   responses={200: S.NetworkMappingsUpdatedSerializer, **errors(400, 404, 502, 503)}, tags=["network-mappings"],
                   summary="Create or replace a VM's mappings ({mappings: [...]} or one mapping object)")
    def put(self, request, vm_id):
        context = _vm(vm_id)
        body = request.data
        if isinstance(body, dict) and "mappings" not in body:
            body = {"mappings": [body]}
        data = validated(MappingsPutSerializer, body)
        saved = services.mappings_put(vm_context=context, items=data["mappings"])
        return Response(_vm_mappings_answer(context, "Network mappings updated", updated=len(saved)))

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete a VM's mappings (optionally only test or production)",
                   operation_id="network_mappings_vm_destroy")
    def delete(self, request, vm_id):
        context = _vm(vm_id)
        count = services.mappings_delete(vm_context=context, is_test_network=_bool_param(request, "is_test_network"))
        return Response({"success": True, "message": f"Deleted {count} network mapping(s)", "vm_id": context.vm_id,
                         "deleted": count})


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
        return Response({"success": True, "message": "Network mappings retrieved", "vm_id": context.vm_id,
                         "mappings": [selectors.mapping_dict(m) for m in rows.select_related("vm_context")]})

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsOfSourceDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete the mapping(s) of one source network",
                   operation_id="network_mappings_source_destroy")
    def delete(self, request, vm_id, source_network_name):
        context = _vm(vm_id)
        count = services.mappings_delete(vm_context=context, source_network_name=source_network_name,
                                         is_test_network=_bool_param(request, "is_test_network"))
        return Response({"success": True, "message": f"Deleted {count} network mapping(s)", "vm_id": context.vm_id,
                         "source_network_name": source_network_name, "deleted": count})


def _network_status(request, vm_id) -> dict:
    context = _vm(vm_id)
    info = validation.network_info(context, failover_type=_failover_type(request.query_params.get("failover_type")))
    return {"success": True, "message": "Network mapping status retrieved", "vm_id": context.vm_id,
            "network_status": info}


class NetworkMappingStatusView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.NetworkMappingStatusAnswerSerializer, **errors(400, 404)},
                   tags=["network-mappings"],
                   summary="Which of the VM's source networks are mapped")
    def get(self, request, vm_id):
        return Response(_network_status(request, vm_id))

    @extend_schema(exclude=True)
    def delete(self, request, vm_id):
        # DELETE /network-mappings/{vm_id}/status is the delete of a source network named "status".
        return NetworkMappingSourceView().delete(request, vm_id, "status")


# -- validation ------------------------------------------------------------------------------------------


def _readiness(context, failover_type: str, **kwargs) -> dict:
    result, _ = validation.validate(context, failover_type, **kwargs)
    return {"success": True, "message": "VM failover readiness validation completed", "is_valid": result["is_ready"],
            "readiness_score": result["readiness_score"], "validation_result": result,
            "required_actions": result["required_actions"]}


class ReadinessView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.FailoverReadinessSerializer, **errors(400, 404)},
                   tags=["validation"],
                   summary="Failover readiness: every check, a score and the actions to take")
    def get(self, request, vm_id):
        return Response(_readiness(_vm(vm_id), _failover_type(request.query_params.get("failover_type"))))


class SyncStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverSyncStatusAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Last sync and stored change ids")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        return Response({"success": True, "message": "VM sync status retrieved", "vm_id": context.vm_id,
                         "sync_status": validation.sync_info(context)})


class NetworkMappingStatusVMView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.NetworkMappingStatusAnswerSerializer, **errors(400, 404)},
                   tags=["validation"],
                   summary="Network mapping status for failover")
    def get(self, request, vm_id):
        return Response(_network_status(request, vm_id))


class VolumeStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverVolumeStatusAnswerSerializer, **errors(404, 502, 503)},
                   tags=["validation"], summary="Replica volumes as CloudStack sees them")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        config = cloud.config_for(context)
        client = cloud.client_for(config)
        try:
            oma = volumes.oma_vm_id(config, client)
            info = validation.volume_info(context, client=client, oma_id=oma)
        except cs.CloudStackError as exc:
            raise cloud.api_error(exc) from exc
        boot = info["volumes"][0] if info["volumes"] else None
        return Response({"success": True, "message": "Volume status retrieved", "vm_id": context.vm_id,
                         "volume_status": boot, "volumes": info["volumes"],
                         "is_ready_for_failover": info["is_ready_for_failover"]})


class ActiveJobsView(ReadView):
    @extend_schema(responses={200: S.FailoverActiveJobsAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Jobs that would block a failover")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        return Response({"success": True, "message": "Active jobs status retrieved", "vm_id": context.vm_id,
                         "active_jobs": validation.active_jobs_info(context)})


class ConfigurationCheckView(ReadView):
    @extend_schema(responses={200: S.FailoverConfigurationCheckSerializer, **errors(404)}, tags=["validation"],
                   summary="Every check for a live and for a test failover, with the sections")
    def get(self, request, vm_id):
        context = _vm(vm_id)
        live, _ = validation.validate(context, FailoverType.LIVE)
        test, _ = validation.validate(context, FailoverType.TEST)
        return Response({"success": True, "message": "Configuration check completed", "vm_id": context.vm_id,
                         "is_valid": live["is_ready"], "is_valid_for_test": test["is_ready"],
                         "readiness_score": live["readiness_score"],
                         "configuration": {"live": live, "test": test},
                         "sync_status": validation.sync_info(context),
                         "network_status": validation.network_info(context),
                         "active_jobs": validation.active_jobs_info(context),
                         "required_actions": list(dict.fromkeys(live["required_actions"] + test["required_actions"]))})


# -- failover jobs ---------------------------------------------------------------------------------------


def _started(job: FailoverJob) -> dict:
    context = job.vm_context
    estimate = validation.estimate(job.job_type, context)
    data = {"job_type": job.job_type, "status": job.status, "vm_id": context.vm_id, "vm_name": context.vm_name}
    if job.job_type == FailoverType.TEST:
        data.update(test_duration=job.test_duration, auto_cleanup=job.auto_cleanup)
        estimate = f"{estimate} (test duration: {job.test_duration})"
    else:
        data.update(power_off_source=job.power_off_source, final_sync=job.final_sync)
    return {"success": True, "message": f"{job.job_type.capitalize()} failover execution started successfully",
            "job_id": job.job_id, "estimated_duration": estimate, "data": data}


def _start(request, failover_type: str, data: dict) -> Response:
    job = services.failover_start(vm_context=_vm_from(data), failover_type=failover_type, options=data,
                                  requested_by=_who(request))
    return Response(_started(job), status=status.HTTP_202_ACCEPTED)


class TestFailoverView(ReadView):
    @extend_schema(request=TestFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a reversible test failover")
    def post(self, request):
        return _start(request, FailoverType.TEST, validated(TestFailoverSerializer, request.data))


class LiveFailoverView(ReadView):
    @extend_schema(request=LiveFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a live (final) failover")
    def post(self, request):
        return _start(request, FailoverType.LIVE, validated(LiveFailoverSerializer, request.data))


class UnifiedFailoverView(ReadView):
    @extend_schema(request=UnifiedFailoverSerializer,
                   responses={202: S.FailoverStartedSerializer, **S.refusals(400, 404, 409, 502, 503)}, tags=["failover"],
                   summary="Start a failover of either type (failover_type)")
    def post(self, request):
        data = validated(UnifiedFailoverSerializer, request.data)
        return _start(request, data["failover_type"], data)


def _cleanup_answer(job: FailoverJob) -> dict:
    return {"success": True, "message": "Test failover cleanup initiated successfully", "job_id": job.job_id,
            "cleanup_status": "in_progress", "estimated_cleanup_time": "2-5 minutes"}


class TestFailoverDetailView(ReadView):
    @extend_schema(responses={200: S.FailoverJobStatusSerializer, **errors(404)}, tags=["failover"],
                   summary="Status of a test failover job")
    def get(self, request, job_id):
        return Response(selectors.job_status(services.job_get(job_id)))

    @extend_schema(responses={202: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="End a test failover: destroy its VM, revert and reattach the volumes")
    def delete(self, request, job_id):
        job = services.test_end(job=services.job_get(job_id), requested_by=_who(request))
        return Response(_cleanup_answer(job), status=status.HTTP_202_ACCEPTED)


class CleanupTestView(ReadView):
    @extend_schema(request=None, responses={202: S.TestFailoverCleanupStartedSerializer, **S.refusals(404, 409)},
                   tags=["failover"],
                   summary="End the running test failover of a VM")
    def post(self, request, vm_name):
        job = services.test_end_for_vm(vm_context=_vm(vm_name), requested_by=_who(request))
        return Response(_cleanup_answer(job), status=status.HTTP_202_ACCEPTED)


class CleanupFailedView(ReadView):
    @extend_schema(request=None, responses={202: S.FailoverCleanupStartedSerializer, **S.refusals(404, 409)}, tags=["failover"],
                   summary="Clean up what a failed failover of a VM left behind")
    def post(self, request, vm_name):
        job = services.cleanup_failed(vm_context=_vm(vm_name), requested_by=_who(request))
        return Response({"success": True, "message": "Cleanup of the failed execution started", "job_id": job.job_id,
                         "cleanup_status": "in_progress"}, status=status.HTTP_202_ACCEPTED)


class JobStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverJobStatusSerializer, **errors(404)}, tags=["failover"],
                   summary="Status of a failover job")
    def get(self, request, job_id):
        return Response(selectors.job_status(services.job_get(job_id)))


class JobListView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("type", str, enum=["live", "test"]),
                               OpenApiParameter("vm_id", str), OpenApiParameter("limit", int),
                               OpenApiParameter("offset", int)],
                   responses={200: S.FailoverJobListSerializer, **errors(400)}, tags=["failover"], summary="List failover jobs")
    def get(self, request):
        limit, offset = _page(request)
        rows = _filtered(FailoverJobFilterSet, request, FailoverJob.objects.select_related("vm_context"))
        page = list(rows[offset:offset + limit])
        return Response({"success": True, "message": "Retrieved failover jobs list", "total_jobs": rows.count(),
                         "returned_jobs": len(page), "limit": limit, "offset": offset,
                         "jobs": [selectors.job_summary(job) for job in page]})


class PreflightConfigView(ReadView):
    @extend_schema(responses={200: S.FailoverPreflightConfigSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="What a failover of this type would use (networks, offering, volumes) and whether it can")
    def get(self, request, failover_type, vm_name):
        failover_type = _failover_type(failover_type)
        context = _vm(vm_name)
        result, validator = validation.validate(context, failover_type)
        disks = list(context.disks.order_by("unit_number", "disk_key"))
        volume_rows = {r.disk_unit_number: r for r in ReplicaVolume.objects.filter(vm_context=context)}
        configuration = {
            "cloudstack_config": validator.config.name if validator.config else None,
            "networks": validator.plan.get("networks", []),
            "unmapped_networks": validation.network_info(context, failover_type=failover_type)["unmapped"],
            "compute": validator.plan.get("compute"), "template": validator.plan.get("template"),
            "destination_vm_name": (cloud.live_vm_name(context, {}) if failover_type == FailoverType.LIVE
                                    else "test-" + cloud.host_name(context.vm_name, limit=44) + "-<stamp>"),
            "volumes": [{"disk_id": d.disk_id, "role": "root" if i == 0 else "data",
                         "volume_id": volume_rows[d.unit_number].volume_id if d.unit_number in volume_rows else None}
                        for i, d in enumerate(disks)],
            "snapshots": "one CloudStack volume snapshot per replica volume, taken after detaching it",
        }
        if failover_type == FailoverType.LIVE:
            configuration.update(power_off_source=True, final_sync=True, shutdown_timeout=300)
        else:
            configuration.update(auto_cleanup=False)
        return Response({"success": True, "message": "Preflight configuration", "vm_id": context.vm_id,
                         "vm_name": context.vm_name, "failover_type": failover_type, "configuration": configuration,
                         "is_ready": result["is_ready"], "readiness_score": result["readiness_score"],
                         "estimated_duration": result["estimated_duration"],
                         "required_actions": result["required_actions"]})


class PreflightValidateView(ReadView):
    # A validation changes nothing: viewers may run it.
    write_roles = (Role.VIEWER,)

    @extend_schema(request=PreflightValidateSerializer,
                   responses={200: S.FailoverReadinessSerializer, **errors(400, 404, 502, 503)}, tags=["failover"],
                   summary="Validate a failover as it would be requested (with network overrides)")
    def post(self, request):
        data = validated(PreflightValidateSerializer, request.data)
        context = _vm_from(data)
        if data["network_mappings"]:
            services.check_sources(context, list(data["network_mappings"]))
        return Response(_readiness(context, data["failover_type"], overrides=data["network_mappings"],
                                   custom_config=data["custom_config"]))


class RollbackView(ReadView):
    @extend_schema(request=RollbackSerializer, responses={202: S.FailoverRollbackStartedSerializer, **S.refusals(400, 404, 409)},
                   tags=["failover"],
                   summary="Roll a failover back: end a running test, stop a running job, clean up a failed one")
    def post(self, request):
        data = validated(RollbackSerializer, request.data)
        context = _vm_from(data) if not data.get("job_id") else None
        job = services.rollback_target(job_id=data.get("job_id", ""), vm_context=context,
                                       failover_type=data.get("failover_type", ""))
        job, what = services.rollback(job=job, requested_by=_who(request))
        return Response({"success": True, "message": f"Rollback started: {what}", "job_id": job.job_id,
                         "job_type": job.job_type, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class RollbackDecisionView(ReadView):
    @extend_schema(responses={200: S.FailoverRollbackDecisionSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="Whether the VM's latest failover of this type can be rolled back, and what that does")
    def get(self, request, failover_type, vm_name):
        failover_type = _failover_type(failover_type)
        context = _vm(vm_name)
        return Response(selectors.rollback_decision(services.latest_job(context, failover_type), failover_type,
                                                    context.vm_name))


class DebugFailoverJobsView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("vm_id", str),
                               OpenApiParameter("limit", int)],
                   responses={200: S.FailoverDebugJobListSerializer, **errors(400)},
                   tags=["debug"], summary="Failover jobs with plans, volumes, resources, events")
    def get(self, request):
        limit, offset = _page(request, default=20)
        rows = _filtered(FailoverJobFilterSet, request,
                         FailoverJob.objects.select_related("vm_context", "ossea_config"))
        page = list(rows[offset:offset + limit])
        return Response({"success": True, "message": "Failover jobs (debug)", "total_jobs": rows.count(),
                         "active_jobs": FailoverJob.objects.filter(status__in=ACTIVE).count(),
                         "jobs_needing_cleanup": FailoverJob.objects.filter(needs_cleanup=True).count(),
                         "jobs": [selectors.debug_job(job) for job in page]})
