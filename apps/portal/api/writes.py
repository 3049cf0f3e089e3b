"""Seed 004's /admin/... infrastructure writes (admins only), through CloudStack: flavors (service offerings),
networks, security groups and their ingress rules. Each answers the collected row, stored at once."""
from __future__ import annotations

import ipaddress

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from .. import models, services
from .base import PortalView, errors
from .infrastructure import TAGS, rules_of
from .resources import FlavorSerializer, NetworkSerializer, RuleSerializer, SecurityGroupSerializer


class FlavorCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    vcpus = serializers.IntegerField(min_value=1, max_value=1024)
    ram = serializers.IntegerField(min_value=32, max_value=16 * 1024 * 1024, help_text="RAM in MB", source="ram_mb")
    disk = serializers.IntegerField(min_value=0, required=False, default=0,
                                    help_text="Ignored: CloudStack's compute offerings carry no disk")
    cpu_speed_mhz = serializers.IntegerField(min_value=1, max_value=100_000, required=False, default=1000)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, data):
        # The offering takes no disk, which the seed's clients send; absent under partial validation (no default).
        data.pop("disk", None)
        return data


class NetworkCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class SecurityGroupCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    project_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)


class RuleCreateSerializer(serializers.Serializer):
    security_group_id = serializers.CharField()
    direction = serializers.ChoiceField(choices=["ingress"], default="ingress",
                                        help_text="CloudStack's security groups here take ingress rules")
    protocol = serializers.ChoiceField(choices=["tcp", "udp", "icmp", "all"], default="tcp")
    port_range_min = serializers.IntegerField(min_value=0, max_value=65535, required=False, allow_null=True)
    port_range_max = serializers.IntegerField(min_value=0, max_value=65535, required=False, allow_null=True)
    remote_ip_prefix = serializers.CharField(required=False, default="0.0.0.0/0", help_text="A CIDR")
    ethertype = serializers.ChoiceField(choices=["IPv4", "IPv6"], default="IPv4")
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_remote_ip_prefix(self, value):
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise serializers.ValidationError(f"{value!r} is not a CIDR such as 10.0.0.0/24") from None

    def validate(self, data):
        low, high = data.get("port_range_min"), data.get("port_range_max")
        if data["protocol"] in ("tcp", "udp"):
            if low is None or high is None:
                raise serializers.ValidationError("tcp and udp rules need port_range_min and port_range_max")
            if low > high:
                raise serializers.ValidationError("port_range_min must not exceed port_range_max")
        return data


def _user(request) -> str:
    return request.user.get_username()


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AdminView(PortalView):
    permission = "resources:admin"


class AdminCreateView(AdminView):
    # A POST that creates one CloudStack row and answers it 201 as the list endpoints show it (the row the write
    # collected at once, by CloudStack's id). A view names in its class line the service, the body serializer (its
    # fields are the service's keywords), the row serializer and model, the summary and the refusals it documents:
    #     class AdminNetworksView(AdminCreateView, create=services.network_create, body=NetworkCreateSerializer,
    #                             answer=NetworkSerializer, model=models.Network, summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, create=None, body=None, answer=None, model=None, summary: str = "",
                          refusals: tuple[int, ...] = (400, 502, 503), **kwargs):
        super().__init_subclass__(**kwargs)
        if create is None:
            return

        @extend_schema(tags=TAGS, summary=summary, request=body, responses={201: answer, **errors(*refusals)})
        def post(self, request):
            made = create(**_valid(body, request), user=_user(request))
            return Response(answer(model.objects.get(cloud_id=made["id"])).data, status=status.HTTP_201_CREATED)

        cls.post = post


class AdminDeleteView(AdminView):
    # A DELETE of one CloudStack row, 204 when it is gone. A view names in its class line the service that removes
    # it, the service's keyword for the row's id, the URL argument that carries the id when it is named otherwise
    # (`url_kwarg`, as DRF's lookup_url_kwarg defaults to lookup_field), and the operation's summary:
    #     class AdminFlavorView(AdminDeleteView, remove=services.flavor_delete, key="flavor_id", summary="...")
    # (A comment, not a docstring: the schema would describe every such operation by it.)

    def __init_subclass__(cls, remove=None, key: str = "", url_kwarg: str = "", summary: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if remove is None:
            return
        url_kwarg = url_kwarg or key

        @extend_schema(tags=TAGS, summary=summary, responses={204: None, **errors(404, 409, 502, 503)})
        def delete(self, request, **path):
            remove(**{key: path[url_kwarg]}, user=_user(request))
            return Response(status=status.HTTP_204_NO_CONTENT)

        cls.delete = delete


class AdminFlavorsView(AdminCreateView, create=services.flavor_create, body=FlavorCreateSerializer,
                       answer=FlavorSerializer, model=models.ServiceOffering,
                       summary="Create a flavor (a CloudStack service offering)"):
    pass


class AdminFlavorView(AdminDeleteView, remove=services.flavor_delete, key="flavor_id", summary="Delete a flavor"):
    pass


class AdminNetworksView(AdminCreateView, create=services.network_create, body=NetworkCreateSerializer,
                        answer=NetworkSerializer, model=models.Network, summary="Create a network in the configured zone"):
    pass


class AdminNetworkView(AdminDeleteView, remove=services.network_delete, key="network_id", summary="Delete a network"):
    pass


class AdminSecurityGroupsView(AdminCreateView, create=services.security_group_create, body=SecurityGroupCreateSerializer,
                              answer=SecurityGroupSerializer, model=models.SecurityGroup, refusals=(400, 404, 502, 503),
                              summary="Create a security group"):
    pass


class AdminSecurityGroupView(AdminDeleteView, remove=services.security_group_delete, key="group_id", url_kwarg="sg_id",
                             summary="Delete a security group and its rules"):
    pass


class AdminRulesView(AdminView):
    @extend_schema(tags=TAGS, summary="Create a security group rule (ingress)", request=RuleCreateSerializer,
                   responses={201: RuleSerializer, **errors(400, 404, 502, 503)})
    def post(self, request):
        data = _valid(RuleCreateSerializer, request)
        rule = services.security_group_rule_create(
            group_id=data["security_group_id"], protocol=data["protocol"], port_min=data.get("port_range_min"),
            port_max=data.get("port_range_max"), cidr=data["remote_ip_prefix"], user=_user(request))
        group = models.SecurityGroup.objects.get(cloud_id=data["security_group_id"])
        made = next(r for r in rules_of(group) if r["rule_id"] == rule["ruleid"])
        return Response(RuleSerializer(made).data, status=status.HTTP_201_CREATED)


class AdminRuleView(AdminDeleteView, remove=services.security_group_rule_delete, key="rule_id",
                    summary="Delete a security group rule"):
    pass
