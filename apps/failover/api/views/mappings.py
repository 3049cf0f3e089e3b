"""Network mappings (seed 003 "Network Management", seed 000 "Network Mapping")."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status

from apps.core.api.schemas import errors
from apps.core.api.validation import validated
from apps.core.exceptions import NotFound

from ... import services
from ...filtersets import NetworkMappingFilterSet
from ...models import NetworkMapping
from .. import serializers as S
from .common import (
    NetworkStatusView,
    ReadView,
    answer,
    bool_param,
    filtered,
    find_vm,
    network_status_schema,
    page_bounds,
    paged,
)


class NetworkMappingListCreateView(ReadView):
    @extend_schema(parameters=[OpenApiParameter("vm_id", str), OpenApiParameter("is_test_network", bool),
                               OpenApiParameter("source_network_name", str),
                               OpenApiParameter("destination_network_id", str), OpenApiParameter("q", str),
                               OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses={200: S.NetworkMappingListAnswerSerializer, **errors(400)},
                   tags=["network-mappings"], summary="List network mappings",
                   operation_id="network_mappings_list")
    def get(self, request):
        limit, offset = page_bounds(request)
        rows = filtered(NetworkMappingFilterSet, request, NetworkMapping.objects.select_related("vm_context"))
        return answer(S.NetworkMappingListAnswerSerializer, paged(rows, limit, offset), "Network mappings retrieved")

    @extend_schema(request=S.NetworkMappingSerializer,
                   responses={201: S.NetworkMappingCreatedSerializer, **errors(400, 404, 409, 502, 503)},
                   tags=["network-mappings"],
                   summary="Map a VM's source network to an existing CloudStack network")
    def post(self, request):
        data = validated(S.NetworkMappingSerializer, request.data)
        mapping = services.mapping_create(
            vm_context=find_vm(data["vm_id"]), source_network_name=data["source_network_name"],
            destination_network_id=data["destination_network_id"],
            destination_network_name=data.get("destination_network_name", ""),
            is_test_network=data["is_test_network"])
        return answer(S.NetworkMappingCreatedSerializer, mapping, "Network mapping created successfully",
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
        return answer(S.NetworkMappingsOfVMSerializer, _vm_mappings(find_vm(vm_id)), "Network mappings retrieved")

    @extend_schema(request=S.MappingsPutSerializer,
                   responses={200: S.NetworkMappingsUpdatedSerializer, **errors(400, 404, 502, 503)}, tags=["network-mappings"],
                   summary="Create or replace a VM's mappings ({mappings: [...]} or one mapping object)")
    def put(self, request, vm_id):
        context = find_vm(vm_id)
        body = request.data
        if isinstance(body, dict) and "mappings" not in body:
            body = {"mappings": [body]}
        data = validated(S.MappingsPutSerializer, body)
        saved = services.mappings_put(vm_context=context, items=data["mappings"])
        return answer(S.NetworkMappingsUpdatedSerializer, _vm_mappings(context, updated=len(saved)),
                      "Network mappings updated")

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete a VM's mappings (optionally only test or production)",
                   operation_id="network_mappings_vm_destroy")
    def delete(self, request, vm_id):
        context = find_vm(vm_id)
        count = services.mappings_delete(vm_context=context, is_test_network=bool_param(request, "is_test_network"))
        return answer(S.NetworkMappingsDeletedSerializer, {"vm": context, "deleted": count},
                      f"Deleted {count} network mapping(s)")


class NetworkMappingSourceView(ReadView):
    @extend_schema(responses={200: S.NetworkMappingsOfSourceSerializer, **errors(404)},
                   tags=["network-mappings"], summary="A VM's mappings of one source network",
                   operation_id="network_mappings_source_retrieve")
    def get(self, request, vm_id, source_network_name):
        context = find_vm(vm_id)
        rows = NetworkMapping.objects.filter(vm_context=context, source_network_name=source_network_name)
        if not rows.exists():
            raise NotFound(f"VM '{context.vm_name}' has no network mapping for '{source_network_name}'",
                           error_code="MAPPING_NOT_FOUND")
        return answer(S.NetworkMappingsOfSourceSerializer,
                      {"vm": context, "mappings": rows.select_related("vm_context")}, "Network mappings retrieved")

    @extend_schema(parameters=[OpenApiParameter("is_test_network", bool)],
                   responses={200: S.NetworkMappingsOfSourceDeletedSerializer, **errors(400, 404)},
                   tags=["network-mappings"], summary="Delete the mapping(s) of one source network",
                   operation_id="network_mappings_source_destroy")
    def delete(self, request, vm_id, source_network_name):
        context = find_vm(vm_id)
        count = services.mappings_delete(vm_context=context, source_network_name=source_network_name,
                                         is_test_network=bool_param(request, "is_test_network"))
        return answer(S.NetworkMappingsOfSourceDeletedSerializer,
                      {"vm": context, "source_network_name": source_network_name, "deleted": count},
                      f"Deleted {count} network mapping(s)")


@network_status_schema("network-mappings", "Which of the VM's source networks are mapped")
class NetworkMappingStatusView(NetworkStatusView):
    @extend_schema(exclude=True)
    def delete(self, request, vm_id):
        # DELETE /network-mappings/{vm_id}/status is the delete of a source network named "status".
        return NetworkMappingSourceView().delete(request, vm_id, "status")
