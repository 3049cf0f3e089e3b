"""CloudStack setup endpoints: test, detect the control-plane VM, validate, discover, networks, offerings."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schemas import errors
from apps.core.exceptions import InvalidInput

from .. import cloudstack_service as svc
from .. import services
from .schemas import (
    ConnectionTestSerializer,
    DetectOmaVmAnswerSerializer,
    DiscoverAllAnswerSerializer,
    NetworksAnswerSerializer,
    ResolveAnswerSerializer,
    ServiceOfferingsAnswerSerializer,
    StreamlinedAnswerSerializer,
    ValidateAnswerSerializer,
)
from .serializers import OsseaConfigSerializer


class TargetSerializer(serializers.Serializer):
    """Inline keys, or config_id of a stored configuration (the active one when both are absent)."""

    api_url = serializers.URLField(required=False, max_length=500)
    api_key = serializers.CharField(required=False, max_length=500)
    secret_key = serializers.CharField(required=False, max_length=500, trim_whitespace=False, write_only=True)
    zone = serializers.CharField(required=False, allow_blank=True, max_length=255)
    oma_vm_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    config_id = serializers.IntegerField(required=False, min_value=1)


class StreamlinedSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=255, default="default")
    api_url = serializers.URLField(max_length=500)
    api_key = serializers.CharField(max_length=500)
    secret_key = serializers.CharField(max_length=500, trim_whitespace=False, write_only=True)
    zone = serializers.CharField(max_length=255)
    domain = serializers.CharField(required=False, max_length=255, default="/")
    oma_vm_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    network_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    service_offering_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    disk_offering_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class DetectSerializer(TargetSerializer):
    save = serializers.BooleanField(required=False, default=False)


class OfferingQuerySerializer(serializers.Serializer):
    config_id = serializers.IntegerField(required=False, min_value=1)
    zone = serializers.CharField(required=False, allow_blank=True, max_length=255)
    cpus = serializers.IntegerField(required=False, min_value=0, max_value=4096)
    memory_mb = serializers.IntegerField(required=False, min_value=0, max_value=64 * 1024 * 1024)


class ResolveSerializer(TargetSerializer):
    network_names = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=200)


# CloudStack refused the keys (400), an unknown config_id (404), CloudStack unreachable or odd (502), nothing
# configured (503).
CS_ERRORS = errors(400, 404, 502, 503)


def _target(request, data=None) -> svc.Target:
    source = request.data if data is None else data
    if not isinstance(source, dict):
        raise InvalidInput("Invalid request: expected a JSON object")
    serializer = TargetSerializer(data=source)
    serializer.is_valid(raise_exception=True)
    return svc.Target(serializer.validated_data)


def _query_target(request) -> svc.Target:
    return _target(request, {k: v for k, v in request.query_params.items() if k in ("config_id", "zone")})


class TestConnectionView(APIView):
    read_roles = write_roles = ("viewer", "agent")  # reads only; a viewer may test

    @extend_schema(request=TargetSerializer, responses={200: ConnectionTestSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def post(self, request):
        target = _target(request)
        return Response(svc.test_connection_answer(api_url=target.api_url, api_key=target.api_key,
                                                   secret_key=target.secret_key, zone=target.zone))


class DetectOmaVmView(APIView):
    @extend_schema(request=DetectSerializer, responses={200: DetectOmaVmAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"],
                   summary="Find the control plane's own VM (by this host's MACs, or the configured id)")
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("Invalid request: expected a JSON object")
        serializer = DetectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        save = serializer.validated_data.pop("save")
        target = svc.Target(serializer.validated_data)
        vm = svc.detect_oma_vm(target)
        saved = False
        if target.config is not None and save and target.config.oma_vm_id != vm["id"]:
            services.ossea_config_update(config=target.config, data={"oma_vm_id": vm["id"]})
            saved = True
        return Response({"success": True, "message": f"Control-plane VM is {vm['name']}", "oma_vm": vm,
                         "saved": saved})


class NetworksView(APIView):
    @extend_schema(parameters=[OpenApiParameter("config_id", int), OpenApiParameter("zone", str)],
                   responses={200: NetworksAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def get(self, request):
        rows = svc.networks(_query_target(request))
        return Response({"success": True, "count": len(rows), "networks": rows})


class ValidateView(APIView):
    read_roles = write_roles = ("viewer", "agent")

    @extend_schema(request=TargetSerializer, responses={200: ValidateAnswerSerializer, **errors(400, 404, 503)},
                   tags=["cloudstack"])
    def post(self, request):
        return Response(svc.validate(_target(request)))


class DiscoverAllView(APIView):
    read_roles = write_roles = ("viewer", "agent")

    @extend_schema(request=TargetSerializer, responses={200: DiscoverAllAnswerSerializer, **CS_ERRORS},
                   tags=["cloudstack"], summary="Zones, networks, offerings, templates and the control-plane VM in one call")
    def post(self, request):
        return Response({"success": True, **svc.discover_all(_target(request))})


class StreamlinedConfigView(APIView):
    @extend_schema(request=StreamlinedSerializer,
                   responses={201: StreamlinedAnswerSerializer, 200: StreamlinedAnswerSerializer, **CS_ERRORS},
                   tags=["cloudstack"],
                   summary="Test, discover the control-plane VM and save a configuration in one step")
    def post(self, request):
        serializer = StreamlinedSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        target = svc.Target(data)
        test = svc.test_connection_answer(api_url=target.api_url, api_key=target.api_key,
                                          secret_key=target.secret_key, zone=data["zone"])
        if not data["oma_vm_id"]:
            data["oma_vm_id"] = svc.detect_oma_vm(target)["id"]
        from ..models import OsseaConfig

        existing = OsseaConfig.objects.filter(name=data["name"]).first()
        if existing is None:
            config = services.ossea_config_create(data=data)
            code = status.HTTP_201_CREATED
        else:
            config = services.ossea_config_update(config=existing, data=data)
            code = status.HTTP_200_OK
        return Response({"success": True, "message": "Configuration saved", "connection": test["details"],
                         "configuration": OsseaConfigSerializer(config).data}, status=code)


class AvailableNetworksView(NetworksView):
    """GET /networks/available (seed 000 "Network Mapping"): the CloudStack networks a mapping can name."""


class ResolveNetworksView(APIView):
    read_roles = write_roles = ("viewer", "agent")

    @extend_schema(request=ResolveSerializer, responses={200: ResolveAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"],
                   summary="Resolve network names (or ids) to CloudStack network ids")
    def post(self, request):
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = svc.networks(svc.Target(serializer.validated_data))
        resolved, unknown = {}, []
        for name in serializer.validated_data["network_names"]:
            hit = next((n for n in rows if name in (n["id"], n["name"])), None)
            if hit is None:
                unknown.append(name)
            else:
                resolved[name] = {"id": hit["id"], "name": hit["name"]}
        return Response({"success": not unknown, "resolved": resolved, "unresolved": unknown,
                         "message": "All networks resolved" if not unknown else f"Unknown networks: {', '.join(unknown)}"})


class AvailableServiceOfferingsView(APIView):
    @extend_schema(parameters=[OpenApiParameter("config_id", int), OpenApiParameter("cpus", int),
                               OpenApiParameter("memory_mb", int)],
                   responses={200: ServiceOfferingsAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def get(self, request):
        # The query is validated before the configuration is looked up: bad input is a 400 even when
        # CloudStack is not configured yet (which would be a 503).
        query = {k: v for k, v in request.query_params.items() if k in OfferingQuerySerializer().fields and v != ""}
        serializer = OfferingQuerySerializer(data=query)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        target = _target(request, {k: params[k] for k in ("config_id", "zone") if k in params})
        rows = svc.service_offerings(target, cpus=params.get("cpus"), memory_mb=params.get("memory_mb"))
        return Response({"success": True, "count": len(rows), "service_offerings": rows})
