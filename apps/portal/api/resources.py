"""The infrastructure answers' serializers (seed 004 "Infrastructure Endpoints"): collected rows in the seed's field
names.

A row's plain fields are the words of its ``Plain`` groups (``vm_id=cloud_id``: the seed's name, then the collected row's
attribute); the fields declared one by one say more (a help text, a method, a timestamp as DRF renders it).
"""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer


class OwnedSerializer(PlainSerializer):
    plain = Plain("domain_id domain_name tenant_id tenant_name")


class DomainSerializer(PlainSerializer):
    plain = Plain("domain_id=cloud_id domain_name=name path parent_id state project_count:int")


class ServerSerializer(OwnedSerializer):
    plain = Plain("vm_id=cloud_id vm_name=name status vm_state=state flavor_id flavor_name vcpus:int ram_mb:int disk_gb:int ips "
                  "image_name hypervisor_hostname "
                  "host_vcpus_total:int? host_vcpus_used:int? host_ram_total_mb:int? host_ram_used_mb:int? "
                  "host_disk_total_gb:int? host_disk_used_gb:int? host_running_vms:int?")


class VolumeSerializer(OwnedSerializer):
    plain = Plain("volume_id=cloud_id volume_name=name status=state size_gb:int volume_type server_id server_name storage_pool "
                  "disk_offering")


class SnapshotSerializer(OwnedSerializer):
    plain = Plain("snapshot_id=cloud_id snapshot_name=name status=state size_gb:int volume_id volume_name")
    created_at = serializers.DateTimeField(source="created", allow_null=True)


class NetworkSerializer(OwnedSerializer):
    plain = Plain("network_id=cloud_id network_name=name status=state network_type shared:bool cidr gateway_ip zone_name")


class SubnetSerializer(OwnedSerializer):
    plain = Plain("subnet_id=cloud_id network_id=cloud_id name cidr gateway_ip netmask")
    enable_dhcp = serializers.SerializerMethodField()

    def get_enable_dhcp(self, row) -> bool:
        return row.network_type != "L2"


class PortSerializer(OwnedSerializer):
    plain = Plain("port_id=cloud_id name device_id mac_address network_id ip_address status=state")


class FloatingIPSerializer(OwnedSerializer):
    plain = Plain("floating_ip_id=cloud_id floating_ip_address=ip_address status=state network_id network_name "
                  "is_source_nat:bool")
    port_id = serializers.CharField(help_text="The VM the address is bound to by static NAT ('' when none)")
    plain_tail = Plain("server_name")


class SecurityGroupSerializer(OwnedSerializer):
    plain = Plain("sg_id=cloud_id name description")
    rule_count = serializers.SerializerMethodField()
    plain_tail = Plain("attached_vm_count=vm_count:int")

    def get_rule_count(self, row) -> int:
        return len(row.rules)


class RuleSerializer(PlainSerializer):
    plain = Plain("rule_id security_group_id security_group_name direction protocol port_range_min:int? port_range_max:int? "
                  "remote_ip_prefix? ethertype")


class SecurityGroupDetailSerializer(SecurityGroupSerializer):
    rules = RuleSerializer(many=True)
    attached_vms = serializers.ListField(child=serializers.DictField())
    attached_networks = serializers.ListField(child=serializers.DictField())


class FlavorSerializer(PlainSerializer):
    plain = Plain("flavor_id=cloud_id name description=display_text vcpus:int? ram_mb:int? cpu_speed_mhz:int?")
    disk_gb = serializers.SerializerMethodField()
    plain_tail = Plain("customized:bool")

    def get_disk_gb(self, row) -> int:
        return 0  # CloudStack's compute offerings carry no disk: the template and disk offerings size it


class ImageSerializer(PlainSerializer):
    plain = Plain("image_id=cloud_id name status=state os_type size_gb:int disk_format")


class HypervisorSerializer(PlainSerializer):
    plain = Plain("hypervisor_id=cloud_id hostname=name state host_ip=ip_address vcpus=cpu_count:int vcpus_used:int "
                  "cpu_percent=cpu_used_percent:float memory_mb=memory_total_mb:int memory_used_mb:int "
                  "local_disk_gb=disk_total_gb:int local_disk_used_gb=disk_used_gb:int running_vms:int")
