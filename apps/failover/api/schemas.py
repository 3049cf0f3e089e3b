"""What the failover, validation and network-mapping endpoints answer: documentation serializers for the schema.

Nothing here validates or renders a request; each class lists exactly the keys a view (or the selector or
validation function it calls) puts in its answer, so the OpenAPI schema tells clients what they get.
"""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.schemas import ErrorResponseSerializer, JobEventSerializer, SuccessMessageSerializer
from apps.replication.choices import ReplicationStatus, ReplicationType
from apps.settings.choices import CloudResourceKind, CloudResourceState

from ..choices import CheckStatus, CheckType, CleanupStatus, FailoverStatus, FailoverType, SnapshotState, VolumePlace

CLEANUP_STATES = [value for value in CleanupStatus.values if value]
SNAPSHOT_STATES = [value for value in SnapshotState.values if value]
ROLES = ["root", "data"]


def _one_of(values, **kwargs) -> serializers.CharField:
    """A string from a fixed set, documented in its description: an enum component would be named after the field
    ("status", "job_type") and collide with the other sets of that name in the schema."""
    return serializers.CharField(help_text="One of: " + ", ".join(values), **kwargs)


def _strings(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), **kwargs)


def _text(**kwargs) -> serializers.CharField:
    """A string that is null when there is none."""
    return serializers.CharField(allow_null=True, **kwargs)


def _when(**kwargs) -> serializers.DateTimeField:
    """An RFC 3339 time in UTC, null when it has not happened."""
    return serializers.DateTimeField(allow_null=True, **kwargs)


# -- shared pieces -----------------------------------------------------------------------------------------


class FailoverVMAnswerSerializer(SuccessMessageSerializer):
    vm_id = serializers.CharField()


class FailoverVMSerializer(serializers.Serializer):
    vm_id = serializers.CharField()
    vm_name = serializers.CharField()


class FailoverJobRefSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    job_type = _one_of(FailoverType.values)
    status = _one_of(FailoverStatus.values)


class MappingFieldsSerializer(serializers.Serializer):
    source_network_name = serializers.CharField()
    destination_network_id = serializers.CharField()
    destination_network_name = serializers.CharField()
    is_test_network = serializers.BooleanField()


# -- network mappings --------------------------------------------------------------------------------------


class NetworkMappingRowSerializer(FailoverVMSerializer, MappingFieldsSerializer):
    """selectors.mapping_dict: a stored mapping."""

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class NetworkMappingListAnswerSerializer(SuccessMessageSerializer):
    total_mappings = serializers.IntegerField(help_text="Mappings matching the filters")
    returned_mappings = serializers.IntegerField(help_text="Mappings in this page")
    mappings = NetworkMappingRowSerializer(many=True)


class NetworkMappingCreatedSerializer(SuccessMessageSerializer):
    mapping = NetworkMappingRowSerializer()


class NetworkMappingsOfVMSerializer(SuccessMessageSerializer, FailoverVMSerializer):
    mappings = NetworkMappingRowSerializer(many=True)
    total_mappings = serializers.IntegerField()


class NetworkMappingsUpdatedSerializer(NetworkMappingsOfVMSerializer):
    updated = serializers.IntegerField(help_text="How many mappings the request created or replaced")


class NetworkMappingsDeletedSerializer(FailoverVMAnswerSerializer):
    deleted = serializers.IntegerField()


class NetworkMappingsOfSourceSerializer(FailoverVMAnswerSerializer):
    mappings = NetworkMappingRowSerializer(many=True)


class NetworkMappingsOfSourceDeletedSerializer(NetworkMappingsDeletedSerializer):
    source_network_name = serializers.CharField()


class NetworkMappingStatusRowSerializer(MappingFieldsSerializer):
    status = serializers.ChoiceField(choices=["mapped", "stale"],
                                     help_text="stale: the VM has no NIC on this source network any more")


class NetworkMappingStatusSerializer(serializers.Serializer):
    """validation.network_info."""

    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    total_networks = serializers.IntegerField()
    mapped_networks = serializers.IntegerField()
    unmapped_networks = serializers.IntegerField()
    test_networks_available = serializers.BooleanField()
    mappings = NetworkMappingStatusRowSerializer(many=True)
    unmapped = _strings(help_text="Source networks without a mapping for this failover type")
    is_ready_for_failover = serializers.BooleanField()


class NetworkMappingStatusAnswerSerializer(FailoverVMAnswerSerializer):
    network_status = NetworkMappingStatusSerializer()


# -- validation --------------------------------------------------------------------------------------------


class FailoverCheckSerializer(serializers.Serializer):
    check_name = serializers.CharField()
    check_type = serializers.ChoiceField(choices=CheckType.choices)
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    message = serializers.CharField()
    execution_time = serializers.IntegerField(help_text="Nanoseconds")
    details = serializers.DictField(required=False, help_text="What the check looked at; its keys depend on the check")
    required_actions = _strings(required=False)


class FailoverValidationResultSerializer(FailoverVMSerializer):
    """validation.Validator.result: every check of one failover type."""

    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    is_ready = serializers.BooleanField()
    readiness_score = serializers.FloatField(help_text="0-100: passed checks, critical ones weighing double")
    estimated_duration = serializers.CharField(help_text='e.g. "7-14 minutes (plus the final sync)"; '
                                                         '"Cannot estimate - validation failed" when not ready')
    checks = FailoverCheckSerializer(many=True)
    warnings = _strings(help_text="Messages of the failed warning checks")
    errors = _strings(help_text="Messages of the failed critical checks")
    execution_time = serializers.IntegerField(help_text="Nanoseconds")
    required_actions = _strings()


class FailoverReadinessSerializer(SuccessMessageSerializer):
    is_valid = serializers.BooleanField()
    readiness_score = serializers.FloatField()
    validation_result = FailoverValidationResultSerializer()
    required_actions = _strings()


class FailoverDiskChangeIdSerializer(serializers.Serializer):
    change_id = serializers.CharField()
    job_id = serializers.CharField()
    stored_at = serializers.DateTimeField()


class FailoverSyncStatusSerializer(serializers.Serializer):
    """validation.sync_info."""

    has_valid_change_id = serializers.BooleanField()
    latest_change_id = _text()
    last_sync_time = _when()
    sync_age_seconds = serializers.IntegerField(allow_null=True)
    replication_job_id = _text()
    sync_percentage = serializers.FloatField()
    active_replication_job_id = _text()
    disks = serializers.DictField(child=FailoverDiskChangeIdSerializer(allow_null=True),
                                  help_text="disk id -> its latest stored change id, null when it has none")
    is_ready_for_failover = serializers.BooleanField()


class FailoverSyncStatusAnswerSerializer(FailoverVMAnswerSerializer):
    sync_status = FailoverSyncStatusSerializer()


class FailoverVolumeStatusSerializer(serializers.Serializer):
    """A disk's replica volume as recorded and as CloudStack sees it (validation.volume_info)."""

    disk_id = serializers.CharField()
    disk_unit_number = serializers.IntegerField()
    volume_id = _text()
    volume_name = _text()
    size_gb = serializers.IntegerField()
    volume_type = serializers.ChoiceField(choices=["ROOT", "DATADISK"])
    attachment_status = serializers.CharField(
        help_text="attached_to_oma, attached_to_vm or detached as CloudStack sees it; the recorded status when "
                  "CloudStack does not know the volume; missing without a replica volume")
    volume_status = serializers.ChoiceField(choices=["attached", "detached", "missing", "not_created"])
    is_accessible = serializers.BooleanField()
    attached_vm_id = _text()
    cloudstack_state = _text()
    is_ready_for_failover = serializers.BooleanField()


class FailoverVolumeStatusAnswerSerializer(FailoverVMAnswerSerializer):
    volume_status = FailoverVolumeStatusSerializer(allow_null=True, help_text="The boot disk's volume")
    volumes = FailoverVolumeStatusSerializer(many=True)
    is_ready_for_failover = serializers.BooleanField()


class FailoverBlockingReplicationSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = _one_of(ReplicationStatus.values)
    replication_type = _one_of(ReplicationType.values)
    progress_percent = serializers.FloatField()


class FailoverBlockingFailoverSerializer(FailoverJobRefSerializer):
    test_running = serializers.BooleanField()


class FailoverActiveJobsSerializer(serializers.Serializer):
    """validation.active_jobs_info."""

    has_active_jobs = serializers.BooleanField()
    migration_jobs = FailoverBlockingReplicationSerializer(many=True)
    failover_jobs = FailoverBlockingFailoverSerializer(many=True)
    failed_jobs_needing_cleanup = FailoverJobRefSerializer(many=True)
    total_active = serializers.IntegerField()
    is_ready_for_failover = serializers.BooleanField()


class FailoverActiveJobsAnswerSerializer(FailoverVMAnswerSerializer):
    active_jobs = FailoverActiveJobsSerializer()


class FailoverConfigurationByTypeSerializer(serializers.Serializer):
    live = FailoverValidationResultSerializer()
    test = FailoverValidationResultSerializer()


class FailoverConfigurationCheckSerializer(FailoverVMAnswerSerializer):
    is_valid = serializers.BooleanField()
    is_valid_for_test = serializers.BooleanField()
    readiness_score = serializers.FloatField()
    configuration = FailoverConfigurationByTypeSerializer()
    sync_status = FailoverSyncStatusSerializer()
    network_status = NetworkMappingStatusSerializer()
    active_jobs = FailoverActiveJobsSerializer()
    required_actions = _strings()


# -- failover jobs -----------------------------------------------------------------------------------------


class FailoverStartedDataSerializer(FailoverVMSerializer):
    job_type = _one_of(FailoverType.values)
    status = _one_of(FailoverStatus.values)
    test_duration = serializers.CharField(required=False, help_text="Test failovers only")
    auto_cleanup = serializers.BooleanField(required=False, help_text="Test failovers only")
    power_off_source = serializers.BooleanField(required=False, help_text="Live failovers only")
    final_sync = serializers.BooleanField(required=False, help_text="Live failovers only")


class FailoverStartedSerializer(SuccessMessageSerializer):
    job_id = serializers.CharField()
    estimated_duration = serializers.CharField()
    data = FailoverStartedDataSerializer()


class FailoverCleanupStartedSerializer(SuccessMessageSerializer):
    job_id = serializers.CharField()
    cleanup_status = serializers.ChoiceField(choices=CLEANUP_STATES)


class TestFailoverCleanupStartedSerializer(FailoverCleanupStartedSerializer):
    estimated_cleanup_time = serializers.CharField()


class FailoverRollbackStartedSerializer(SuccessMessageSerializer, FailoverJobRefSerializer):
    pass


class FailoverVolumeSerializer(serializers.Serializer):
    """selectors.volume_rows: a replica volume as the job moved it."""

    disk_id = serializers.CharField()
    disk_unit_number = serializers.IntegerField()
    volume_id = serializers.CharField()
    volume_name = serializers.CharField()
    role = _one_of(ROLES)
    place = serializers.ChoiceField(choices=VolumePlace.choices)
    snapshot_id = _text()
    snapshot_state = serializers.ChoiceField(choices=SNAPSHOT_STATES, allow_null=True)
    export_stopped = serializers.BooleanField()
    vm_device_id = serializers.IntegerField(allow_null=True)


class FailoverRollbackLogEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    done = _strings()
    problems = _strings(help_text="CloudStack leftovers: the job needs cleanup-failed")
    left = _strings(required=False, help_text="What the operator must see to outside CloudStack (absent in entries "
                                              "written before it was recorded)")


class FailoverJobErrorSerializer(serializers.Serializer):
    error_code = _text()
    error_message = _text()


class FailoverJobDetailsSerializer(FailoverVMSerializer, FailoverJobErrorSerializer):
    job_type = _one_of(FailoverType.values)
    destination_vm_id = _text()
    destination_vm_name = _text()
    snapshot_id = _text()
    snapshot_ids = _strings()
    started_at = _when()
    completed_at = _when()
    ended_at = _when()
    custom_config = serializers.DictField(
        help_text="The request's custom_config with network_mappings (and test_duration, auto_cleanup for a test)")


class FailoverJobRecordSerializer(serializers.Serializer):
    """What the status and the debug answers both show of a job."""

    current_step = serializers.CharField()
    needs_cleanup = serializers.BooleanField()
    cleanup_status = serializers.ChoiceField(choices=CLEANUP_STATES, allow_null=True)
    plan = serializers.DictField(help_text="Networks, offering, template, VM name, boot volume; empty before planning")
    volumes = FailoverVolumeSerializer(many=True)
    rollback_log = FailoverRollbackLogEntrySerializer(many=True)
    events = JobEventSerializer(many=True)


class FailoverJobStatusSerializer(SuccessMessageSerializer, FailoverJobRecordSerializer):
    """selectors.job_status."""

    job_id = serializers.CharField()
    status = _one_of(FailoverStatus.values)
    progress = serializers.FloatField()
    start_time = serializers.DateTimeField()
    duration = serializers.IntegerField(help_text="Nanoseconds")
    job_details = FailoverJobDetailsSerializer()
    test_running = serializers.BooleanField()
    cleanup_due_at = _when()
    final_sync_job_id = _text()
    source_powered_off = serializers.BooleanField()
    source_power_result = _text()
    source_powered_off_by_platform = serializers.BooleanField()
    source_power_uncertain = serializers.BooleanField()
    source_power_state_before = _text()
    source_powered_on = serializers.BooleanField()
    source_powered_on_at = _when()
    source_power_on_error = _text()
    requested_by = serializers.CharField()


class FailoverJobSummarySerializer(FailoverVMSerializer):
    """selectors.job_summary."""

    job_id = serializers.CharField()
    job_type = _one_of(FailoverType.values)
    status = _one_of(FailoverStatus.values)
    progress = serializers.FloatField()
    created_at = serializers.DateTimeField()
    started_at = _when()
    completed_at = _when()
    duration = serializers.IntegerField(help_text="Nanoseconds")
    destination_vm_id = _text()


class FailoverJobListSerializer(SuccessMessageSerializer):
    total_jobs = serializers.IntegerField(help_text="Jobs matching the filters")
    returned_jobs = serializers.IntegerField(help_text="Jobs in this page")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    jobs = FailoverJobSummarySerializer(many=True)


class FailoverCloudResourceSerializer(serializers.Serializer):
    kind = _one_of(CloudResourceKind.values)
    resource_id = serializers.CharField()
    name = serializers.CharField()
    parent_id = serializers.CharField(help_text="The VM an attachment belongs to; empty for other kinds")
    state = _one_of(CloudResourceState.values)


class FailoverDebugJobSerializer(FailoverJobSummarySerializer, FailoverJobErrorSerializer, FailoverJobRecordSerializer):
    """selectors.debug_job."""

    cancel_requested = serializers.BooleanField()
    heartbeat_at = _when()
    validation_result = serializers.DictField(help_text="The stored validation result; empty when none ran")
    cloud_resources = FailoverCloudResourceSerializer(many=True)


class FailoverDebugJobListSerializer(SuccessMessageSerializer):
    total_jobs = serializers.IntegerField()
    active_jobs = serializers.IntegerField()
    jobs_needing_cleanup = serializers.IntegerField()
    jobs = FailoverDebugJobSerializer(many=True)


class FailoverRollbackDecisionSerializer(SuccessMessageSerializer):
    """selectors.rollback_decision."""

    vm_name = serializers.CharField()
    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    job_id = _text()
    job_status = _one_of(FailoverStatus.values, allow_null=True)
    rollback_possible = serializers.BooleanField()
    recommended = serializers.BooleanField()
    reason = serializers.CharField()
    actions = _strings()
    source_vm_powered_off = serializers.BooleanField(required=False, help_text="Absent when the VM has no such job")
    source_power_uncertain = serializers.BooleanField(required=False, help_text="Absent when the VM has no such job")


# -- preflight ---------------------------------------------------------------------------------------------


class FailoverPlannedNetworkSerializer(MappingFieldsSerializer):
    """cloud.resolve_networks: a NIC and the CloudStack network it gets."""

    nic = serializers.CharField()

    def get_fields(self):
        # "from" is a Python keyword: it cannot be a class attribute.
        return {**super().get_fields(),
                "from": serializers.ChoiceField(choices=["request", "mapping"],
                                                help_text="request: the request's network_mappings")}


class FailoverPlannedComputeSerializer(serializers.Serializer):
    service_offering_id = serializers.CharField()
    service_offering_name = _text()
    customized = serializers.BooleanField()
    cpu_number = serializers.IntegerField(allow_null=True, help_text="Set for a custom offering only")
    memory_mb = serializers.IntegerField(allow_null=True, help_text="Set for a custom offering only")


class FailoverPlannedTemplateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = _text()


class FailoverPlannedVolumeSerializer(serializers.Serializer):
    disk_id = serializers.CharField()
    role = _one_of(ROLES)
    volume_id = _text()


class FailoverPreflightConfigurationSerializer(serializers.Serializer):
    cloudstack_config = _text()
    networks = FailoverPlannedNetworkSerializer(many=True)
    unmapped_networks = _strings()
    compute = FailoverPlannedComputeSerializer(allow_null=True)
    template = FailoverPlannedTemplateSerializer(allow_null=True)
    destination_vm_name = serializers.CharField()
    volumes = FailoverPlannedVolumeSerializer(many=True)
    snapshots = serializers.CharField()
    power_off_source = serializers.BooleanField(required=False, help_text="Live failovers only")
    final_sync = serializers.BooleanField(required=False, help_text="Live failovers only")
    shutdown_timeout = serializers.IntegerField(required=False, help_text="Live failovers only (seconds)")
    auto_cleanup = serializers.BooleanField(required=False, help_text="Test failovers only")


class FailoverPreflightConfigSerializer(SuccessMessageSerializer, FailoverVMSerializer):
    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    configuration = FailoverPreflightConfigurationSerializer()
    is_ready = serializers.BooleanField()
    readiness_score = serializers.FloatField()
    estimated_duration = serializers.CharField()
    required_actions = _strings()


# -- errors ------------------------------------------------------------------------------------------------


class FailoverRefusalSerializer(ErrorResponseSerializer):
    """The common error shape; a refused failover, cleanup or rollback adds what was refused and what to do."""

    message = serializers.CharField(required=False, help_text='What was refused, e.g. "Failover refused"')
    required_actions = _strings(required=False)
    job_id = serializers.CharField(required=False, help_text="The failover job in the way or refused")
    job_status = _one_of(FailoverStatus.values, required=False)
    validation_result = FailoverValidationResultSerializer(required=False, help_text="When validation refused it")


def refusals(*codes: int) -> dict:
    """Like ``apps.core.api.schemas.errors``: those status codes answer a failover refusal."""
    return dict.fromkeys(codes, FailoverRefusalSerializer)
