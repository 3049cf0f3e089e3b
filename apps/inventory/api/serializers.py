from rest_framework import serializers

from ..models import VMContext, VMDisk, VMNic


class VMDiskSerializer(serializers.ModelSerializer):
    size_gb = serializers.IntegerField(read_only=True)

    class Meta:
        model = VMDisk
        fields = ["disk_id", "disk_key", "label", "controller_key", "unit_number", "capacity_bytes", "size_gb",
                  "datastore", "file_path", "cbt_enabled"]


class VMNicSerializer(serializers.ModelSerializer):
    class Meta:
        model = VMNic
        fields = ["label", "network_name", "mac_address", "adapter_type"]


class VMContextSerializer(serializers.ModelSerializer):
    disk_count = serializers.IntegerField(read_only=True)
    nic_count = serializers.IntegerField(read_only=True)
    ossea_config_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = VMContext
        fields = ["context_id", "vm_name", "vm_id", "moref", "vm_path", "vcenter_host", "datacenter",
                  "current_status", "power_state", "guest_os_id", "guest_os_name", "cpu_count", "memory_mb",
                  "firmware", "total_jobs_run", "successful_jobs", "failed_jobs", "last_successful_job_id",
                  "last_sync_at", "ossea_config_id", "disk_count", "nic_count", "created_at", "updated_at"]


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


class InventoryPushSerializer(serializers.Serializer):
    """What an agent pushes to POST /vms/inventory: its vCenter and the VMs it sees (agent discover shape)."""

    vcenter = serializers.DictField()
    vms = serializers.ListField(child=serializers.DictField(), max_length=10000)

    def validate_vcenter(self, value):
        if not value.get("host") or not value.get("datacenter"):
            raise serializers.ValidationError("vcenter needs host and datacenter")
        return value
