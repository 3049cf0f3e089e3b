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


class VMFactsView(ReadView):
    # A GET about one VM that answers the VM and, under each name of `facts`, what `fact(vm_context)` says of it
    # (`vm_answer`). A view names them in its class line:
    #     class SyncStatusView(VMFactsView, serializer=S.X, facts={"sync_status": readiness.sync_info},
    #                          message="...", summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, serializer=None, facts=None, message: str = "", summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if serializer is None:
            return

        @extend_schema(responses={200: serializer, **errors(404)}, tags=["validation"], summary=summary)
        def get(self, request, vm_id):
            return vm_answer(serializer, vm_id, message, **facts)

        cls.get = get


class SyncStatusView(VMFactsView, serializer=S.FailoverSyncStatusAnswerSerializer,
                     facts={"sync_status": readiness.sync_info}, message="VM sync status retrieved",
                     summary="Last sync and stored change ids"):
    pass


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


class ActiveJobsView(VMFactsView, serializer=S.FailoverActiveJobsAnswerSerializer,
                     facts={"active_jobs": readiness.active_jobs_info}, message="Active jobs status retrieved",
                     summary="Jobs that would block a failover"):
    pass


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


class FailoverOfVMView(ReadView):
    # A GET about a failover of one type of one VM (`.../{failover_type}/{vm_name}`): the type is checked (400) before
    # the VM is looked up (404), and the view's `findings(context, failover_type)` is answered in the envelope. A view
    # names its serializer, message and summary in its class line, as VMFactsView's do.

    def __init_subclass__(cls, serializer=None, message: str = "", summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if serializer is None:
            return

        @extend_schema(responses={200: serializer, **errors(400, 404)}, tags=["failover"], summary=summary)
        def get(self, request, failover_type, vm_name):
            failover_type = failover_type_of(failover_type)
            return answer(serializer, self.findings(find_vm(vm_name), failover_type), message)

        cls.get = get


class PreflightConfigView(FailoverOfVMView, serializer=S.FailoverPreflightConfigSerializer,
                          message="Preflight configuration",
                          summary="What a failover of this type would use (networks, offering, volumes) and whether it can"):
    def findings(self, context, failover_type: str) -> dict:
        result, validator = validation.validate(context, failover_type)
        configuration = selectors.preflight_configuration(context, failover_type, validator)
        return {"vm": context, "failover_type": failover_type, "configuration": configuration, "result": result}


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


class RollbackDecisionView(FailoverOfVMView, serializer=S.FailoverRollbackDecisionSerializer,
                           message="Rollback decision computed",
                           summary="Whether the VM's latest failover of this type can be rolled back, and what that does"):
    def findings(self, context, failover_type: str) -> dict:
        return selectors.rollback_decision(services.latest_job(context, failover_type), failover_type, context.vm_name)
