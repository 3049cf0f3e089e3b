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


class DiscoveryView(APIView):
    # A POST that discovers VMs through the agent with the credential and filter its body names (`_discover`) and
    # answers `{"success": true, **self.reply(found, context)}`. Its class line names the body, the answer, the
    # answer's status and its summary; with `known=True` the answer's context holds the VMs the inventory knew before
    # anything was added (`_known`), for answers that list discovery's records:
    #     class BulkAddView(DiscoveryView, body=BulkAddSerializer, answer=BulkAddAnswerSerializer, code=201, summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, body=None, answer=None, code: int = status.HTTP_200_OK, known: bool = False,
                          summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if body is None:
            return

        @extend_schema(request=body, responses={code: answer, **errors(400, 404, 503)}, tags=["discovery"],
                       summary=summary)
        def post(self, request):
            found = _discover(request, body)
            # Known before anything is added: the answer reports the VMs as discovery found them.
            context = _known(found.vms) if known else {}
            return Response(answer({"success": True, **self.reply(found, context)}, context=context).data, status=code)

        cls.post = post


class DiscoverVMsView(DiscoveryView, body=DiscoverSerializer, answer=DiscoverAnswerSerializer, known=True,
                      summary="Discover VMs in vCenter through the agent (optionally add them)"):
    def reply(self, found: Discovery, context: dict) -> dict:
        body = {"message": f"Discovered {len(found.vms)} VM(s)", "vcenter": found.vcenter, "count": len(found.vms),
                "discovered_vms": found.vms}
        if found.data["create_context"]:
            body["added"], _ = _added(found.credential, found.vms)
        return body


class PreviewView(DiscoveryView, body=DiscoverSerializer, answer=PreviewAnswerSerializer, known=True,
                  summary="What discovery would add, without adding anything"):
    def reply(self, found: Discovery, context: dict) -> dict:
        new = sum(1 for vm in found.vms if selectors.agent_vm_id(vm) not in context["known_vm_ids"])
        return {"count": len(found.vms), "new_vms": new, "preview": found.vms}


class AddVMsView(DiscoveryView, body=AddVMsSerializer, answer=AddVMsAnswerSerializer, code=status.HTTP_201_CREATED,
                 summary="Add named VMs to the inventory (idempotent)"):
    def reply(self, found: Discovery, context: dict) -> dict:
        by_name = {vm.get("name"): vm for vm in found.vms}
        names = found.data["vm_names"]
        missing = [name for name in names if name not in by_name]
        if missing:
            raise InvalidInput(f"Not found in vCenter: {', '.join(missing)}", details={"missing": missing})
        added, created = _added(found.credential, [by_name[n] for n in dict.fromkeys(names)])
        return {"vm_contexts": added, "message": f"{created} VM(s) added, {len(added) - created} already present"}


class BulkAddView(DiscoveryView, body=BulkAddSerializer, answer=BulkAddAnswerSerializer, code=status.HTTP_201_CREATED,
                  summary="Add every VM matching a filter (idempotent)"):
    def reply(self, found: Discovery, context: dict) -> dict:
        added, created = _added(found.credential, found.vms)
        return {"message": f"{len(added)} VM(s) processed", "added": created, "already_present": len(added) - created,
                "vm_contexts": added}


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
