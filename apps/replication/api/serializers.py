from rest_framework import serializers

from ..choices import ReplicationType
from ..models import ReplicationJob
from ..selectors import disk_counters


class SourceDiskSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    size_gb = serializers.IntegerField(required=False, min_value=0)
    datastore = serializers.CharField(max_length=255, required=False, allow_blank=True)
    capacity_bytes = serializers.IntegerField(required=False, min_value=1)
    unit_number = serializers.IntegerField(required=False, min_value=0)


class SourceVMSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=255)
    path = serializers.CharField(max_length=1024)
    datacenter = serializers.CharField(max_length=255, required=False, allow_blank=True)
    cpus = serializers.IntegerField(required=False, min_value=1)
    memory_mb = serializers.IntegerField(required=False, min_value=1)
    disks = SourceDiskSerializer(many=True, required=False)


class ReplicationCreateSerializer(serializers.Serializer):
    source_vm = SourceVMSerializer(required=False)
    vm_context_id = serializers.CharField(required=False, max_length=128)
    vm_name = serializers.CharField(required=False, max_length=255)
    ossea_config_id = serializers.IntegerField(required=False, min_value=1)
    replication_type = serializers.ChoiceField(choices=ReplicationType.choices, default=ReplicationType.INITIAL)
    bandwidth_limit_mbps = serializers.FloatField(required=False, min_value=1, max_value=100000,
                                                  help_text="Cap per disk copy in MiB/s, for shared links")

    def validate(self, attrs):
        if not any(attrs.get(k) for k in ("source_vm", "vm_context_id", "vm_name")):
            raise serializers.ValidationError("Give source_vm, or vm_context_id / vm_name of a discovered VM")
        return attrs


class ReplicationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("cancelled", "cancel the job"), ("pending", "retry a failed job")])


class ReplicationJobSerializer(serializers.ModelSerializer):
    vm_name = serializers.CharField(source="vm_context.vm_name", read_only=True)
    vm_id = serializers.CharField(source="vm_context.vm_id", read_only=True)
    context_id = serializers.CharField(source="vm_context.context_id", read_only=True)
    bytes_copied = serializers.SerializerMethodField(help_text="Data bytes written to the volumes (what crossed "
                                                     "the wire), summed over the disks")
    bytes_zeroed = serializers.SerializerMethodField(help_text="Bytes written as zero requests (holes, zero blocks)")

    class Meta:
        model = ReplicationJob
        fields = ["job_id", "vm_name", "vm_id", "context_id", "replication_type", "status", "progress_percent",
                  "current_operation", "bytes_total", "bytes_transferred", "bytes_copied", "bytes_zeroed",
                  "throughput_mbps", "eta_seconds",
                  "full_sync_reason", "error_message", "cancel_requested", "attempt", "bandwidth_limit", "ossea_config_id",
                  "schedule_execution_id", "requested_by", "started_at", "completed_at", "last_heartbeat_at",
                  "created_at", "updated_at"]


    def get_bytes_copied(self, job) -> int:
        return disk_counters(job)["bytes_copied"]

    def get_bytes_zeroed(self, job) -> int:
        return disk_counters(job)["bytes_zeroed"]


class ChangeIdStoreSerializer(serializers.Serializer):
    vm_path = serializers.CharField(max_length=1024)
    disk_id = serializers.CharField(max_length=64)
    change_id = serializers.CharField(max_length=255)


class ProgressPushSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "running", "completed", "failed", "cancelled"], required=False)
    progress_percent = serializers.FloatField(required=False, min_value=0, max_value=100)
    current_operation = serializers.CharField(required=False, allow_blank=True, max_length=255)
    bytes_transferred = serializers.IntegerField(required=False, min_value=0)
    bytes_total = serializers.IntegerField(required=False, min_value=0)
    throughput_mbps = serializers.FloatField(required=False, min_value=0)
    eta_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    disks = serializers.JSONField(required=False)
    full_sync_reason = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    error = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=4000)
