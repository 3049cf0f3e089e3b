"""The inventory's request bodies and answers: VM contexts, and discovery relayed from the agent."""
from __future__ import annotations

from dataclasses import dataclass

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer, SuccessMessageSerializer, plain_answer

from ..models import VMContext, VMDisk, VMNic, validate_vm_id, validate_vm_name
from ..selectors import agent_vm_id

RICHER = "Absent when the agent answers with the basic fields only (an older agent)"

# --- the inventory ------------------------------------------------------------------------------------------------


class VMDiskSerializer(serializers.ModelSerializer):
    size_gb = serializers.IntegerField(read_only=True)

    class Meta:
        model = VMDisk
        fields = ["disk_id", "disk_key", "label", "controller_key", "unit_number", "capacity_bytes", "size_gb",
                  "datastore", "file_path", "cbt_enabled"]


class VMNicSerializer(serializers.ModelSerializer):
    class Meta:
        model = VMNic
        fields = ["label", "network_name", "mac_address", "adapter_type", "ip_addresses"]


class VMContextSerializer(serializers.ModelSerializer):
    """A VM context as ``selectors.vm_contexts`` gives it (with its disk and NIC counts)."""

    disk_count = serializers.IntegerField(read_only=True)
    nic_count = serializers.IntegerField(read_only=True)
    ossea_config_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = VMContext
        fields = ["context_id", "vm_name", "vm_id", "moref", "vm_path", "vcenter_host", "datacenter",
                  "current_status", "power_state", "guest_os_id", "guest_os_name", "cpu_count", "memory_mb",
                  "firmware", "secure_boot", "total_jobs_run", "successful_jobs", "failed_jobs", "last_successful_job_id",
                  "last_sync_at", "ossea_config_id", "disk_count", "nic_count", "created_at", "updated_at"]


class VMDetailSerializer(VMContextSerializer):
    """GET /vms/{vm_id}: the VM context with its disks and NICs."""

    disks = VMDiskSerializer(many=True)
    nics = VMNicSerializer(many=True)

    class Meta(VMContextSerializer.Meta):
        fields = [*VMContextSerializer.Meta.fields, "disks", "nics"]


@dataclass(frozen=True)
class AddedVM:
    """One VM that discovery put in the inventory: ``created`` is False when it was already there (updated)."""

    context: VMContext
    created: bool

    @classmethod
    def from_pairs(cls, pairs: list[tuple[VMContext, bool]]) -> list[AddedVM]:
        return [cls(context, created) for context, created in pairs]


class VMContextRefSerializer(serializers.Serializer):
    context_id = serializers.CharField(source="context.context_id")
    vm_name = serializers.CharField(source="context.vm_name")
    created = serializers.BooleanField(help_text="False: the VM was already in the inventory (updated)")


class AddVMsAnswerSerializer(SuccessMessageSerializer):
    vm_contexts = VMContextRefSerializer(many=True)


class BulkAddAnswerSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("added:int already_present:int")
    vm_contexts = VMContextRefSerializer(many=True)


class InventoryPushAnswerSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("created:int updated:int")


# --- discovery: the agent's VM records (docs/agent.md), with what the inventory knows of them -------------------


class AgentDiskSerializer(PlainSerializer):
    plain = Plain("key:int")
    id = serializers.CharField(help_text="disk-<unit> (disk-<controller key>-<unit> when units repeat)")
    plain_middle = Plain("label controller_key:int? controller_type bus_number:int? unit_number:int? capacity_bytes:int "
                         "size_gb:float")
    datastore = serializers.CharField(allow_blank=True)
    plain_tail = Plain("path thin_provisioned:bool? cbt_enabled:bool change_id?")


class AgentNicSerializer(PlainSerializer):
    plain = Plain("key:int label network mac_address adapter_type connected:bool?")
    ip_addresses = serializers.ListField(child=serializers.CharField(), required=False,
                                         help_text="The guest's addresses on this NIC (VMware Tools). " + RICHER)


class AgentSnapshotSerializer(PlainSerializer):
    plain = Plain("id name")
    description = serializers.CharField(allow_blank=True)
    plain_tail = Plain("created_at:datetime? power_state? quiesced:bool")


class AgentVMSerializer(PlainSerializer):
    """A VM as the agent's POST /api/v1/discover lists it, relayed as is (docs/agent.md)."""

    plain = Plain("id name path")
    uuid = serializers.CharField(allow_null=True, required=False, help_text="Instance UUID. " + RICHER)
    bios_uuid = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    power_state = serializers.CharField(allow_null=True, required=False)
    guest_os = serializers.CharField(allow_null=True, required=False)
    guest_os_name = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    num_cpu = serializers.IntegerField(allow_null=True, required=False)
    memory_mb = serializers.IntegerField(allow_null=True, required=False)
    firmware = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    secure_boot = serializers.BooleanField(required=False, help_text="EFI secure boot. " + RICHER)
    cbt_enabled = serializers.BooleanField(required=False, help_text=RICHER)
    disks = AgentDiskSerializer(many=True, required=False)
    nics = AgentNicSerializer(many=True, required=False)
    snapshots = AgentSnapshotSerializer(many=True, required=False, help_text=RICHER)


# What the control plane adds to an agent's VM record; context["known_vm_ids"] comes from selectors.known_vm_ids.
# (A comment, not a docstring: the schema would show it as the serializers' description.)
class KnownVMCounts:
    def get_already_added(self, vm: dict) -> bool:
        return agent_vm_id(vm) in self.context["known_vm_ids"]

    def get_disk_count(self, vm: dict) -> int:
        return len(vm.get("disks") or [])

    def get_total_capacity_bytes(self, vm: dict) -> int:
        return sum(int(d.get("capacity_bytes") or 0) for d in vm.get("disks") or [])


ALREADY_ADDED = "The VM is already in the inventory"


class DiscoveredVMSerializer(KnownVMCounts, AgentVMSerializer):
    """The agent's VM record plus what the control plane knows of it."""

    already_added = serializers.SerializerMethodField(help_text=ALREADY_ADDED)
    disk_count = serializers.SerializerMethodField()
    total_capacity_bytes = serializers.SerializerMethodField()


VCenterRefSerializer = plain_answer("VCenterRefSerializer", "host datacenter")


class DiscoverAnswerSerializer(SuccessMessageSerializer, PlainSerializer):
    vcenter = VCenterRefSerializer(allow_null=True)
    plain = Plain("count:int")
    discovered_vms = DiscoveredVMSerializer(many=True)
    added = VMContextRefSerializer(many=True, required=False, help_text="Only with create_context")


class VMDiscoverAnswerSerializer(PlainSerializer):
    plain = Plain("success:bool")
    vcenter = VCenterRefSerializer(allow_null=True)
    vms = DiscoveredVMSerializer(many=True)


class PreviewRowSerializer(KnownVMCounts, PlainSerializer):
    plain = Plain("id? name? path? power_state? num_cpu:int? memory_mb:int?")
    disk_count = serializers.SerializerMethodField()
    total_capacity_bytes = serializers.SerializerMethodField()
    already_added = serializers.SerializerMethodField(help_text=ALREADY_ADDED)


class PreviewAnswerSerializer(PlainSerializer):
    plain = Plain("success:bool count:int")
    new_vms = serializers.IntegerField(help_text="How many are not in the inventory yet")
    preview = PreviewRowSerializer(many=True)


# --- request bodies -----------------------------------------------------------------------------------------------


class CredentialsInputMixin(serializers.Serializer):
    credential_id = serializers.IntegerField(required=False, min_value=1,
                                             help_text="VMware credentials to use; the default ones when absent")


class DiscoverSerializer(CredentialsInputMixin):
    filter = serializers.CharField(required=False, allow_blank=True, default="", max_length=256)
    create_context = serializers.BooleanField(required=False, default=False,
                                              help_text="Also add every discovered VM to the inventory")


class AddVMsSerializer(CredentialsInputMixin):
    vm_names = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=1000)


class BulkAddSerializer(CredentialsInputMixin):
    filter = serializers.CharField(required=False, allow_blank=True, default="", max_length=256)


# The push's VM records: the agent's discover shape (docs/agent.md), every field typed and bounded as the
# inventory's columns are; what the inventory does not keep is ignored.
INT32 = 2 ** 31 - 1


class PushedDiskSerializer(serializers.Serializer):
    key = serializers.IntegerField(min_value=0, max_value=INT32)
    id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    label = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    controller_key = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT32)
    unit_number = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT32)
    capacity_bytes = serializers.IntegerField(min_value=0, max_value=2 ** 63 - 1)
    datastore = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    path = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=1024)
    cbt_enabled = serializers.BooleanField(required=False, allow_null=True)


class PushedNicSerializer(serializers.Serializer):
    key = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT32)
    label = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    network = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    mac_address = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)
    adapter_type = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    ip_addresses = serializers.ListField(child=serializers.IPAddressField(), required=False, max_length=32)


class PushedVMSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64, validators=[validate_vm_id], help_text="The VM's moref")
    name = serializers.CharField(max_length=255, validators=[validate_vm_name])
    path = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=1024)
    uuid = serializers.CharField(required=False, allow_null=True, max_length=64, validators=[validate_vm_id],
                                 help_text="Instance UUID: the inventory's vm_id (the moref when absent)")
    bios_uuid = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    power_state = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)
    guest_os = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=128)
    guest_os_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    num_cpu = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=4096)
    memory_mb = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=64 * 1024 * 1024)
    firmware = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=16)
    secure_boot = serializers.BooleanField(required=False, allow_null=True)
    cbt_enabled = serializers.BooleanField(required=False, allow_null=True)
    disks = PushedDiskSerializer(many=True, required=False, max_length=256)
    nics = PushedNicSerializer(many=True, required=False, max_length=64)
    snapshots = serializers.ListField(child=serializers.DictField(), required=False, max_length=1000)


class PushedVCenterSerializer(serializers.Serializer):
    host = serializers.CharField(max_length=255)
    datacenter = serializers.CharField(max_length=255)


class InventoryPushSerializer(serializers.Serializer):
    """What an agent pushes to POST /vms/inventory: its vCenter and the VMs it sees (agent discover shape)."""

    vcenter = PushedVCenterSerializer()
    vms = PushedVMSerializer(many=True, max_length=10000)
