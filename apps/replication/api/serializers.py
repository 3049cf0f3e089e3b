"""Replication's request bodies and answers: jobs, their progress and change ids, a VM context's replication view."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import BlankAsNullCharField, IsoDateTimeField, RoundedFloatField
from apps.core.api.serializers import (
    JobEventSerializer,
    Plain,
    PlainSerializer,
    SucceededSerializer,
    SuccessMessageSerializer,
    plain_answer,
)
from apps.core.jobs import job_event_rows
from apps.inventory.api.serializers import VMContextSerializer, VMDiskSerializer, VMNicSerializer
from apps.inventory.models import validate_vm_id, validate_vm_name

from ..choices import ReplicationStatus, ReplicationType
from ..jobs import JOB_KIND
from ..models import ReplicationJob
from ..selectors import disk_counters

DISKS_HELP = "The agent's per-disk progress as last pushed (free-form: a list, or {} before the first push)"

# --- request bodies -----------------------------------------------------------------------------------------------


class SourceDiskSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    size_gb = serializers.IntegerField(required=False, min_value=0)
    datastore = serializers.CharField(max_length=255, required=False, allow_blank=True)
    capacity_bytes = serializers.IntegerField(required=False, min_value=1)
    unit_number = serializers.IntegerField(required=False, min_value=0)


class SourceVMSerializer(serializers.Serializer):
    # The id becomes the VM context's vm_id, and with it part of export file names.
    id = serializers.CharField(max_length=64, validators=[validate_vm_id])
    name = serializers.CharField(max_length=255, validators=[validate_vm_name])
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
                                                  help_text="Cap per disk copy in MB/s (10^6 bytes/s, like every "
                                                            "*_mbps figure), for shared links")

    def validate(self, attrs):
        if not any(attrs.get(k) for k in ("source_vm", "vm_context_id", "vm_name")):
            raise serializers.ValidationError("Give source_vm, or vm_context_id / vm_name of a discovered VM")
        return attrs


class ReplicationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("cancelled", "cancel the job"), ("pending", "retry a failed job")])


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


# --- jobs ---------------------------------------------------------------------------------------------------------


# bytes_copied and bytes_zeroed of a job, from selectors.disk_counters (a comment: the schema would show a docstring
# as the serializers' description).
class DiskCountersMixin:
    def get_bytes_copied(self, job) -> int:
        return disk_counters(job)["bytes_copied"]

    def get_bytes_zeroed(self, job) -> int:
        return disk_counters(job)["bytes_zeroed"]


class ReplicationJobSerializer(DiskCountersMixin, serializers.ModelSerializer):
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


class ReplicationDetailSerializer(ReplicationJobSerializer):
    """GET /replications/{job_id}: the job, its per-disk progress and its last 50 events."""

    # A plain string here: the same enum in a second component would lose its ReplicationJobStatusEnum name.
    status = serializers.CharField(help_text="As in ReplicationJob: " + ", ".join(ReplicationStatus.values))
    disks = serializers.JSONField(source="disk_progress", help_text=DISKS_HELP)
    events = serializers.SerializerMethodField()

    class Meta(ReplicationJobSerializer.Meta):
        fields = [*ReplicationJobSerializer.Meta.fields, "disks", "events"]

    @extend_schema_field(JobEventSerializer(many=True))
    def get_events(self, job):
        return JobEventSerializer(job_event_rows(JOB_KIND, job.job_id, 50), many=True).data


class JobSummarySerializer(DiskCountersMixin, PlainSerializer):
    """A job as the VM-context views and the stored progress show it."""

    id = serializers.CharField(source="job_id", help_text="Same as job_id")
    plain = Plain("job_id status replication_type")
    progress_percent = RoundedFloatField()
    current_operation = serializers.CharField(allow_blank=True)
    plain_middle = Plain("bytes_transferred:int bytes_total:int")
    bytes_copied = serializers.SerializerMethodField()
    bytes_zeroed = serializers.SerializerMethodField()
    vma_throughput_mbps = RoundedFloatField(source="throughput_mbps", help_text="Same as throughput_mbps")
    vma_eta_seconds = serializers.IntegerField(source="eta_seconds", allow_null=True,
                                               help_text="Same as eta_seconds")
    throughput_mbps = RoundedFloatField(help_text="MB/s (10^6 bytes/s) over the last seconds")
    eta_seconds = serializers.IntegerField(allow_null=True)
    error_message = BlankAsNullCharField()
    plain_tail = Plain("started_at:datetime? completed_at:datetime? created_at:datetime")


class StoredProgressSerializer(SucceededSerializer, JobSummarySerializer):
    """GET /replications/{job_id}/progress: the progress the agent last pushed, as stored."""

    vm_name = serializers.CharField(source="vm_context.vm_name")
    disks = serializers.JSONField(source="disk_progress", help_text=DISKS_HELP)
    last_heartbeat_at = IsoDateTimeField(allow_null=True)
    full_sync_reason = BlankAsNullCharField()


class ProgressPushAnswerSerializer(SucceededSerializer):
    status = serializers.CharField(help_text="The job's status after the push")
    cancel_requested = serializers.BooleanField(help_text="True: the agent should stop the job")


class CreatedVolumeSerializer(PlainSerializer):
    volume_id = serializers.CharField(allow_null=True, help_text="Null until the volume is created")
    plain = Plain("volume_name size_gb:int disk_id")
    status = serializers.CharField(help_text="reused or pending")


class NbdExportSerializer(PlainSerializer):
    """An NBD export already serving a disk of the VM (a ``VMExportMapping``): the new job reuses it."""

    plain = Plain("export_name device_path port:int?")
    reused = serializers.SerializerMethodField()
    plain_tail = Plain("vm_id disk_unit_number:int")

    def get_reused(self, export) -> bool:
        return True


class ReplicationCreatedSerializer(PlainSerializer):
    plain = Plain("job_id status progress_percent:float replication_type vm_context_id")
    source_vm = SourceVMSerializer(help_text="As requested, else built from the inventory (id, name, path, "
                                             "datacenter)")
    created_volumes = CreatedVolumeSerializer(many=True)
    nbd_exports = NbdExportSerializer(many=True)
    plain_tail = Plain("started_at:datetime? message")


# --- change ids ---------------------------------------------------------------------------------------------------


class ChangeIdAnswerSerializer(PlainSerializer):
    plain = Plain("success:bool vm_path disk_id")
    change_id = serializers.CharField(allow_null=True, help_text="Null when no change id is stored (full sync)")
    plain_tail = Plain("job_id? created_at:datetime?")


class ChangeIdStoredSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("job_id disk_id change_id")


class CbtRecordSerializer(PlainSerializer):
    """A stored change id (a ``ChangeIdRecord``)."""

    job_id = serializers.CharField(source="job.job_id")
    plain = Plain("disk_id vm_path change_id created_at:datetime")


# --- the agent's live progress, relayed -----------------------------------------------------------------------------


AgentVMRefSerializer = plain_answer("AgentVMRefSerializer", "id? path? name?")


class AgentProgressSerializer(PlainSerializer):
    """The agent's progress record, relayed as is (docs/agent.md ``GET /api/v1/progress/{job_id}``)."""

    plain = Plain("job_id status replication_type? sync_type? cbt_enabled_by_job:bool full_sync_reason?")
    vm = AgentVMRefSerializer()
    current_operation = serializers.CharField(allow_null=True, allow_blank=True)
    plain_middle = Plain("progress_percent:float bytes_total:int bytes_transferred:int throughput_mbps:float "
                         "eta_seconds:int?")
    disks = serializers.JSONField(help_text="Per-disk progress records of the agent (free-form)")
    plain_tail = Plain("started_at:datetime? updated_at:datetime? finished_at:datetime? error?")
    warnings = serializers.ListField(child=serializers.CharField())


# --- a VM context's replication view ---------------------------------------------------------------------------------


class VMContextDetailSerializer(serializers.Serializer):
    """``selectors.VMContextDetail``: a VM with its current job, job history, disks, NICs and CBT history."""

    context = VMContextSerializer()
    current_job = JobSummarySerializer(allow_null=True, help_text="The active replication job, if any")
    job_history = JobSummarySerializer(many=True)
    disks = VMDiskSerializer(many=True, source="context.disks")
    nics = VMNicSerializer(many=True, source="context.nics")
    cbt_history = CbtRecordSerializer(many=True)


class RecentJobsSerializer(PlainSerializer):
    plain = Plain("success:bool context_id")
    jobs = JobSummarySerializer(many=True)
