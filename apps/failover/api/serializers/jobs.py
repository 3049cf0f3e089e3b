"""What the failover job endpoints answer, rendered from the job rows (and what a refused request answers)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import IsoDateTimeField
from apps.core.api.schemas import ErrorResponseSerializer, JobEventSerializer
from apps.core.api.serializers import AnswerSerializer, Plain, PlainSerializer
from apps.settings.choices import CloudResourceKind, CloudResourceState

from ... import selectors
from ...choices import CleanupStatus, FailoverStatus, FailoverType, SnapshotState, VolumePlace
from .fields import (
    ChoiceOrNullField,
    OptionalBooleanField,
    ProgressField,
    TextOrNullField,
    one_of,
    strings,
    text,
    when,
)
from .readiness import FailoverJobRefSerializer, FailoverValidationResultSerializer

CLEANUP_STATES = [value for value in CleanupStatus.values if value]
SNAPSHOT_STATES = [value for value in SnapshotState.values if value]
ROLES = ["root", "data"]
TEST_ONLY = ("test_duration", "auto_cleanup")
LIVE_ONLY = ("power_off_source", "final_sync")


# -- started, cleanup and rollback -------------------------------------------------------------------------


class FailoverStartedDataSerializer(serializers.Serializer):
    """The job as started; a test shows its duration and cleanup, a live failover its power-off and final sync."""

    job_type = one_of(FailoverType.values)
    status = one_of(FailoverStatus.values)
    vm_id = serializers.CharField(source="vm_context.vm_id")
    vm_name = serializers.CharField(source="vm_context.vm_name")
    test_duration = serializers.CharField(required=False, help_text="Test failovers only")
    auto_cleanup = serializers.BooleanField(required=False, help_text="Test failovers only")
    power_off_source = serializers.BooleanField(required=False, help_text="Live failovers only")
    final_sync = serializers.BooleanField(required=False, help_text="Live failovers only")

    def to_representation(self, job):
        data = super().to_representation(job)
        for key in LIVE_ONLY if job.job_type == FailoverType.TEST else TEST_ONLY:
            data.pop(key)
        return data


class FailoverStartedSerializer(AnswerSerializer):
    """A failover job was queued."""

    # The instance holds the job ("job") and its estimated duration.
    job_id = serializers.CharField(source="job.job_id")
    estimated_duration = serializers.CharField()
    data = FailoverStartedDataSerializer(source="job")


class FailoverCleanupStartedSerializer(AnswerSerializer):
    """A cleanup was queued for the job."""

    job_id = serializers.CharField()
    cleanup_status = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=CLEANUP_STATES))
    def get_cleanup_status(self, job) -> str:
        # The answer confirms a queued cleanup, which may not have marked the row yet.
        return CleanupStatus.IN_PROGRESS.value


class TestFailoverCleanupStartedSerializer(FailoverCleanupStartedSerializer):
    estimated_cleanup_time = serializers.SerializerMethodField()

    def get_estimated_cleanup_time(self, job) -> str:
        return "2-5 minutes"


class FailoverRollbackStartedSerializer(AnswerSerializer, FailoverJobRefSerializer):
    """A rollback was queued: the job it acts on."""


# -- a job: status, list, debug ----------------------------------------------------------------------------


class FailoverVolumeSerializer(PlainSerializer):
    """A replica volume as the job moved it."""

    plain = Plain("disk_id disk_unit_number:int volume_id volume_name")
    role = serializers.SerializerMethodField()
    place = serializers.ChoiceField(choices=VolumePlace.choices)
    snapshot_id = TextOrNullField()
    snapshot_state = ChoiceOrNullField(choices=SNAPSHOT_STATES)
    plain_tail = Plain("export_stopped:bool vm_device_id:int?")

    @extend_schema_field(one_of(ROLES))
    def get_role(self, volume) -> str:
        return "root" if volume.is_root else "data"


class FailoverRollbackLogEntrySerializer(serializers.Serializer):
    at = IsoDateTimeField()
    action = serializers.CharField()
    done = strings()
    problems = strings(help_text="CloudStack leftovers: the job needs cleanup-failed")
    left = strings(required=False, help_text="What the operator must see to outside CloudStack (absent in entries "
                                             "written before it was recorded)")


class FailoverJobDetailsSerializer(PlainSerializer):
    job_type = one_of(FailoverType.values)
    vm_id = serializers.CharField(source="vm_context.vm_id")
    vm_name = serializers.CharField(source="vm_context.vm_name")
    destination_vm_id = TextOrNullField()
    destination_vm_name = TextOrNullField()
    snapshot_id = serializers.SerializerMethodField()
    snapshot_ids = serializers.SerializerMethodField()
    error_message = TextOrNullField()
    error_code = TextOrNullField()
    plain = Plain("started_at:datetime? completed_at:datetime? ended_at:datetime?")
    custom_config = serializers.SerializerMethodField(
        help_text="The request's custom_config with network_mappings (and test_duration, auto_cleanup for a test)")

    @extend_schema_field(text())
    def get_snapshot_id(self, job) -> str | None:
        ids = selectors.snapshot_ids(job)
        return ids[0] if ids else None

    @extend_schema_field(strings())
    def get_snapshot_ids(self, job) -> list[str]:
        return selectors.snapshot_ids(job)

    @extend_schema_field(serializers.DictField())
    def get_custom_config(self, job) -> dict:
        return selectors.custom_config(job)


# What `state` adds to seed 003's status values: a test failover's VM running (its status stays "completed", as the
# seed defines it) and a test failover that was ended.
TEST_STATES = ("test_running", "test_ended")


def job_state(job) -> str:
    """The job's status, telling a running test failover (and an ended one) from a finished failover."""
    if job.job_type == FailoverType.TEST and job.status == FailoverStatus.COMPLETED:
        return "test_ended" if job.ended_at else "test_running"
    return job.status


def duration_seconds(job) -> float:
    return round(selectors.duration_ns(job) / 1_000_000_000, 3)


class JobTimingMixin(serializers.Serializer):
    """How long a job took and its state, as the job's status and its list item both answer them."""

    def get_duration(self, job) -> int:
        return selectors.duration_ns(job)

    def get_duration_seconds(self, job) -> float:
        return duration_seconds(job)

    @extend_schema_field(one_of([*FailoverStatus.values, *TEST_STATES]))
    def get_state(self, job) -> str:
        return job_state(job)


class JobRecordMixin(serializers.Serializer):
    """The volumes and events of a job, read through the selectors."""

    event_limit = 100

    @extend_schema_field(FailoverVolumeSerializer(many=True))
    def get_volumes(self, job):
        return FailoverVolumeSerializer(selectors.job_volumes(job), many=True).data

    @extend_schema_field(JobEventSerializer(many=True))
    def get_events(self, job):
        return JobEventSerializer(selectors.events(job, self.event_limit), many=True).data


class FailoverJobStatusSerializer(JobRecordMixin, JobTimingMixin, AnswerSerializer):
    """GET /failover/{job_id}/status: the job's status and progress, its step, volumes, rollback record and events."""

    job_id = serializers.CharField()
    status = one_of(FailoverStatus.values)
    state = serializers.SerializerMethodField()
    progress = ProgressField(help_text="Percent, the name existing clients read; progress_percent is the same")
    progress_percent = ProgressField(source="progress")
    current_step = serializers.CharField()
    start_time = serializers.SerializerMethodField()
    duration = serializers.SerializerMethodField(help_text="Nanoseconds (existing clients read it); see duration_seconds")
    duration_seconds = serializers.SerializerMethodField()
    job_details = FailoverJobDetailsSerializer(source="*")
    test_running = serializers.BooleanField()
    cleanup_status = ChoiceOrNullField(choices=CLEANUP_STATES)
    needs_cleanup = serializers.BooleanField()
    cleanup_due_at = when()
    final_sync_job_id = TextOrNullField()
    source_powered_off = serializers.SerializerMethodField()
    source_power_result = TextOrNullField()
    source_powered_off_by_platform = serializers.BooleanField()
    source_power_uncertain = serializers.BooleanField()
    source_power_state_before = TextOrNullField()
    source_powered_on = serializers.SerializerMethodField()
    source_powered_on_at = when()
    source_power_on_error = TextOrNullField()
    requested_by = serializers.CharField()
    plan = serializers.DictField(help_text="Networks, offering, template, VM name, boot volume; empty before planning")
    conversion = serializers.DictField(
        help_text="The guest conversion (virt-v2v-in-place): status (attaching, converting, converted, failed, "
                  "skipped), reason, started_at, finished_at, seconds, error, log (the tool's output, its last 64 KiB); "
                  "empty before the step")
    boot_verification = serializers.DictField(
        help_text="Whether the started guest answered: status (waiting, booted, not_answering, skipped), booted, "
                  "seconds after the start, target (host:port), greeting, attempts, last_lines, timeout, reason")
    volumes = serializers.SerializerMethodField()
    rollback_log = FailoverRollbackLogEntrySerializer(many=True)
    events = serializers.SerializerMethodField()

    @extend_schema_field(IsoDateTimeField())
    def get_start_time(self, job):
        return IsoDateTimeField().to_representation(job.started_at or job.created_at)

    def get_source_powered_off(self, job) -> bool:
        return job.source_powered_off_at is not None

    def get_source_powered_on(self, job) -> bool:
        return job.source_powered_on_at is not None


class FailoverJobSummarySerializer(JobTimingMixin, serializers.Serializer):
    """An item of GET /failover/jobs."""

    job_id = serializers.CharField()
    vm_id = serializers.CharField(source="vm_context.vm_id")
    vm_name = serializers.CharField(source="vm_context.vm_name")
    job_type = one_of(FailoverType.values)
    status = one_of(FailoverStatus.values)
    state = serializers.SerializerMethodField()
    progress = ProgressField(help_text="Percent, the name existing clients read; progress_percent is the same")
    progress_percent = ProgressField(source="progress")
    created_at = IsoDateTimeField()
    started_at = when()
    completed_at = when()
    duration = serializers.SerializerMethodField(help_text="Nanoseconds (existing clients read it); see duration_seconds")
    duration_seconds = serializers.SerializerMethodField()
    destination_vm_id = TextOrNullField()


class FailoverJobListSerializer(AnswerSerializer):
    """A page of failover jobs."""

    # The instance is a views.Page.
    total_jobs = serializers.IntegerField(source="total", help_text="Jobs matching the filters")
    returned_jobs = serializers.IntegerField(source="returned", help_text="Jobs in this page")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    jobs = FailoverJobSummarySerializer(many=True, source="items")


class FailoverCloudResourceSerializer(PlainSerializer):
    kind = one_of(CloudResourceKind.values)
    plain = Plain("resource_id name")
    parent_id = serializers.CharField(help_text="The VM an attachment belongs to; empty for other kinds")
    state = one_of(CloudResourceState.values)


class FailoverDebugJobSerializer(JobRecordMixin, FailoverJobSummarySerializer):
    """A job with everything the runner recorded."""

    event_limit = 200

    current_step = serializers.CharField()
    error_code = TextOrNullField()
    error_message = TextOrNullField()
    cancel_requested = serializers.BooleanField()
    needs_cleanup = serializers.BooleanField()
    cleanup_status = ChoiceOrNullField(choices=CLEANUP_STATES)
    heartbeat_at = when()
    plan = serializers.DictField(help_text="Networks, offering, template, VM name, boot volume; empty before planning")
    validation_result = serializers.DictField(help_text="The stored validation result; empty when none ran")
    volumes = serializers.SerializerMethodField()
    cloud_resources = serializers.SerializerMethodField()
    rollback_log = FailoverRollbackLogEntrySerializer(many=True)
    events = serializers.SerializerMethodField()

    @extend_schema_field(FailoverCloudResourceSerializer(many=True))
    def get_cloud_resources(self, job):
        return FailoverCloudResourceSerializer(selectors.cloud_resources(job), many=True).data


class FailoverDebugJobListSerializer(AnswerSerializer):
    """A page of failover jobs with what the runner recorded, and how many are active or need cleanup."""

    total_jobs = serializers.IntegerField(source="total")
    active_jobs = serializers.IntegerField()
    jobs_needing_cleanup = serializers.IntegerField()
    jobs = FailoverDebugJobSerializer(many=True, source="items")


class FailoverRollbackDecisionSerializer(AnswerSerializer):
    """Whether the VM's latest failover of a type can be rolled back, and what the rollback would do."""

    # The instance is a selectors.RollbackDecision.

    vm_name = serializers.CharField()
    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    job_id = text()
    job_status = one_of(FailoverStatus.values, allow_null=True)
    rollback_possible = serializers.BooleanField()
    recommended = serializers.BooleanField()
    reason = serializers.CharField()
    actions = strings()
    source_vm_powered_off = OptionalBooleanField(help_text="Absent when the VM has no such job")
    source_power_uncertain = OptionalBooleanField(help_text="Absent when the VM has no such job")


# -- errors ------------------------------------------------------------------------------------------------


class FailoverRefusalSerializer(ErrorResponseSerializer):
    """The common error shape; a refused failover, cleanup or rollback adds what was refused and what to do."""

    # The exception handler in apps.core renders it from the refusal; this class documents it.

    message = serializers.CharField(required=False, help_text='What was refused, e.g. "Failover refused"')
    required_actions = strings(required=False)
    job_id = serializers.CharField(required=False, help_text="The failover job in the way or refused")
    job_status = one_of(FailoverStatus.values, required=False)
    validation_result = FailoverValidationResultSerializer(required=False, help_text="When validation refused it")


def refusals(*codes: int) -> dict:
    """Like ``apps.core.api.schemas.errors``: those status codes answer a failover refusal."""
    return dict.fromkeys(codes, FailoverRefusalSerializer)
