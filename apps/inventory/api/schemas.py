"""Documentation serializers: the inventory and discovery answers the views build as plain dicts (OpenAPI only)."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.schemas import SuccessMessageSerializer
from apps.replication.api.schemas import CbtRecordSerializer, JobSummarySerializer

from .serializers import VMContextSerializer, VMDiskSerializer, VMNicSerializer

RICHER = "Absent when the agent answers with the seed fields only"


class AgentDiskSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    id = serializers.CharField(help_text="disk-<unit> (disk-<controller key>-<unit> when units repeat)")
    label = serializers.CharField()
    controller_key = serializers.IntegerField(allow_null=True)
    controller_type = serializers.CharField()
    bus_number = serializers.IntegerField(allow_null=True)
    unit_number = serializers.IntegerField(allow_null=True)
    capacity_bytes = serializers.IntegerField()
    size_gb = serializers.FloatField()
    datastore = serializers.CharField(allow_blank=True)
    path = serializers.CharField()
    thin_provisioned = serializers.BooleanField(allow_null=True)
    cbt_enabled = serializers.BooleanField()
    change_id = serializers.CharField(allow_null=True)


class AgentNicSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    label = serializers.CharField()
    network = serializers.CharField()
    mac_address = serializers.CharField()
    adapter_type = serializers.CharField()
    connected = serializers.BooleanField(allow_null=True)


class AgentSnapshotSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField(allow_null=True)
    power_state = serializers.CharField(allow_null=True)
    quiesced = serializers.BooleanField()


class AgentVMSerializer(serializers.Serializer):
    """A VM as the agent's POST /api/v1/discover lists it (docs/agent.md), relayed as is."""

    id = serializers.CharField()
    name = serializers.CharField()
    path = serializers.CharField()
    power_state = serializers.CharField(allow_null=True, required=False)
    guest_os = serializers.CharField(allow_null=True, required=False)
    memory_mb = serializers.IntegerField(allow_null=True, required=False)
    num_cpu = serializers.IntegerField(allow_null=True, required=False)
    uuid = serializers.CharField(allow_null=True, required=False, help_text="Instance UUID. " + RICHER)
    bios_uuid = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    guest_os_name = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    firmware = serializers.CharField(allow_null=True, required=False, help_text=RICHER)
    cbt_enabled = serializers.BooleanField(required=False, help_text=RICHER)
    disks = AgentDiskSerializer(many=True, required=False)
    nics = AgentNicSerializer(many=True, required=False)
    snapshots = AgentSnapshotSerializer(many=True, required=False, help_text=RICHER)


class PreviewCountsSerializer(serializers.Serializer):
    already_added = serializers.BooleanField(help_text="The VM is already in the inventory")
    disk_count = serializers.IntegerField()
    total_capacity_bytes = serializers.IntegerField()


class DiscoveredVMSerializer(AgentVMSerializer, PreviewCountsSerializer):
    """The agent's VM record plus what the control plane knows of it."""


class VCenterRefSerializer(serializers.Serializer):
    host = serializers.CharField()
    datacenter = serializers.CharField()


class VMContextRefSerializer(serializers.Serializer):
    context_id = serializers.CharField()
    vm_name = serializers.CharField()
    created = serializers.BooleanField(help_text="False: the VM was already in the inventory (updated)")


class DiscoverAnswerSerializer(SuccessMessageSerializer):
    vcenter = VCenterRefSerializer(allow_null=True)
    count = serializers.IntegerField()
    discovered_vms = DiscoveredVMSerializer(many=True)
    added = VMContextRefSerializer(many=True, required=False, help_text="Only with create_context")


class PreviewRowSerializer(PreviewCountsSerializer):
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    path = serializers.CharField(allow_null=True)
    power_state = serializers.CharField(allow_null=True)
    num_cpu = serializers.IntegerField(allow_null=True)
    memory_mb = serializers.IntegerField(allow_null=True)


class PreviewAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    count = serializers.IntegerField()
    new_vms = serializers.IntegerField(help_text="How many are not in the inventory yet")
    preview = PreviewRowSerializer(many=True)


class AddVMsAnswerSerializer(SuccessMessageSerializer):
    vm_contexts = VMContextRefSerializer(many=True)


class BulkAddAnswerSerializer(AddVMsAnswerSerializer):
    added = serializers.IntegerField()
    already_present = serializers.IntegerField()


class VMContextDetailSerializer(serializers.Serializer):
    context = VMContextSerializer()
    current_job = JobSummarySerializer(allow_null=True, help_text="The active replication job, if any")
    job_history = JobSummarySerializer(many=True)
    disks = VMDiskSerializer(many=True)
    nics = VMNicSerializer(many=True)
    cbt_history = CbtRecordSerializer(many=True)


class RecentJobsSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    context_id = serializers.CharField()
    jobs = JobSummarySerializer(many=True)


class VMDetailSerializer(VMContextSerializer):
    disks = VMDiskSerializer(many=True)
    nics = VMNicSerializer(many=True)

    class Meta(VMContextSerializer.Meta):
        fields = [*VMContextSerializer.Meta.fields, "disks", "nics"]


class VMDiscoverAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    vcenter = VCenterRefSerializer(allow_null=True)
    vms = DiscoveredVMSerializer(many=True)


class InventoryPushAnswerSerializer(SuccessMessageSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
