"""Discovery, the VM inventory and VM contexts (seed 000 "VM Inventory", "Discovery", seed 001 "VM Context API")."""
from __future__ import annotations

from typing import Any, NamedTuple

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import errors
from apps.core.api.validation import validated
from apps.core.exceptions import InvalidInput
from apps.core.pagination import PagedOnRequestPagination
from apps.settings import services as settings_services

from .. import selectors, services
from ..filtersets import VMContextFilterSet
from .serializers import (
    AddedVM,
    AddVMsAnswerSerializer,
    AddVMsSerializer,
    BulkAddAnswerSerializer,
    BulkAddSerializer,
    DiscoverAnswerSerializer,
    DiscoverSerializer,
    InventoryPushAnswerSerializer,
    InventoryPushSerializer,
    PreviewAnswerSerializer,
    VMContextSerializer,
    VMDetailSerializer,
    VMDiscoverAnswerSerializer,
)


def _credential(data):
    if data.get("credential_id"):
        return settings_services.credential_get(data["credential_id"])
    return settings_services.credential_default()


class Discovery(NamedTuple):
    data: dict  # the request body, validated
    credential: Any
    vms: list[dict]
    vcenter: dict | None


def _discover(request, body_serializer) -> Discovery:
    """Validate the body, then discover with the credential it names (else the default) and its filter."""
    data = validated(body_serializer, request.data)
    credential = _credential(data)
    answer = services.discover(credential=credential, filter=data.get("filter", ""))
    return Discovery(data, credential, answer.get("vms", []), answer.get("vcenter"))


def _added(credential, vms: list[dict]) -> tuple[list[AddedVM], int]:
    """Add the agent's VM records to the inventory (idempotent): each VM context, and how many are new."""
    added = AddedVM.from_pairs(services.add_vms(credential=credential, vms=vms))
    return added, sum(a.created for a in added)


def _known(vms: list[dict]) -> dict:
    """The serializer context of answers that list the agent's VM records."""
    return {"known_vm_ids": selectors.known_vm_ids(vms)}


class DiscoverVMsView(APIView):
    @extend_schema(request=DiscoverSerializer, responses={200: DiscoverAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"], summary="Discover VMs in vCenter through the agent (optionally add them)")
    def post(self, request):
        found = _discover(request, DiscoverSerializer)
        # Known before anything is added: create_context reports the VMs as discovery found them.
        context = _known(found.vms)
        body = {"success": True, "message": f"Discovered {len(found.vms)} VM(s)", "vcenter": found.vcenter,
                "count": len(found.vms), "discovered_vms": found.vms}
        if found.data["create_context"]:
            body["added"], _ = _added(found.credential, found.vms)
        return Response(DiscoverAnswerSerializer(body, context=context).data)


class PreviewView(APIView):
    @extend_schema(request=DiscoverSerializer, responses={200: PreviewAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"], summary="What discovery would add, without adding anything")
    def post(self, request):
        vms = _discover(request, DiscoverSerializer).vms
        context = _known(vms)
        new = sum(1 for vm in vms if selectors.agent_vm_id(vm) not in context["known_vm_ids"])
        return Response(PreviewAnswerSerializer({"success": True, "count": len(vms), "new_vms": new, "preview": vms},
                                                context=context).data)


class AddVMsView(APIView):
    @extend_schema(request=AddVMsSerializer, responses={201: AddVMsAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"],
                   summary="Add named VMs to the inventory (idempotent)")
    def post(self, request):
        found = _discover(request, AddVMsSerializer)
        by_name = {vm.get("name"): vm for vm in found.vms}
        names = found.data["vm_names"]
        missing = [name for name in names if name not in by_name]
        if missing:
            raise InvalidInput(f"Not found in vCenter: {', '.join(missing)}", details={"missing": missing})
        added, created = _added(found.credential, [by_name[n] for n in dict.fromkeys(names)])
        return Response(AddVMsAnswerSerializer({"success": True, "vm_contexts": added,
                                                "message": f"{created} VM(s) added, {len(added) - created} already present"}
                                               ).data, status=status.HTTP_201_CREATED)


class BulkAddView(APIView):
    @extend_schema(request=BulkAddSerializer, responses={201: BulkAddAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"],
                   summary="Add every VM matching a filter (idempotent)")
    def post(self, request):
        found = _discover(request, BulkAddSerializer)
        added, created = _added(found.credential, found.vms)
        return Response(BulkAddAnswerSerializer({"success": True, "message": f"{len(added)} VM(s) processed",
                                                 "added": created, "already_present": len(added) - created,
                                                 "vm_contexts": added}).data, status=status.HTTP_201_CREATED)


class VMContextRowsView(ListAPIView):
    # VM contexts as every inventory list shows and filters them; `rows` is the selector that picks them. (A comment:
    # the schema would describe each list by a docstring here.)
    serializer_class = VMContextSerializer
    filterset_class = VMContextFilterSet
    rows = staticmethod(selectors.vm_contexts)

    def get_queryset(self):
        return self.rows()


class UngroupedVMsView(VMContextRowsView):
    rows = staticmethod(selectors.ungrouped_vm_contexts)


class VMContextListView(VMContextRowsView):
    pagination_class = PagedOnRequestPagination


class VMListView(VMContextListView):
    """GET /vms: the inventory as a list (same rows as /vm-contexts)."""


class VMDetailView(APIView):
    @extend_schema(responses={200: VMDetailSerializer, **errors(404)}, tags=["vms"])
    def get(self, request, vm_id):
        context = selectors.vm_contexts().get(pk=services.vm_context_get(vm_id).pk)
        return Response(VMDetailSerializer(context).data)


class VMDiscoverView(APIView):
    @extend_schema(parameters=[OpenApiParameter("vcenter", str), OpenApiParameter("filter", str)],
                   responses={200: VMDiscoverAnswerSerializer, **errors(404, 503)},
                   tags=["vms"], summary="Discover VMs of a vCenter (default credentials)")
    def get(self, request):
        vcenter = request.query_params.get("vcenter")
        if vcenter:
            credential = settings_services.credential_for_vcenter(vcenter)
        else:
            credential = settings_services.credential_default()
        answer = services.discover(credential=credential, filter=request.query_params.get("filter", ""))
        vms = answer.get("vms", [])
        return Response(VMDiscoverAnswerSerializer({"success": True, "vcenter": answer.get("vcenter"), "vms": vms},
                                                   context=_known(vms)).data)


class InventoryPushView(APIView):
    agent_methods = ("post",)
    @extend_schema(request=InventoryPushSerializer, responses={200: InventoryPushAnswerSerializer, **errors(400)},
                   tags=["vms"],
                   summary="An agent pushes the VMs it sees")
    def post(self, request):
        data = validated(InventoryPushSerializer, request.data)
        results = [services.vm_context_upsert(vm=vm, vcenter_host=data["vcenter"]["host"],
                                              datacenter=data["vcenter"]["datacenter"]) for vm in data["vms"]]
        created = sum(c for _, c in results)
        return Response(InventoryPushAnswerSerializer({"success": True, "message": f"Inventory received: {len(results)} VM(s)",
                                                       "created": created, "updated": len(results) - created}).data)
