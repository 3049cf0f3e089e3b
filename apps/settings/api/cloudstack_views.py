"""CloudStack setup endpoints: test, detect the control-plane VM, validate, discover, networks, offerings."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import errors
from apps.core.api.validation import checked
from apps.core.choices import Role
from apps.core.exceptions import InvalidInput
from apps.core.permissions import user_roles

from .. import cloudstack_service as svc
from .. import services
from ..models import OsseaConfig
from .serializers import (
    ConnectionTestSerializer,
    DetectOmaVmAnswerSerializer,
    DetectSerializer,
    DiscoverAllAnswerSerializer,
    NetworksAnswerSerializer,
    OfferingQuerySerializer,
    ResolveAnswerSerializer,
    ResolveSerializer,
    ServiceOfferingsAnswerSerializer,
    StreamlinedAnswerSerializer,
    StreamlinedSerializer,
    TargetSerializer,
    ValidateAnswerSerializer,
    connection_test_answer,
)

# CloudStack refused the keys or a refused address (400), a URL given by a non-operator (403), an unknown config_id
# (404), CloudStack unreachable or odd (502), nothing configured (503).
CS_ERRORS = errors(400, 403, 404, 502, 503)


def any_url(request) -> bool:
    """Whether the caller may make the platform call a URL of their choosing (operators and admins)."""
    return Role.OPERATOR in user_roles(request.user)


def _target(request, data=None) -> svc.Target:
    source = request.data if data is None else data
    if not isinstance(source, dict):
        raise InvalidInput("Invalid request: expected a JSON object")
    return svc.Target(checked(TargetSerializer, source), any_url=any_url(request))


def _query_target(request) -> svc.Target:
    return _target(request, {k: v for k, v in request.query_params.items() if k in ("config_id", "zone")})


class TestConnectionView(APIView):
    read_roles = write_roles = ("viewer",)  # reads only; a viewer may test

    @extend_schema(request=TargetSerializer, responses={200: ConnectionTestSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def post(self, request):
        target = _target(request)
        details = svc.connection_details(api_url=target.api_url, api_key=target.api_key,
                                         secret_key=target.secret_key, zone=target.zone)
        return Response(connection_test_answer(details))


class DetectOmaVmView(APIView):
    @extend_schema(request=DetectSerializer, responses={200: DetectOmaVmAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"],
                   summary="Find the control plane's own VM (by this host's MACs, or the configured id)")
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("Invalid request: expected a JSON object")
        data = checked(DetectSerializer, request.data)
        save = data.pop("save")
        target = svc.Target(data, any_url=any_url(request))
        vm = svc.detect_oma_vm(target)
        saved = False
        if target.config is not None and save and target.config.oma_vm_id != vm["id"]:
            services.ossea_config_update(config=target.config, data={"oma_vm_id": vm["id"]})
            saved = True
        return Response(DetectOmaVmAnswerSerializer({"success": True, "message": f"Control-plane VM is {vm.get('name')}",
                                                     "oma_vm": vm, "saved": saved}).data)


class NetworksView(APIView):
    @extend_schema(parameters=[OpenApiParameter("config_id", int), OpenApiParameter("zone", str)],
                   responses={200: NetworksAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def get(self, request):
        rows = svc.networks(_query_target(request))
        return Response(NetworksAnswerSerializer({"success": True, "count": len(rows), "networks": rows}).data)


class ValidateView(APIView):
    read_roles = write_roles = ("viewer",)

    @extend_schema(request=TargetSerializer, responses={200: ValidateAnswerSerializer, **errors(400, 403, 404, 503)},
                   tags=["cloudstack"])
    def post(self, request):
        return Response(ValidateAnswerSerializer(svc.validate(_target(request))).data)


class DiscoverAllView(APIView):
    read_roles = write_roles = ("viewer",)

    @extend_schema(request=TargetSerializer, responses={200: DiscoverAllAnswerSerializer, **CS_ERRORS},
                   tags=["cloudstack"], summary="Zones, networks, offerings, templates and the control-plane VM in one call")
    def post(self, request):
        return Response(DiscoverAllAnswerSerializer({"success": True, **svc.discover_all(_target(request))}).data)


class StreamlinedConfigView(APIView):
    @extend_schema(request=StreamlinedSerializer,
                   responses={201: StreamlinedAnswerSerializer, 200: StreamlinedAnswerSerializer, **CS_ERRORS},
                   tags=["cloudstack"],
                   summary="Test, discover the control-plane VM and save a configuration in one step")
    def post(self, request):
        data = dict(checked(StreamlinedSerializer, request.data))
        target = svc.Target(data, any_url=any_url(request))
        details = svc.connection_details(api_url=target.api_url, api_key=target.api_key,
                                         secret_key=target.secret_key, zone=data["zone"])
        if not data["oma_vm_id"]:
            data["oma_vm_id"] = svc.detect_oma_vm(target)["id"]
        existing = OsseaConfig.objects.filter(name=data["name"]).first()
        if existing is None:
            config = services.ossea_config_create(data=data)
            code = status.HTTP_201_CREATED
        else:
            config = services.ossea_config_update(config=existing, data=data)
            code = status.HTTP_200_OK
        return Response(StreamlinedAnswerSerializer({"success": True, "message": "Configuration saved",
                                                     "connection": details, "configuration": config}).data, status=code)


class AvailableNetworksView(NetworksView):
    # Seed 000 "Network Mapping". A comment, not in the docstring: the schema shows the docstring to API readers.
    """GET /networks/available: the CloudStack networks a mapping can name."""


class ResolveNetworksView(APIView):
    read_roles = write_roles = ("viewer",)

    @extend_schema(request=ResolveSerializer, responses={200: ResolveAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"],
                   summary="Resolve network names (or ids) to CloudStack network ids")
    def post(self, request):
        data = checked(ResolveSerializer, request.data)
        rows = svc.networks(svc.Target(data, any_url=any_url(request)))
        resolved, unknown = {}, []
        for name in data["network_names"]:
            hit = next((n for n in rows if name in (n["id"], n.get("name"))), None)
            if hit is None:
                unknown.append(name)
            else:
                resolved[name] = hit
        message = "All networks resolved" if not unknown else f"Unknown networks: {', '.join(unknown)}"
        return Response(ResolveAnswerSerializer({"success": not unknown, "resolved": resolved, "unresolved": unknown,
                                                 "message": message}).data)


class AvailableServiceOfferingsView(APIView):
    @extend_schema(parameters=[OpenApiParameter("config_id", int), OpenApiParameter("cpus", int),
                               OpenApiParameter("memory_mb", int)],
                   responses={200: ServiceOfferingsAnswerSerializer, **CS_ERRORS}, tags=["cloudstack"])
    def get(self, request):
        # The query is validated before the configuration is looked up: bad input is a 400 even when
        # CloudStack is not configured yet (which would be a 503).
        query = {k: v for k, v in request.query_params.items() if k in OfferingQuerySerializer().fields and v != ""}
        params = checked(OfferingQuerySerializer, query)
        target = _target(request, {k: params[k] for k in ("config_id", "zone") if k in params})
        rows = svc.service_offerings(target)
        return Response(ServiceOfferingsAnswerSerializer({"success": True, "count": len(rows), "service_offerings": rows},
                                                         context={k: params.get(k) for k in ("cpus", "memory_mb")}).data)
