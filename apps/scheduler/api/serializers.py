"""The scheduler API's serializers: the request bodies, the schedules, runs, groups and assignments, and the
answers of the actions, each rendered by the serializer the OpenAPI schema shows."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import AnswerSerializer, Plain, PlainSerializer, plain_answer
from apps.inventory.models import VMContext

from .. import timing
from ..choices import RunningVMPolicy
from ..models import (
    MAX_CONCURRENT_LIMIT,
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    ExecutionVM,
    MachineGroup,
    ScheduleExecution,
    SyncSchedule,
    VMGroupMembership,
)

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
MAX_VMS_PER_REQUEST = 5000


# --- schedules ---------------------------------------------------------------------------------------------------

class ScheduleInputSerializer(serializers.Serializer):
    """POST /schedules body; PUT takes any subset of it."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="")
    cron_expression = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255,
                                            help_text="e.g. '0 2 * * *' or '@daily'; or give interval_seconds")
    interval_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=MIN_INTERVAL_SECONDS,
                                                max_value=MAX_INTERVAL_SECONDS)
    timezone = serializers.CharField(required=False, default="UTC", max_length=64)
    window_start = serializers.TimeField(required=False, allow_null=True, input_formats=TIME_FORMATS,
                                         help_text="HH:MM local time; syncs only start inside the window")
    window_end = serializers.TimeField(required=False, allow_null=True, input_formats=TIME_FORMATS)
    max_concurrent_jobs = serializers.IntegerField(required=False, default=5, min_value=1,
                                                   max_value=MAX_CONCURRENT_LIMIT)
    running_vm_policy = serializers.ChoiceField(choices=RunningVMPolicy.choices, required=False,
                                                default=RunningVMPolicy.SKIP)
    max_retries = serializers.IntegerField(required=False, default=1, min_value=0, max_value=10)
    retry_delay_seconds = serializers.IntegerField(required=False, default=300, min_value=0, max_value=24 * 3600)
    enabled = serializers.BooleanField(required=False, default=True)

    def validate_cron_expression(self, value):
        if value:
            try:
                timing.parse_cron(value)
            except ValueError as exc:
                raise serializers.ValidationError(f"Invalid cron expression: {exc}") from exc
        return value

    def validate_timezone(self, value):
        try:
            timing.zone(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate(self, attrs):
        cron, interval = attrs.get("cron_expression"), attrs.get("interval_seconds")
        if cron and interval is not None:
            raise serializers.ValidationError({"cron_expression": "Give a cron expression or an interval, not both."})
        if not self.partial and not cron and interval is None:
            raise serializers.ValidationError(
                {"cron_expression": "A schedule needs a cron expression or interval_seconds."})
        return attrs


class EnableSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, default=True)


class TriggerSerializer(serializers.Serializer):
    ignore_window = serializers.BooleanField(required=False, default=False,
                                             help_text="Start now even outside the sync window")


class GroupRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = MachineGroup
        fields = ["id", "name", "priority"]


class ScheduleSerializer(serializers.ModelSerializer):
    window_start = serializers.TimeField(format="%H:%M", read_only=True, allow_null=True)
    window_end = serializers.TimeField(format="%H:%M", read_only=True, allow_null=True)
    timing_description = serializers.CharField(read_only=True)
    next_run_at = serializers.SerializerMethodField()
    group_count = serializers.IntegerField(read_only=True, default=0)
    vm_count = serializers.IntegerField(read_only=True, default=0)
    active_execution_id = serializers.CharField(read_only=True, default=None, allow_null=True)
    periodic_task = serializers.CharField(source="periodic_task.name", read_only=True, default=None, allow_null=True)
    groups = GroupRefSerializer(many=True, read_only=True)

    class Meta:
        model = SyncSchedule
        fields = ["id", "name", "description", "schedule_type", "cron_expression", "interval_seconds", "timezone",
                  "timing_description", "window_start", "window_end", "max_concurrent_jobs", "running_vm_policy",
                  "max_retries", "retry_delay_seconds", "enabled", "next_run_at", "last_triggered_at",
                  "active_execution_id", "group_count", "vm_count", "groups", "periodic_task", "created_by",
                  "created_at", "updated_at"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_run_at(self, obj):
        when = timing.next_run_at(obj.periodic_task, timezone.now())
        return serializers.DateTimeField().to_representation(when) if when else None


# --- executions --------------------------------------------------------------------------------------------------

class ExecutionSerializer(serializers.ModelSerializer):
    schedule_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="null once the schedule is deleted")
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = ScheduleExecution
        fields = ["id", "execution_id", "schedule_id", "schedule_name", "trigger", "triggered_by", "status",
                  "ignore_window", "deferred_until", "started_at", "completed_at", "duration_seconds",
                  "vms_considered", "vms_started", "vms_queued", "vms_running", "vms_succeeded", "vms_failed",
                  "vms_skipped", "vms_cancelled", "bytes_transferred", "summary", "created_at", "updated_at"]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, obj):
        if obj.started_at is None:
            return None
        return round(((obj.completed_at or timezone.now()) - obj.started_at).total_seconds(), 3)


ExecutionJobSerializer = plain_answer("ExecutionJobSerializer", "job_id status replication_type progress_percent:float "
                                                                "bytes_transferred:int attempt:int error_message")


class ExecutionVMSerializer(serializers.ModelSerializer):
    context_id = serializers.CharField(source="vm_context.context_id", read_only=True, default=None)
    replication_job = ExecutionJobSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ExecutionVM
        fields = ["context_id", "vm_name", "group_id", "group_name", "position", "status", "reason", "attempts",
                  "not_before", "bytes_transferred", "started_at", "finished_at", "replication_job"]


class CancelExecutionSerializer(serializers.Serializer):
    cancel_running = serializers.BooleanField(required=False, default=False,
                                              help_text="Also cancel the syncs already going (default: let them end)")


# --- machine groups and assignments ------------------------------------------------------------------------------

class MachineGroupInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="")
    priority = serializers.IntegerField(required=False, default=100, min_value=0, max_value=1_000_000)
    schedule_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)


class ScheduleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncSchedule
        fields = ["id", "name", "enabled"]


class MachineGroupSerializer(serializers.ModelSerializer):
    schedule_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="null when no schedule runs it")
    schedule = ScheduleRefSerializer(read_only=True, allow_null=True)
    vm_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = MachineGroup
        fields = ["id", "name", "description", "priority", "schedule_id", "schedule", "vm_count", "created_by",
                  "created_at", "updated_at"]


class VMSelectionSerializer(serializers.Serializer):
    vm_context_ids = serializers.ListField(child=serializers.CharField(max_length=128), required=False, default=list,
                                           max_length=MAX_VMS_PER_REQUEST, help_text="context ids (ctx-...)")
    vm_names = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                     max_length=MAX_VMS_PER_REQUEST)

    def validate(self, attrs):
        if not attrs["vm_context_ids"] and not attrs["vm_names"]:
            raise serializers.ValidationError({"vm_context_ids": "Give vm_context_ids and/or vm_names (non-empty)."})
        return attrs


class AssignSerializer(VMSelectionSerializer):
    group_id = serializers.IntegerField(min_value=1)


class MoveSerializer(VMSelectionSerializer):
    target_group_id = serializers.IntegerField(min_value=1)


class GroupVMSerializer(serializers.ModelSerializer):
    assigned_at = serializers.DateTimeField(read_only=True)
    assigned_by = serializers.CharField(read_only=True)
    active_job_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = VMContext
        fields = ["context_id", "vm_name", "vm_id", "current_status", "power_state", "last_sync_at",
                  "last_successful_job_id", "active_job_id", "assigned_at", "assigned_by"]


class AssignmentSerializer(serializers.ModelSerializer):
    context_id = serializers.CharField(source="vm_context.context_id", read_only=True)
    vm_name = serializers.CharField(source="vm_context.vm_name", read_only=True)
    current_status = serializers.CharField(source="vm_context.current_status", read_only=True)
    group_id = serializers.IntegerField(read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    schedule_id = serializers.IntegerField(source="group.schedule_id", read_only=True, allow_null=True)
    assigned_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = VMGroupMembership
        fields = ["context_id", "vm_name", "current_status", "group_id", "group_name", "schedule_id", "assigned_at",
                  "assigned_by"]



# --- the answers of the actions ----------------------------------------------------------------------------------

class ScheduleEnabledSerializer(AnswerSerializer):
    # The instance is the schedule, as selectors.schedules() annotates it.
    schedule = ScheduleSerializer(source="*")


class ExecutionAnswerSerializer(AnswerSerializer):
    """Trigger (202) and cancel (200) of a run."""

    execution = ExecutionSerializer(source="*")


class VMRefSerializer(PlainSerializer):
    """A VM by context id and name."""

    plain = Plain("context_id vm_name")


class AssignedSerializer(AnswerSerializer):
    # The instance is a services.AssignmentResult.
    group_id = serializers.IntegerField(source="group.pk")
    assigned = VMRefSerializer(many=True)
    already_in_group = VMRefSerializer(many=True)


class UnassignedSerializer(AnswerSerializer):
    # The instance holds the group ("group") and the VM context ("vm").
    group_id = serializers.IntegerField(source="group.pk", help_text="The group the VM left")
    context_id = serializers.CharField(source="vm.context_id")
    vm_name = serializers.CharField(source="vm.vm_name")


class MovedVMSerializer(serializers.Serializer):
    """A VM and the group it left."""

    # The instance is a services.MovedVM.

    context_id = serializers.CharField(source="vm.context_id")
    vm_name = serializers.CharField(source="vm.vm_name")
    from_group_id = serializers.IntegerField(source="from_group.pk")
    from_group_name = serializers.CharField(source="from_group.name")


class MovedSerializer(AnswerSerializer):
    # The instance is a services.MoveResult.
    target_group_id = serializers.IntegerField(source="target.pk")
    moved = MovedVMSerializer(many=True)
    assigned = VMRefSerializer(many=True, help_text="VMs that were in no group")
    unchanged = VMRefSerializer(many=True, help_text="VMs already in the target group")
