"""Discovery, the VM inventory and VM contexts (seed 000 "VM Inventory", "Discovery", seed 001 "VM Context API")."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schemas import errors
from apps.core.api.validation import validated
from apps.core.exceptions import InvalidInput
from apps.replication import selectors as replication_selectors
from apps.settings import services as settings_services

from .. import selectors, services
from ..filtersets import VMContextFilterSet
from .schemas import (
    AddVMsAnswerSerializer,
    BulkAddAnswerSerializer,
    DiscoverAnswerSerializer,
    InventoryPushAnswerSerializer,
    PreviewAnswerSerializer,
    RecentJobsSerializer,
    VMContextDetailSerializer,
    VMDetailSerializer,
    VMDiscoverAnswerSerializer,
)
from .serializers import (
    AddVMsSerializer,
    BulkAddSerializer,
    DiscoverSerializer,
    InventoryPushSerializer,
    VMContextSerializer,
    VMDiskSerializer,
    VMNicSerializer,
)


def _credential(data):
    if data.get("credential_id"):
        from apps.settings.models import VMwareCredential

        credential = VMwareCredential.objects.filter(pk=data["credential_id"]).first()
        if credential is None:
            from apps.core.exceptions import NotFound

            raise NotFound(f"VMware credentials {data['credential_id']} not found")
        return credential
    return settings_services.credential_default()


def _preview(vms: list[dict]) -> list[dict]:
    from ..models import VMContext

    known = set(VMContext.objects.filter(vm_id__in=[vm.get("uuid") or vm.get("id") for vm in vms])
                .values_list("vm_id", flat=True))
    return [{**vm, "already_added": (vm.get("uuid") or vm.get("id")) in known,
             "disk_count": len(vm.get("disks") or []),
             "total_capacity_bytes": sum(int(d.get("capacity_bytes") or 0) for d in vm.get("disks") or [])}
            for vm in vms]


class DiscoverVMsView(APIView):
    @extend_schema(request=DiscoverSerializer, responses={200: DiscoverAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"], summary="Discover VMs in vCenter through the agent (optionally add them)")
    def post(self, request):
        data = validated(DiscoverSerializer, request.data)
        credential = _credential(data)
        answer = services.discover(credential=credential, filter=data["filter"])
        vms = answer.get("vms", [])
        body = {"success": True, "message": f"Discovered {len(vms)} VM(s)", "vcenter": answer.get("vcenter"),
                "count": len(vms), "discovered_vms": _preview(vms)}
        if data["create_context"]:
            added = services.add_vms(credential=credential, vms=vms)
            body["added"] = [{"context_id": c.context_id, "vm_name": c.vm_name, "created": created}
                             for c, created in added]
        return Response(body)


class PreviewView(APIView):
    @extend_schema(request=DiscoverSerializer, responses={200: PreviewAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"], summary="What discovery would add, without adding anything")
    def post(self, request):
        data = validated(DiscoverSerializer, request.data)
        answer = services.discover(credential=_credential(data), filter=data["filter"])
        vms = _preview(answer.get("vms", []))
        return Response({"success": True, "count": len(vms),
                         "new_vms": sum(1 for vm in vms if not vm["already_added"]),
                         "preview": [{k: vm.get(k) for k in ("id", "name", "path", "power_state", "num_cpu", "memory_mb",
                                                              "disk_count", "total_capacity_bytes", "already_added")}
                                     for vm in vms]})


class AddVMsView(APIView):
    @extend_schema(request=AddVMsSerializer, responses={201: AddVMsAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"],
                   summary="Add named VMs to the inventory (idempotent)")
    def post(self, request):
        data = validated(AddVMsSerializer, request.data)
        credential = _credential(data)
        vms = services.discover(credential=credential).get("vms", [])
        by_name = {vm.get("name"): vm for vm in vms}
        missing = [name for name in data["vm_names"] if name not in by_name]
        if missing:
            raise InvalidInput(f"Not found in vCenter: {', '.join(missing)}", details={"missing": missing})
        added = services.add_vms(credential=credential, vms=[by_name[n] for n in dict.fromkeys(data["vm_names"])])
        return Response({"success": True, "message": f"{sum(c for _, c in added)} VM(s) added, "
                                                     f"{sum(not c for _, c in added)} already present",
                         "vm_contexts": [{"context_id": c.context_id, "vm_name": c.vm_name, "created": created}
                                         for c, created in added]}, status=status.HTTP_201_CREATED)


class BulkAddView(APIView):
    @extend_schema(request=BulkAddSerializer, responses={201: BulkAddAnswerSerializer, **errors(400, 404, 503)},
                   tags=["discovery"],
                   summary="Add every VM matching a filter (idempotent)")
    def post(self, request):
        data = validated(BulkAddSerializer, request.data)
        credential = _credential(data)
        vms = services.discover(credential=credential, filter=data["filter"]).get("vms", [])
        added = services.add_vms(credential=credential, vms=vms)
        return Response({"success": True, "message": f"{len(added)} VM(s) processed",
                         "added": sum(c for _, c in added), "already_present": sum(not c for _, c in added),
                         "vm_contexts": [{"context_id": c.context_id, "vm_name": c.vm_name, "created": created}
                                         for c, created in added]}, status=status.HTTP_201_CREATED)


class UngroupedVMsView(ListAPIView):
    serializer_class = VMContextSerializer
    filterset_class = VMContextFilterSet

    def get_queryset(self):
        return selectors.ungrouped_vm_contexts()


class VMContextListView(ListAPIView):
    serializer_class = VMContextSerializer
    filterset_class = VMContextFilterSet

    def get_queryset(self):
        return selectors.vm_contexts()


class VMContextDetailView(APIView):
    @extend_schema(responses={200: VMContextDetailSerializer, **errors(404)}, tags=["vm-contexts"],
                   summary="A VM with its current job, job history, disks, NICs and CBT history")
    def get(self, request, vm_name):
        context = services.vm_context_get(vm_name)
        context = selectors.vm_contexts().get(pk=context.pk)
        current = replication_selectors.current_job(context)
        return Response({
            "context": VMContextSerializer(context).data,
            "current_job": replication_selectors.job_summary(current) if current else None,
            "job_history": [replication_selectors.job_summary(j) for j in replication_selectors.recent_jobs(context)],
            "disks": VMDiskSerializer(context.disks.all(), many=True).data,
            "nics": VMNicSerializer(context.nics.all(), many=True).data,
            "cbt_history": replication_selectors.cbt_history(context),
        })


class RecentJobsView(APIView):
    @extend_schema(parameters=[OpenApiParameter("limit", int)], responses={200: RecentJobsSerializer, **errors(400, 404)},
                   tags=["vm-contexts"])
    def get(self, request, context_id):
        context = services.vm_context_get(context_id)
        try:
            limit = max(1, min(int(request.query_params.get("limit", 10)), 100))
        except ValueError:
            raise InvalidInput("limit must be an integer between 1 and 100")
        jobs = replication_selectors.recent_jobs(context, limit=limit)
        return Response({"success": True, "context_id": context.context_id,
                         "jobs": [replication_selectors.job_summary(j) for j in jobs]})


class VMListView(VMContextListView):
    """GET /vms: the inventory as a list (same rows as /vm-contexts)."""


class VMDetailView(APIView):
    @extend_schema(responses={200: VMDetailSerializer, **errors(404)}, tags=["vms"])
    def get(self, request, vm_id):
        context = selectors.vm_contexts().get(pk=services.vm_context_get(vm_id).pk)
        return Response({**VMContextSerializer(context).data,
                         "disks": VMDiskSerializer(context.disks.all(), many=True).data,
                         "nics": VMNicSerializer(context.nics.all(), many=True).data})


class VMDiscoverView(APIView):
    @extend_schema(parameters=[OpenApiParameter("vcenter", str), OpenApiParameter("filter", str)],
                   responses={200: VMDiscoverAnswerSerializer, **errors(404, 503)},
                   tags=["vms"], summary="Discover VMs of a vCenter (default credentials)")
    def get(self, request):
        from apps.settings.models import VMwareCredential

        vcenter = request.query_params.get("vcenter")
        if vcenter:
            credential = (VMwareCredential.objects.filter(vcenter_host=vcenter).order_by("-is_default").first())
            if credential is None:
                from apps.core.exceptions import NotFound

                raise NotFound(f"No VMware credentials for vCenter '{vcenter}'")
        else:
            credential = settings_services.credential_default()
        answer = services.discover(credential=credential, filter=request.query_params.get("filter", ""))
        return Response({"success": True, "vcenter": answer.get("vcenter"), "vms": _preview(answer.get("vms", []))})


class InventoryPushView(APIView):
    @extend_schema(request=InventoryPushSerializer, responses={200: InventoryPushAnswerSerializer, **errors(400)},
                   tags=["vms"],
                   summary="An agent pushes the VMs it sees")
    def post(self, request):
        data = validated(InventoryPushSerializer, request.data)
        results = [services.vm_context_upsert(vm=vm, vcenter_host=data["vcenter"]["host"],
                                              datacenter=data["vcenter"]["datacenter"]) for vm in data["vms"]]
        return Response({"success": True, "message": f"Inventory received: {len(results)} VM(s)",
                         "created": sum(c for _, c in results), "updated": sum(not c for _, c in results)})
