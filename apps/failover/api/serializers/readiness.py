"""What the validation endpoints answer, rendered from the sections and results of ``apps.failover.validation``."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import AnswerSerializer, Plain, PlainSerializer, plain_answer
from apps.replication.choices import ReplicationStatus, ReplicationType

from ...choices import CheckStatus, CheckType, FailoverStatus, FailoverType
from .fields import NanosecondsAsMillisecondsField, one_of, strings
from .mappings import FailoverVMAnswerSerializer, NetworkMappingStatusSerializer

FailoverVMSerializer = plain_answer("FailoverVMSerializer", "vm_id vm_name")


class FailoverJobRefSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    job_type = one_of(FailoverType.values)
    status = one_of(FailoverStatus.values)


class FailoverCheckSerializer(serializers.Serializer):
    check_name = serializers.CharField()
    check_type = serializers.ChoiceField(choices=CheckType.choices)
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    message = serializers.CharField()
    execution_time = serializers.IntegerField(help_text="Nanoseconds (existing clients read it); see execution_time_ms")
    execution_time_ms = NanosecondsAsMillisecondsField(source="execution_time")
    details = serializers.DictField(required=False, help_text="What the check looked at; its keys depend on the check")
    required_actions = strings(required=False)


class FailoverValidationResultSerializer(FailoverVMSerializer):
    """validation.Validator.result: every check of one failover type."""

    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    is_ready = serializers.BooleanField()
    readiness_score = serializers.FloatField(help_text="0-100: passed checks, critical ones weighing double")
    estimated_duration = serializers.CharField(help_text='e.g. "7-14 minutes (plus the final sync)"; '
                                                         '"Cannot estimate - validation failed" when not ready')
    checks = FailoverCheckSerializer(many=True)
    warnings = strings(help_text="Messages of the failed warning checks")
    errors = strings(help_text="Messages of the failed critical checks")
    execution_time = serializers.IntegerField(help_text="Nanoseconds (existing clients read it); see execution_time_ms")
    execution_time_ms = NanosecondsAsMillisecondsField(source="execution_time")
    required_actions = strings()


class FailoverReadinessSerializer(AnswerSerializer):
    """Whether a failover of one type can run: every check, a score and the actions to take."""

    # The instance is the validation result.
    is_valid = serializers.BooleanField(source="is_ready")
    readiness_score = serializers.FloatField()
    validation_result = FailoverValidationResultSerializer(source="*")
    required_actions = strings()


FailoverDiskChangeIdSerializer = plain_answer("FailoverDiskChangeIdSerializer", "change_id job_id stored_at:datetime")


class FailoverSyncStatusSerializer(PlainSerializer):
    """readiness.sync_info."""

    plain = Plain("has_valid_change_id:bool latest_change_id? last_sync_time:datetime? sync_age_seconds:int? "
                  "replication_job_id? sync_percentage:float active_replication_job_id?")
    disks = serializers.DictField(child=FailoverDiskChangeIdSerializer(allow_null=True),
                                  help_text="disk id -> its latest stored change id, null when it has none")
    plain_tail = Plain("is_ready_for_failover:bool")


class FailoverSyncStatusAnswerSerializer(FailoverVMAnswerSerializer):
    sync_status = FailoverSyncStatusSerializer()


class FailoverVolumeStatusSerializer(PlainSerializer):
    """A disk's replica volume as recorded and as CloudStack sees it (readiness.volume_info)."""

    plain = Plain("disk_id disk_unit_number:int volume_id? volume_name? size_gb:int")
    volume_type = serializers.ChoiceField(choices=["ROOT", "DATADISK"])
    attachment_status = serializers.CharField(
        help_text="attached_to_oma, attached_to_vm or detached as CloudStack sees it; the recorded status when "
                  "CloudStack does not know the volume; missing without a replica volume")
    volume_status = serializers.ChoiceField(choices=["attached", "detached", "missing", "not_created"])
    plain_tail = Plain("attached_vm_id? cloudstack_state? is_accessible:bool is_ready_for_failover:bool")


class FailoverVolumeStatusAnswerSerializer(FailoverVMAnswerSerializer):
    """The VM's replica volumes as CloudStack sees them."""

    # The instance holds the VM ("vm") and its readiness.volume_info ("info").
    volume_status = serializers.SerializerMethodField()
    volumes = FailoverVolumeStatusSerializer(many=True, source="info.volumes")
    is_ready_for_failover = serializers.BooleanField(source="info.is_ready_for_failover")

    @extend_schema_field(FailoverVolumeStatusSerializer(allow_null=True, help_text="The boot disk's volume"))
    def get_volume_status(self, answer):
        volumes = answer["info"]["volumes"]
        boot = volumes[0] if volumes else None
        return FailoverVolumeStatusSerializer(boot).data if boot is not None else None


class FailoverBlockingReplicationSerializer(PlainSerializer):
    plain = Plain("job_id")
    status = one_of(ReplicationStatus.values)
    replication_type = one_of(ReplicationType.values)
    plain_tail = Plain("progress_percent:float")


class FailoverBlockingFailoverSerializer(FailoverJobRefSerializer):
    test_running = serializers.BooleanField()


class FailoverActiveJobsSerializer(PlainSerializer):
    """readiness.active_jobs_info."""

    plain = Plain("has_active_jobs:bool")
    migration_jobs = FailoverBlockingReplicationSerializer(many=True)
    failover_jobs = FailoverBlockingFailoverSerializer(many=True)
    failed_jobs_needing_cleanup = FailoverJobRefSerializer(many=True)
    plain_tail = Plain("total_active:int is_ready_for_failover:bool")


class FailoverActiveJobsAnswerSerializer(FailoverVMAnswerSerializer):
    active_jobs = FailoverActiveJobsSerializer()


class FailoverConfigurationByTypeSerializer(serializers.Serializer):
    live = FailoverValidationResultSerializer()
    test = FailoverValidationResultSerializer()


class FailoverConfigurationCheckSerializer(FailoverVMAnswerSerializer):
    """Every check for a live and for a test failover, with the sync, network and job sections."""

    is_valid = serializers.BooleanField(source="configuration.live.is_ready")
    is_valid_for_test = serializers.BooleanField(source="configuration.test.is_ready")
    readiness_score = serializers.FloatField(source="configuration.live.readiness_score")
    configuration = FailoverConfigurationByTypeSerializer()
    sync_status = FailoverSyncStatusSerializer()
    network_status = NetworkMappingStatusSerializer()
    active_jobs = FailoverActiveJobsSerializer()
    required_actions = serializers.SerializerMethodField()

    def get_required_actions(self, answer) -> list[str]:
        """Both types' actions, each once, live first."""
        configuration = answer["configuration"]
        return list(dict.fromkeys(configuration["live"]["required_actions"]
                                  + configuration["test"]["required_actions"]))
