"""Documentation serializers: the replication answers the views build as plain dicts (OpenAPI only)."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.schemas import JobEventSerializer, SuccessMessageSerializer

from ..choices import ReplicationStatus
from .serializers import ReplicationJobSerializer, SourceVMSerializer

DISKS_HELP = "The agent's per-disk progress as last pushed (free-form: a list, or {} before the first push)"


class JobSummarySerializer(serializers.Serializer):
    """``apps.replication.selectors.job_summary``: a job as the VM-context views show it."""

    id = serializers.CharField(help_text="Same as job_id")
    job_id = serializers.CharField()
    status = serializers.CharField()
    replication_type = serializers.CharField()
    progress_percent = serializers.FloatField()
    current_operation = serializers.CharField(allow_blank=True)
    bytes_transferred = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    bytes_copied = serializers.IntegerField()
    bytes_zeroed = serializers.IntegerField()
    vma_throughput_mbps = serializers.FloatField()
    vma_eta_seconds = serializers.IntegerField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class CbtRecordSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    disk_id = serializers.CharField()
    vm_path = serializers.CharField()
    change_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class CreatedVolumeSerializer(serializers.Serializer):
    volume_id = serializers.CharField(allow_null=True, help_text="Null until the volume is created")
    volume_name = serializers.CharField()
    size_gb = serializers.IntegerField()
    disk_id = serializers.CharField()
    status = serializers.CharField(help_text="reused or pending")


class NbdExportSerializer(serializers.Serializer):
    export_name = serializers.CharField()
    device_path = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    reused = serializers.BooleanField()
    vm_id = serializers.CharField()
    disk_unit_number = serializers.IntegerField()


class ReplicationCreatedSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.CharField()
    progress_percent = serializers.FloatField()
    replication_type = serializers.CharField()
    vm_context_id = serializers.CharField()
    source_vm = SourceVMSerializer(help_text="As requested, else built from the inventory (id, name, path, "
                                             "datacenter)")
    created_volumes = CreatedVolumeSerializer(many=True)
    nbd_exports = NbdExportSerializer(many=True)
    started_at = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField()


class ChangeIdAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    vm_path = serializers.CharField()
    disk_id = serializers.CharField()
    change_id = serializers.CharField(allow_null=True, help_text="Null when no change id is stored (full sync)")
    job_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)


class ChangeIdStoredSerializer(SuccessMessageSerializer):
    job_id = serializers.CharField()
    disk_id = serializers.CharField()
    change_id = serializers.CharField()


class StoredProgressSerializer(JobSummarySerializer):
    success = serializers.BooleanField()
    vm_name = serializers.CharField()
    disks = serializers.JSONField(help_text=DISKS_HELP)
    last_heartbeat_at = serializers.DateTimeField(allow_null=True)
    full_sync_reason = serializers.CharField(allow_null=True)


class ProgressPushAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.CharField(help_text="The job's status after the push")
    cancel_requested = serializers.BooleanField(help_text="True: the agent should stop the job")


class AgentVMRefSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    path = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class AgentProgressSerializer(serializers.Serializer):
    """The agent's progress record, relayed as is (docs/agent.md ``GET /api/v1/progress/{job_id}``)."""

    job_id = serializers.CharField()
    status = serializers.CharField()
    replication_type = serializers.CharField(allow_null=True)
    sync_type = serializers.CharField(allow_null=True)
    cbt_enabled_by_job = serializers.BooleanField()
    full_sync_reason = serializers.CharField(allow_null=True)
    vm = AgentVMRefSerializer()
    current_operation = serializers.CharField(allow_null=True, allow_blank=True)
    progress_percent = serializers.FloatField()
    bytes_total = serializers.IntegerField()
    bytes_transferred = serializers.IntegerField()
    throughput_mbps = serializers.FloatField()
    eta_seconds = serializers.IntegerField(allow_null=True)
    disks = serializers.JSONField(help_text="Per-disk progress records of the agent (free-form)")
    started_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())



class ReplicationDetailSerializer(ReplicationJobSerializer):
    """GET /replications/{job_id}: the job, its per-disk progress and its last 50 events."""

    # A plain string here: the same enum in a second component would lose its ReplicationJobStatusEnum name.
    status = serializers.CharField(help_text="As in ReplicationJob: " + ", ".join(ReplicationStatus.values))
    disks = serializers.JSONField(help_text=DISKS_HELP)
    events = JobEventSerializer(many=True)

    class Meta(ReplicationJobSerializer.Meta):
        fields = [*ReplicationJobSerializer.Meta.fields, "disks", "events"]
