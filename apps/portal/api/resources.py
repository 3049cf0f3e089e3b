"""The infrastructure answers' serializers (seed 004 "Infrastructure Endpoints"): collected rows in the seed's field
names."""
from __future__ import annotations

from rest_framework import serializers


class OwnedSerializer(serializers.Serializer):
    domain_id = serializers.CharField()
    domain_name = serializers.CharField()
    tenant_id = serializers.CharField()
    tenant_name = serializers.CharField()


class DomainSerializer(serializers.Serializer):
    domain_id = serializers.CharField(source="cloud_id")
    domain_name = serializers.CharField(source="name")
    path = serializers.CharField()
    parent_id = serializers.CharField()
    state = serializers.CharField()
    project_count = serializers.IntegerField()


class ServerSerializer(OwnedSerializer):
    vm_id = serializers.CharField(source="cloud_id")
    vm_name = serializers.CharField(source="name")
    status = serializers.CharField()
    vm_state = serializers.CharField(source="state")
    flavor_id = serializers.CharField()
    flavor_name = serializers.CharField()
    vcpus = serializers.IntegerField()
    ram_mb = serializers.IntegerField()
    disk_gb = serializers.IntegerField()
    ips = serializers.CharField()
    image_name = serializers.CharField()
    hypervisor_hostname = serializers.CharField()
    host_vcpus_total = serializers.IntegerField(allow_null=True)
    host_vcpus_used = serializers.IntegerField(allow_null=True)
    host_ram_total_mb = serializers.IntegerField(allow_null=True)
    host_ram_used_mb = serializers.IntegerField(allow_null=True)
    host_disk_total_gb = serializers.IntegerField(allow_null=True)
    host_disk_used_gb = serializers.IntegerField(allow_null=True)
    host_running_vms = serializers.IntegerField(allow_null=True)


class VolumeSerializer(OwnedSerializer):
    volume_id = serializers.CharField(source="cloud_id")
    volume_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    size_gb = serializers.IntegerField()
    volume_type = serializers.CharField()
    server_id = serializers.CharField()
    server_name = serializers.CharField()
    storage_pool = serializers.CharField()
    disk_offering = serializers.CharField()


class SnapshotSerializer(OwnedSerializer):
    snapshot_id = serializers.CharField(source="cloud_id")
    snapshot_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    size_gb = serializers.IntegerField()
    volume_id = serializers.CharField()
    volume_name = serializers.CharField()
    created_at = serializers.DateTimeField(source="created", allow_null=True)


class NetworkSerializer(OwnedSerializer):
    network_id = serializers.CharField(source="cloud_id")
    network_name = serializers.CharField(source="name")
    status = serializers.CharField(source="state")
    network_type = serializers.CharField()
    shared = serializers.BooleanField()
    cidr = serializers.CharField()
    gateway_ip = serializers.CharField()
    zone_name = serializers.CharField()


class SubnetSerializer(OwnedSerializer):
    subnet_id = serializers.CharField(source="cloud_id")
    network_id = serializers.CharField(source="cloud_id")
    name = serializers.CharField()
    cidr = serializers.CharField()
    gateway_ip = serializers.CharField()
    netmask = serializers.CharField()
    enable_dhcp = serializers.SerializerMethodField()

    def get_enable_dhcp(self, row) -> bool:
        return row.network_type != "L2"


class PortSerializer(OwnedSerializer):
    port_id = serializers.CharField(source="cloud_id")
    name = serializers.CharField()
    device_id = serializers.CharField()
    mac_address = serializers.CharField()
    network_id = serializers.CharField()
    ip_address = serializers.CharField()
    status = serializers.CharField(source="state")


class FloatingIPSerializer(OwnedSerializer):
    floating_ip_id = serializers.CharField(source="cloud_id")
    floating_ip_address = serializers.CharField(source="ip_address")
    status = serializers.CharField(source="state")
    network_id = serializers.CharField()
    network_name = serializers.CharField()
    is_source_nat = serializers.BooleanField()
    port_id = serializers.CharField(help_text="The VM the address is bound to by static NAT ('' when none)")
    server_name = serializers.CharField()


class SecurityGroupSerializer(OwnedSerializer):
    sg_id = serializers.CharField(source="cloud_id")
    name = serializers.CharField()
    description = serializers.CharField()
    rule_count = serializers.SerializerMethodField()
    attached_vm_count = serializers.IntegerField(source="vm_count")

    def get_rule_count(self, row) -> int:
        return len(row.rules)


class RuleSerializer(serializers.Serializer):
    rule_id = serializers.CharField()
    security_group_id = serializers.CharField()
    security_group_name = serializers.CharField()
    direction = serializers.CharField()
    protocol = serializers.CharField()
    port_range_min = serializers.IntegerField(allow_null=True)
    port_range_max = serializers.IntegerField(allow_null=True)
    remote_ip_prefix = serializers.CharField(allow_null=True)
    ethertype = serializers.CharField()


class SecurityGroupDetailSerializer(SecurityGroupSerializer):
    rules = RuleSerializer(many=True)
    attached_vms = serializers.ListField(child=serializers.DictField())
    attached_networks = serializers.ListField(child=serializers.DictField())


class FlavorSerializer(serializers.Serializer):
    flavor_id = serializers.CharField(source="cloud_id")
    name = serializers.CharField()
    description = serializers.CharField(source="display_text")
    vcpus = serializers.IntegerField(allow_null=True)
    ram_mb = serializers.IntegerField(allow_null=True)
    cpu_speed_mhz = serializers.IntegerField(allow_null=True)
    disk_gb = serializers.SerializerMethodField()
    customized = serializers.BooleanField()

    def get_disk_gb(self, row) -> int:
        return 0  # CloudStack's compute offerings carry no disk: the template and disk offerings size it


class ImageSerializer(serializers.Serializer):
    image_id = serializers.CharField(source="cloud_id")
    name = serializers.CharField()
    status = serializers.CharField(source="state")
    os_type = serializers.CharField()
    size_gb = serializers.IntegerField()
    disk_format = serializers.CharField()


class HypervisorSerializer(serializers.Serializer):
    hypervisor_id = serializers.CharField(source="cloud_id")
    hostname = serializers.CharField(source="name")
    state = serializers.CharField()
    host_ip = serializers.CharField(source="ip_address")
    vcpus = serializers.IntegerField(source="cpu_count")
    vcpus_used = serializers.IntegerField()
    cpu_percent = serializers.FloatField(source="cpu_used_percent")
    memory_mb = serializers.IntegerField(source="memory_total_mb")
    memory_used_mb = serializers.IntegerField()
    local_disk_gb = serializers.IntegerField(source="disk_total_gb")
    local_disk_used_gb = serializers.IntegerField(source="disk_used_gb")
    running_vms = serializers.IntegerField()
