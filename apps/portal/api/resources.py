"""The infrastructure answers' serializers (seed 004 "Infrastructure Endpoints"): collected rows in the seed's field
names.

A row's plain fields (read under their own name) are the words of ``plain``; the fields declared one by one read
another attribute of the collected row (``source``), or say more (a help text, a method).
"""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import PlainSerializer


class OwnedSerializer(PlainSerializer):
    plain = "domain_id domain_name tenant_id tenant_name"


class DomainSerializer(PlainSerializer):
    domain_id = serializers.CharField(source="cloud_id")
    domain_name = serializers.CharField(source="name")
    plain = "path parent_id state project_count:int"


class ServerSerializer(OwnedSerializer):
    vm_id = serializers.CharField(source="cloud_id")
    vm_name = serializers.CharField(source="name")
    vm_state = serializers.CharField(source="state")
    plain = ("status flavor_id flavor_name vcpus:int ram_mb:int disk_gb:int ips image_name hypervisor_hostname "
             "host_vcpus_total:int? host_vcpus_used:int? host_ram_total_mb:int? host_ram_used_mb:int? "
             "host_disk_total_gb:int? host_disk_used_gb:int? host_running_vms:int?")


class VolumeSerializer(OwnedSerializer):
    volume_id = serializers.CharField(source="cloud_id")
    volume_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    plain = "size_gb:int volume_type server_id server_name storage_pool disk_offering"


class SnapshotSerializer(OwnedSerializer):
    snapshot_id = serializers.CharField(source="cloud_id")
    snapshot_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    created_at = serializers.DateTimeField(source="created", allow_null=True)
    plain = "size_gb:int volume_id volume_name"


class NetworkSerializer(OwnedSerializer):
    network_id = serializers.CharField(source="cloud_id")
    network_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    plain = "network_type shared:bool cidr gateway_ip zone_name"


class SubnetSerializer(OwnedSerializer):
    subnet_id = serializers.CharField(source="cloud_id")
    network_id = serializers.CharField(source="cloud_id")
    enable_dhcp = serializers.SerializerMethodField()
    plain = "name cidr gateway_ip netmask"

    def get_enable_dhcp(self, row) -> bool:
        return row.network_type != "L2"


class PortSerializer(OwnedSerializer):
    port_id = serializers.CharField(source="cloud_id")
    status = serializers.CharField(source="state")
    plain = "name device_id mac_address network_id ip_address"


class FloatingIPSerializer(OwnedSerializer):
    floating_ip_id = serializers.CharField(source="cloud_id")
    floating_ip_address = serializers.CharField(source="ip_address")
    status = serializers.CharField(source="state")
    port_id = serializers.CharField(help_text="The VM the address is bound to by static NAT ('' when none)")
    plain = "network_id network_name is_source_nat:bool server_name"


class SecurityGroupSerializer(OwnedSerializer):
    sg_id = serializers.CharField(source="cloud_id")
    rule_count = serializers.SerializerMethodField()
    attached_vm_count = serializers.IntegerField(source="vm_count")
    plain = "name description"

    def get_rule_count(self, row) -> int:
        return len(row.rules)


class RuleSerializer(PlainSerializer):
    plain = ("rule_id security_group_id security_group_name direction protocol port_range_min:int? port_range_max:int? "
             "remote_ip_prefix? ethertype")


class SecurityGroupDetailSerializer(SecurityGroupSerializer):
    rules = RuleSerializer(many=True)
    attached_vms = serializers.ListField(child=serializers.DictField())
    attached_networks = serializers.ListField(child=serializers.DictField())


class FlavorSerializer(PlainSerializer):
    flavor_id = serializers.CharField(source="cloud_id")
    description = serializers.CharField(source="display_text")
    disk_gb = serializers.SerializerMethodField()
    plain = "name vcpus:int? ram_mb:int? cpu_speed_mhz:int? customized:bool"

    def get_disk_gb(self, row) -> int:
        return 0  # CloudStack's compute offerings carry no disk: the template and disk offerings size it


class ImageSerializer(PlainSerializer):
    image_id = serializers.CharField(source="cloud_id")
    status = serializers.CharField(source="state")
    plain = "name os_type size_gb:int disk_format"


class HypervisorSerializer(PlainSerializer):
    hypervisor_id = serializers.CharField(source="cloud_id")
    hostname = serializers.CharField(source="name")
    host_ip = serializers.CharField(source="ip_address")
    vcpus = serializers.IntegerField(source="cpu_count")
    cpu_percent = serializers.FloatField(source="cpu_used_percent")
    memory_mb = serializers.IntegerField(source="memory_total_mb")
    local_disk_gb = serializers.IntegerField(source="disk_total_gb")
    local_disk_used_gb = serializers.IntegerField(source="disk_used_gb")
    plain = "state vcpus_used:int memory_used_mb:int running_vms:int"
