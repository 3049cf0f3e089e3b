"""Seed 004 "Infrastructure Endpoints" over the collected tables: domains, projects/tenants, servers, volumes,
snapshots, networks, subnets, ports, security groups (and their rules), flavors, images, hypervisors; the /admin/...
writes are in `writes`.

A CloudStack network carries its own addressing, so a subnet is the network's CIDR and gateway; a port is a VM's
NIC; a project/tenant is a CloudStack project or account.
"""
from __future__ import annotations

from django.db.models import Count, Q, Sum
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.api.serializers import Plain, PlainSerializer

from .. import models, selectors
from .base import PortalView, choice, errors, page_window
from .resources import (
    DomainSerializer,
    FlavorSerializer,
    FloatingIPSerializer,
    HypervisorSerializer,
    ImageSerializer,
    NetworkSerializer,
    PortSerializer,
    RuleSerializer,
    SecurityGroupDetailSerializer,
    SecurityGroupSerializer,
    ServerSerializer,
    SnapshotSerializer,
    SubnetSerializer,
    VolumeSerializer,
)
from .serializers import FreshnessSerializer

TAGS = ["portal: infrastructure"]


def _page_serializer(name: str, item) -> serializers.Serializer:
    return inline_serializer(name=f"Portal{name}Page", fields={
        "total": serializers.IntegerField(), "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(), "page": serializers.IntegerField(required=False),
        "page_size": serializers.IntegerField(required=False), "results": item(many=True),
        "freshness": FreshnessSerializer()})


def _paged(request, rows, total: int, window: dict, serializer) -> Response:
    body = {"total": total, **window, "results": serializer(rows, many=True).data, "freshness": selectors.freshness()}
    return Response(body)


class CollectedList(PortalView):
    """A list of one collected table: filters (query parameter -> lookup), `sort_by`/`sort_dir`, paging."""

    permission = "resources:read"
    model = None
    item_serializer = None
    filters: dict[str, str] = {}
    sort_fields: dict[str, str] = {"name": "name"}
    default_sort = "name"
    summary = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model is None:
            return
        params = [OpenApiParameter(name, str, description=f"Filter by {name}") for name in cls.filters]
        params += [OpenApiParameter("sort_by", str, enum=sorted(cls.sort_fields)),
                   OpenApiParameter("sort_dir", str, enum=["asc", "desc"]),
                   OpenApiParameter("limit", int, description="Page size (default 100, at most 1000)"),
                   OpenApiParameter("offset", int, description="Where the page starts (default 0)"),
                   OpenApiParameter("page", int, description="Page number, with page_size (the seed's paging)"),
                   OpenApiParameter("page_size", int, description="Page size with page (default 50)")]

        def get(self, request):
            return self.list(request)

        cls.get = extend_schema(parameters=params, tags=TAGS, summary=cls.summary, operation_id=f"portal_{cls.__name__}",
                                responses={200: _page_serializer(cls.__name__, cls.item_serializer),
                                           **errors(400)})(get)

    def rows(self, request):
        queryset = self.model.objects.all()
        for name, lookup in self.filters.items():
            value = request.query_params.get(name)
            if value not in (None, ""):
                queryset = queryset.filter(**{lookup: value})
        return queryset

    def ordering(self, request) -> list[str]:
        field = choice(request, "sort_by", self.default_sort, sorted(self.sort_fields))
        direction = choice(request, "sort_dir", "asc", ("asc", "desc"))
        column = self.sort_fields[field]
        return [f"-{column}" if direction == "desc" else column, "id"]

    def decorate(self, rows: list) -> None:
        """Add figures from other tables to one page's rows (grouped queries, never one per row)."""

    def list(self, request):
        window = page_window(request)
        queryset = self.rows(request).order_by(*self.ordering(request))
        rows = list(queryset[window["offset"]:window["offset"] + window["limit"]])
        self.decorate(rows)
        return _paged(request, rows, queryset.count(), window, self.item_serializer)


# -- host figures shared by servers and hypervisors ---------------------------------------------------------------

def host_load(host_ids) -> dict[str, dict]:
    """vCPUs, RAM and VMs running on each host, from the collected VMs (one grouped query)."""
    rows = (models.Server.objects.filter(hypervisor_id__in=list(host_ids), status="ACTIVE")
            .values("hypervisor_id").annotate(vcpus=Sum("vcpus"), ram=Sum("ram_mb"), vms=Count("id")))
    return {r["hypervisor_id"]: r for r in rows}


# -- lists -------------------------------------------------------------------------------------------------------

class DomainsView(CollectedList):
    model, item_serializer, summary = models.Domain, DomainSerializer, "Domains with their project counts"

    def decorate(self, rows):
        ids = [r.cloud_id for r in rows]
        counts = dict(models.Project.objects.filter(domain_id__in=ids).values_list("domain_id").annotate(n=Count("id")))
        accounts = models.Account.objects.filter(domain_id__in=ids).values_list("domain_id").annotate(n=Count("id"))
        for domain_id, n in accounts:
            counts[domain_id] = counts.get(domain_id, 0) + n
        for row in rows:
            row.project_count = counts.get(row.cloud_id, 0)


class ServersView(CollectedList):
    model, item_serializer = models.Server, ServerSerializer
    summary = "Virtual machines with their allocation and their host's"
    filters = {"domain_name": "domain_name", "tenant_id": "tenant_id", "status": "status",
               "hypervisor_hostname": "hypervisor_hostname"}
    sort_fields = {"vm_name": "name", "status": "status", "tenant_name": "tenant_name", "domain_name": "domain_name",
                   "vcpus": "vcpus", "ram_mb": "ram_mb", "flavor_name": "flavor_name",
                   "hypervisor_hostname": "hypervisor_hostname"}
    default_sort = "vm_name"

    def decorate(self, rows):
        disks = dict(models.Volume.objects.filter(server_id__in=[r.cloud_id for r in rows])
                     .values_list("server_id").annotate(gb=Sum("size_gb")))
        host_ids = {r.hypervisor_id for r in rows if r.hypervisor_id}
        hosts = {h.cloud_id: h for h in models.Host.objects.filter(cloud_id__in=host_ids)}
        load = host_load(host_ids)
        for row in rows:
            row.disk_gb = disks.get(row.cloud_id, 0)
            host, used = hosts.get(row.hypervisor_id), load.get(row.hypervisor_id, {})
            row.host_vcpus_total = host.cpu_count if host else None
            row.host_vcpus_used = used.get("vcpus", 0) if host else None
            row.host_ram_total_mb = host.memory_total_mb if host else None
            row.host_ram_used_mb = used.get("ram", 0) if host else None
            row.host_disk_total_gb = host.disk_total_gb if host else None
            row.host_disk_used_gb = host.disk_used_gb if host else None
            row.host_running_vms = used.get("vms", 0) if host else None


class VolumesView(CollectedList):
    model, item_serializer, summary = models.Volume, VolumeSerializer, "Block storage volumes"
    filters = {"project_id": "tenant_id", "status": "state", "server_id": "server_id"}
    sort_fields = {"name": "name", "size_gb": "size_gb", "status": "state"}


class SnapshotsView(CollectedList):
    model, item_serializer, summary = models.Snapshot, SnapshotSerializer, "Volume snapshots"
    filters = {"project_id": "tenant_id", "volume_id": "volume_id"}
    sort_fields = {"name": "name", "created_at": "created", "size_gb": "size_gb"}


class NetworksView(CollectedList):
    model, item_serializer, summary = models.Network, NetworkSerializer, "Networks"
    filters = {"project_id": "tenant_id", "domain_name": "domain_name"}


class SubnetsView(CollectedList):
    model, item_serializer, summary = models.Network, SubnetSerializer, "Subnets (each network's addressing)"
    filters = {"network_id": "cloud_id"}

    def rows(self, request):
        return super().rows(request).exclude(cidr="")


class PortsView(CollectedList):
    model, item_serializer, summary = models.Port, PortSerializer, "Ports (VMs' NICs)"
    filters = {"device_id": "device_id", "network_id": "network_id"}


class FloatingIPsView(CollectedList):
    model, item_serializer = models.FloatingIP, FloatingIPSerializer
    summary = "Floating IPs (CloudStack public IP addresses: source NAT, static NAT to a VM)"
    filters = {"project_id": "tenant_id", "network_id": "network_id", "status": "state"}
    sort_fields = {"name": "ip_address"}


class SecurityGroupsView(CollectedList):
    model, item_serializer = models.SecurityGroup, SecurityGroupSerializer
    summary = "Security groups with their rule and VM counts"
    filters = {"domain_name": "domain_name", "tenant_name": "tenant_name", "name": "name__icontains"}
    sort_fields = {"name": "name", "tenant_name": "tenant_name", "domain_name": "domain_name"}


class FlavorsView(CollectedList):
    model, item_serializer, summary = models.ServiceOffering, FlavorSerializer, "Flavors (service offerings)"
    sort_fields = {"name": "name", "vcpus": "vcpus", "ram_mb": "ram_mb"}


class ImagesView(CollectedList):
    model, item_serializer, summary = models.Template, ImageSerializer, "Images (templates)"


class HypervisorsView(CollectedList):
    model, item_serializer, summary = models.Host, HypervisorSerializer, "Hypervisors (hosts) with their load"

    def decorate(self, rows):
        load = host_load([r.cloud_id for r in rows])
        for row in rows:
            used = load.get(row.cloud_id, {})
            row.vcpus_used, row.memory_used_mb, row.running_vms = used.get("vcpus", 0), row.memory_used_mb, \
                used.get("vms", 0)


# -- tenants (projects and accounts), rules, one security group -------------------------------------------------

class ComputedList(PortalView):
    # A list the view computes in Python (rows of several tables, or rows within rows): one optional filter, then
    # limit/offset (or page/page_size) paging. A view names in its class line the page's component name, the row
    # serializer, the filter's query parameter and the summary, and computes its rows from the filter's value in
    # `rows(value)`:
    #     class SecurityGroupRulesView(ComputedList, page="Rules", item=RuleSerializer, filter_by="security_group_id",
    #                                  summary="Security group rules")
    # (A comment, not a docstring: the schema would describe every such operation by it.)
    permission = "resources:read"

    def __init_subclass__(cls, page: str = "", item=None, filter_by: str = "", summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if item is None:
            return

        @extend_schema(tags=TAGS, summary=summary,
                       parameters=[OpenApiParameter(filter_by, str), OpenApiParameter("limit", int),
                                   OpenApiParameter("offset", int)],
                       responses={200: _page_serializer(page, item), **errors(400)})
        def get(self, request):
            window = page_window(request)
            rows = self.rows(request.query_params.get(filter_by))
            return _paged(request, rows[window["offset"]:window["offset"] + window["limit"]], len(rows), window, item)

        cls.get = get


class TenantSerializer(PlainSerializer):
    plain = Plain("project_id project_name")
    kind = serializers.CharField(help_text="project (a CloudStack project) or account (a CloudStack account)")
    plain_tail = Plain("domain_id domain_name server_count:int volume_count:int network_count:int")


def _counts(model) -> dict[str, int]:
    return dict(model.objects.values_list("tenant_id").annotate(n=Count("id")))


class ProjectsView(ComputedList, page="Tenants", item=TenantSerializer, filter_by="domain_id",
                   summary="Projects/tenants (CloudStack projects and accounts) with resource counts"):
    def rows(self, domain_id):
        filters = Q(domain_id=domain_id) if domain_id else Q()
        servers, volumes, networks = _counts(models.Server), _counts(models.Volume), _counts(models.Network)
        return [{"project_id": row.cloud_id, "project_name": row.name, "kind": kind, "domain_id": row.domain_id,
                 "domain_name": row.domain_name, "server_count": servers.get(row.cloud_id, 0),
                 "volume_count": volumes.get(row.cloud_id, 0), "network_count": networks.get(row.cloud_id, 0)}
                for kind, model in (("project", models.Project), ("account", models.Account))
                for row in model.objects.filter(filters).order_by("name")]


def rules_of(group: models.SecurityGroup) -> list[dict]:
    return [{"rule_id": r.get("ruleid", ""), "security_group_id": group.cloud_id, "security_group_name": group.name,
             "direction": r.get("direction", "ingress"), "protocol": r.get("protocol", "all"),
             "port_range_min": r.get("startport"), "port_range_max": r.get("endport"),
             "remote_ip_prefix": r.get("cidr"), "ethertype": "IPv6" if ":" in (r.get("cidr") or "") else "IPv4"}
            for r in group.rules]


class SecurityGroupRulesView(ComputedList, page="Rules", item=RuleSerializer, filter_by="security_group_id",
                              summary="Security group rules"):
    def rows(self, security_group_id):
        groups = models.SecurityGroup.objects.order_by("name", "id")
        if security_group_id:
            groups = groups.filter(cloud_id=security_group_id)
        return [rule for group in groups for rule in rules_of(group)]


class SecurityGroupView(PortalView):
    permission = "resources:read"

    @extend_schema(tags=TAGS, summary="One security group: rules, attached VMs and networks",
                   responses={200: SecurityGroupDetailSerializer, **errors(404)})
    def get(self, request, sg_id: str):
        group = models.SecurityGroup.objects.filter(cloud_id=sg_id).first()
        if group is None:
            return Response({"detail": f"Security group {sg_id} not found"}, status=status.HTTP_404_NOT_FOUND)
        vm_ids = group.raw.get("virtualmachineids") or []
        vms = models.Server.objects.filter(cloud_id__in=vm_ids)
        group.rules = rules_of(group)
        group.attached_vms = [{"vm_id": vm.cloud_id, "vm_name": vm.name} for vm in vms]
        network_ids = {nic["networkid"] for vm in vms for nic in vm.nics}
        group.attached_networks = [{"network_id": n.cloud_id, "network_name": n.name}
                                   for n in models.Network.objects.filter(cloud_id__in=network_ids)]
        group.vm_count = len(vm_ids)
        group_data = SecurityGroupDetailSerializer(group).data
        group_data["rule_count"] = len(group.rules)
        return Response(group_data)
