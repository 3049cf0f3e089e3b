"""What a failover would meet before it starts: readiness, sync, volume and job status, preflight and the rollback
decision (seed 003 "VM Validation", seed 000 "Validation")."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema

from apps.core.api.schemas import errors
from apps.core.api.validation import validated
from apps.core.choices import Role
from apps.settings import cloudstack as cs
from apps.settings import volumes

from ... import cloud, readiness, selectors, services, validation
from ...choices import FailoverType
from .. import serializers as S
from .common import (
    TYPE_PARAM,
    NetworkStatusView,
    ReadView,
    answer,
    failover_type_of,
    find_vm,
    network_status_schema,
    readiness_answer,
    vm_answer,
    vm_from,
)


class ReadinessView(ReadView):
    @extend_schema(parameters=[TYPE_PARAM], responses={200: S.FailoverReadinessSerializer, **errors(400, 404)},
                   tags=["validation"],
                   summary="Failover readiness: every check, a score and the actions to take")
    def get(self, request, vm_id):
        return readiness_answer(find_vm(vm_id), failover_type_of(request.query_params.get("failover_type")))


class SyncStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverSyncStatusAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Last sync and stored change ids")
    def get(self, request, vm_id):
        return vm_answer(S.FailoverSyncStatusAnswerSerializer, vm_id, "VM sync status retrieved",
                         sync_status=readiness.sync_info)


@network_status_schema("validation", "Network mapping status for failover")
class NetworkMappingStatusVMView(NetworkStatusView):
    pass


class VolumeStatusView(ReadView):
    @extend_schema(responses={200: S.FailoverVolumeStatusAnswerSerializer, **errors(404, 502, 503)},
                   tags=["validation"], summary="Replica volumes as CloudStack sees them")
    def get(self, request, vm_id):
        context = find_vm(vm_id)
        config = cloud.config_for(context)
        client = cloud.client_for(config)
        try:
            oma = volumes.oma_vm_id(config, client)
            info = readiness.volume_info(context, client=client, oma_id=oma)
        except cs.CloudStackError as exc:
            raise cloud.api_error(exc) from exc
        return answer(S.FailoverVolumeStatusAnswerSerializer, {"vm": context, "info": info}, "Volume status retrieved")


class ActiveJobsView(ReadView):
    @extend_schema(responses={200: S.FailoverActiveJobsAnswerSerializer, **errors(404)},
                   tags=["validation"], summary="Jobs that would block a failover")
    def get(self, request, vm_id):
        return vm_answer(S.FailoverActiveJobsAnswerSerializer, vm_id, "Active jobs status retrieved",
                         active_jobs=readiness.active_jobs_info)


class ConfigurationCheckView(ReadView):
    @extend_schema(responses={200: S.FailoverConfigurationCheckSerializer, **errors(404)}, tags=["validation"],
                   summary="Every check for a live and for a test failover, with the sections")
    def get(self, request, vm_id):
        context = find_vm(vm_id)
        live, _ = validation.validate(context, FailoverType.LIVE)
        test, _ = validation.validate(context, FailoverType.TEST)
        return answer(S.FailoverConfigurationCheckSerializer,
                      {"vm": context, "configuration": {"live": live, "test": test},
                       "sync_status": readiness.sync_info(context), "network_status": readiness.network_info(context),
                       "active_jobs": readiness.active_jobs_info(context)},
                      "Configuration check completed")



class PreflightConfigView(ReadView):
    @extend_schema(responses={200: S.FailoverPreflightConfigSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="What a failover of this type would use (networks, offering, volumes) and whether it can")
    def get(self, request, failover_type, vm_name):
        failover_type = failover_type_of(failover_type)
        context = find_vm(vm_name)
        result, validator = validation.validate(context, failover_type)
        configuration = selectors.preflight_configuration(context, failover_type, validator)
        return answer(S.FailoverPreflightConfigSerializer,
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
        context = vm_from(data)
        if data["network_mappings"]:
            services.check_sources(context, list(data["network_mappings"]))
        return readiness_answer(context, data["failover_type"], overrides=data["network_mappings"],
                                custom_config=data["custom_config"])


class RollbackDecisionView(ReadView):
    @extend_schema(responses={200: S.FailoverRollbackDecisionSerializer, **errors(400, 404)}, tags=["failover"],
                   summary="Whether the VM's latest failover of this type can be rolled back, and what that does")
    def get(self, request, failover_type, vm_name):
        failover_type = failover_type_of(failover_type)
        context = find_vm(vm_name)
        decision = selectors.rollback_decision(services.latest_job(context, failover_type), failover_type,
                                               context.vm_name)
        return answer(S.FailoverRollbackDecisionSerializer, decision, "Rollback decision computed")
