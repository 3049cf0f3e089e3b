"""The seed's shapes for policies, assignments, runs and their progress, the pipeline, and restore jobs."""
from __future__ import annotations

import re

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

from ..choices import IpStrategy, RestoreMode, TargetType, VolumeOutcome
from ..models import OnDemandRun, RestoreJob, SnapshotAssignment, SnapshotPolicy, SnapshotRun, SnapshotRunVolume


def cloud_id(**kwargs) -> serializers.RegexField:
    """A CloudStack id (a uuid, or a name-like id): nothing that cannot be signed or looked up."""
    return serializers.RegexField(r"^[A-Za-z0-9_.:-]{1,64}$", max_length=64, **kwargs)


class PolicySerializer(serializers.ModelSerializer):
    interval_minutes = serializers.IntegerField(min_value=5, max_value=525_600)
    retention_count = serializers.IntegerField(min_value=1, max_value=1000)
    retention_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    next_run_at = serializers.SerializerMethodField()
    assignment_count = serializers.SerializerMethodField()

    class Meta:
        model = SnapshotPolicy
        fields = ["id", "name", "description", "interval_minutes", "retention_count", "retention_days", "enabled",
                  "last_run_at", "next_run_at", "assignment_count", "created_by", "created_at", "updated_at"]
        read_only_fields = ["last_run_at", "created_by", "created_at", "updated_at"]
        # The service answers a taken name with the seed's 409, not the validator's 400.
        extra_kwargs = {"name": {"validators": []}}

    def get_next_run_at(self, obj) -> str | None:
        due = obj.next_run_at()
        return due.isoformat() if due else None

    def get_assignment_count(self, obj) -> int:
        counted = getattr(obj, "assignment_total", None)  # annotated by the list (one query for the page)
        return obj.assignments.count() if counted is None else counted


class AssignmentSerializer(serializers.ModelSerializer):
    policy_set_id = serializers.IntegerField(source="policy_id")
    policy_name = serializers.CharField(source="policy.name")
    volume_id = serializers.SerializerMethodField()

    class Meta:
        model = SnapshotAssignment
        fields = ["id", "policy_set_id", "policy_name", "target_type", "target_id", "target_name", "volume_id",
                  "domain_id", "created_by", "created_at"]

    def get_volume_id(self, obj) -> str | None:
        return obj.target_id if obj.target_type == TargetType.VOLUME else None


class AssignmentCreateSerializer(serializers.Serializer):
    policy_set_id = serializers.IntegerField(min_value=1)
    target_type = serializers.ChoiceField(choices=TargetType.choices, default=TargetType.VOLUME)
    volume_ids = serializers.ListField(child=cloud_id(), required=False, max_length=500)
    target_id = serializers.CharField(max_length=255, required=False)
    domain_id = serializers.CharField(max_length=64, required=False, default="")

    def validate(self, attrs):
        if attrs["target_type"] == TargetType.VM and not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", attrs.get("target_id", "")):
            raise serializers.ValidationError({"target_id": "give the VM's CloudStack id"})
        if attrs["target_type"] == TargetType.VOLUME:
            ids = attrs.get("volume_ids") or ([attrs["target_id"]] if attrs.get("target_id") else [])
            if not ids:
                raise serializers.ValidationError({"volume_ids": "give the volumes to assign the policy to"})
            attrs["volume_ids"] = list(dict.fromkeys(ids))
        elif not attrs.get("target_id"):
            raise serializers.ValidationError({"target_id": f"give the {attrs['target_type']} to assign to"})
        return attrs


class AssignmentsCreatedSerializer(serializers.Serializer):
    assignments = AssignmentSerializer(many=True)


class RunSerializer(serializers.ModelSerializer):
    progress_pct = serializers.SerializerMethodField()

    class Meta:
        model = SnapshotRun
        fields = ["id", "trigger", "status", "triggered_by", "policy_names", "started_at", "finished_at",
                  "total_volumes", "snapshots_created", "snapshots_deleted", "failed", "skipped", "quota_blocked",
                  "total_batches", "completed_batches", "current_batch", "progress_pct", "estimated_finish_at",
                  "error"]

    def get_progress_pct(self, obj) -> float:
        if not obj.total_volumes:
            return 100.0 if obj.finished_at else 0.0
        done = getattr(obj, "volumes_done", None)  # annotated by the list (one query for the page)
        if done is None:
            done = obj.volumes.exclude(status=VolumeOutcome.PENDING).count()
        return round(100.0 * done / obj.total_volumes, 1)


class RunVolumeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SnapshotRunVolume
        fields = ["batch_number", "policy_name", "volume_id", "volume_name", "vm_id", "vm_name", "tenant_name",
                  "size_gb", "status", "snapshot_id", "cloudstack_job_id", "deleted_snapshot_ids", "error"]


BatchSerializer = plain_answer("BatchSerializer", "batch_number:int tenant_names:texts total_volumes:int "
                                                  "snapshots_created:int failed:int status")


class QuotaBlockSerializer(PlainSerializer):
    plain = Plain("volume_id volume_name tenant_name")
    quota_limit_gb = serializers.IntegerField(allow_null=True, help_text="The owner's secondary storage limit (GiB) "
                                              "when CloudStack refused; null: unlimited or not given")
    quota_used_gb = serializers.IntegerField(allow_null=True, help_text="Its secondary storage in use (GiB)")
    plain_middle = Plain("quota_needed_gb:int")
    snapshot_limit = serializers.IntegerField(allow_null=True, help_text="The owner's snapshot count limit")
    plain_tail = Plain("snapshots_used:int? block_reason")


class RunProgressSerializer(PlainSerializer):
    run = RunSerializer()
    batches = BatchSerializer(many=True)
    quota_blocks = QuotaBlockSerializer(many=True)
    volumes = RunVolumeSerializer(many=True)
    plain = Plain("is_active:bool")


class ActiveProgressSerializer(PlainSerializer):
    plain = Plain("active:bool")
    run = RunSerializer(allow_null=True)
    batches = BatchSerializer(many=True)


class PipelineStepSerializer(PlainSerializer):
    plain = Plain("key label status")
    message = serializers.CharField(required=False)


PipelineQueuedSerializer = plain_answer("PipelineQueuedSerializer", "job_id status message")


class PipelineStatusSerializer(PlainSerializer):
    plain = Plain("job_id? status triggered_by?")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    steps = PipelineStepSerializer(many=True)
    plain_tail = Plain("snapshot_run_id:int?")
    error = serializers.CharField(allow_blank=True)

    @staticmethod
    def of(job: OnDemandRun | None) -> dict:
        if job is None:
            return {"job_id": None, "status": "idle", "triggered_by": None, "started_at": None, "finished_at": None,
                    "steps": [], "snapshot_run_id": None, "error": ""}
        return {"job_id": job.job_id, "status": job.status, "triggered_by": job.triggered_by,
                "started_at": job.started_at, "finished_at": job.finished_at, "steps": job.steps,
                "snapshot_run_id": job.snapshot_run_id, "error": job.error}


# -- restore --------------------------------------------------------------------------------------


RestoreConfigSerializer = plain_answer("RestoreConfigSerializer", "enabled:bool dry_run:bool cleanup_volumes:bool")


class CloudSnapshotSerializer(PlainSerializer):
    """A CloudStack volume snapshot as the restore pages list it."""

    plain = Plain("id")
    name = serializers.CharField(allow_blank=True)
    volume_id = serializers.CharField(source="volumeid", allow_null=True)
    volume_name = serializers.CharField(source="volumename", allow_blank=True, default="")
    volume_type = serializers.CharField(source="volumetype", allow_blank=True, default="")
    status = serializers.CharField(source="state")
    plain_middle = Plain("size_gb:int")
    created_at = serializers.CharField(source="created")
    plain_tail = Plain("tenant_name")


class RestorePointSerializer(CloudSnapshotSerializer):
    plain = Plain("restorable:bool")


class RestorePointsSerializer(PlainSerializer):
    plain = Plain("vm_id vm_name")
    restore_points = RestorePointSerializer(many=True)


SubnetSerializer = plain_answer("SubnetSerializer", "subnet_id subnet_name cidr gateway_ip? available_ips:texts "
                                                    "available_count:int")


class AvailableIpsSerializer(PlainSerializer):
    plain = Plain("network_id")
    subnets = SubnetSerializer(many=True)


class RestorePlanRequestSerializer(serializers.Serializer):
    project_id = serializers.CharField(max_length=255)
    vm_id = cloud_id()
    restore_point_id = cloud_id()
    mode = serializers.ChoiceField(choices=RestoreMode.choices, default=RestoreMode.NEW)
    new_vm_name = serializers.CharField(max_length=63, required=False, allow_blank=True, default="")
    ip_strategy = serializers.ChoiceField(choices=IpStrategy.choices, default=IpStrategy.NEW_IPS)
    manual_ips = serializers.DictField(child=serializers.IPAddressField(protocol="IPv4"), required=False, default=dict)
    power_on = serializers.BooleanField(required=False, default=True)
    network_map = serializers.DictField(child=cloud_id(), required=False, default=dict,
                                        help_text="NEW only: the original's network id -> the network to restore onto")

    def validate(self, attrs):
        if attrs["mode"] == RestoreMode.REPLACE and attrs.get("network_map"):
            raise serializers.ValidationError({"network_map": "a REPLACE keeps the VM's own NICs"})
        if attrs["mode"] == RestoreMode.REPLACE and attrs.get("new_vm_name"):
            raise serializers.ValidationError({"new_vm_name": "only a NEW restore creates a VM with a new name"})
        if attrs.get("manual_ips") and attrs["ip_strategy"] != IpStrategy.MANUAL_IP:
            raise serializers.ValidationError({"manual_ips": "used only with ip_strategy MANUAL_IP"})
        return attrs


class RestoreExecuteSerializer(serializers.Serializer):
    plan_id = serializers.CharField(max_length=36)
    confirm_destructive = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)


class RestoreCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RestoreCleanupSerializer(serializers.Serializer):
    delete_volume = serializers.BooleanField(required=False, default=False)


class RestoreRetrySerializer(serializers.Serializer):
    confirm_destructive = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    ip_strategy_override = serializers.ChoiceField(choices=[c for c in IpStrategy.choices
                                                            if c[0] != IpStrategy.MANUAL_IP],
                                                   required=False, allow_null=True, default=None)


class RestoreJobSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="job_id")
    job_id = serializers.CharField()
    original_job_id = serializers.CharField(source="original_job.job_id", allow_null=True, default=None)

    class Meta:
        model = RestoreJob
        fields = ["id", "job_id", "status", "mode", "project_id", "vm_id", "vm_name", "restore_point_id",
                  "new_vm_name", "ip_strategy", "manual_ips", "network_map", "power_on", "plan_json", "steps",
                  "current_step",
                  "failed_step", "progress_pct", "result_vm_id", "created_volume_ids", "old_volume_ids", "error",
                  "rollback", "cancel_requested", "cancel_reason", "original_job_id", "resumed_from_step",
                  "reused_resources", "created_by", "created_at", "started_at", "finished_at"]


CleanedSerializer = plain_answer("CleanedSerializer", "ports:texts volume? volumes:texts server? errors:texts")
StorageResultSerializer = plain_answer("StorageResultSerializer", "deleted_volumes:texts deleted_snapshots:texts "
                                                                  "errors:texts skipped:texts")

# A restore job's answers: the job, what the step did, then a message.
class CleanupAnswerSerializer(PlainSerializer):
    plain = Plain("job_id")
    cleaned = CleanedSerializer()
    plain_tail = Plain("message")


class StorageAnswerSerializer(PlainSerializer):
    plain = Plain("job_id")
    result = StorageResultSerializer()
    plain_tail = Plain("message")


class RetryAnswerSerializer(PlainSerializer):
    plain = Plain("job_id original_job_id status resumed_from_step reused_resources:dict ip_strategy message")
