"""The waves API's serializers: the create body (VMs, options, hooks), the wave with its VMs, and the answers."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import AnswerSerializer
from apps.failover.services import parse_duration

from ..choices import HookKind, HookStage, WaveKind
from ..models import MAX_CONCURRENT, MAX_HOOK_RETRIES, MAX_HOOK_TIMEOUT, Wave, WaveHook, WaveVM

MAX_VMS_PER_WAVE = 5000


class WaveVMInputSerializer(serializers.Serializer):
    vm = serializers.CharField(max_length=255, help_text="VM name or context id")
    depends_on = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list,
                                       max_length=100, help_text="VM names of this wave that must complete first")
    test_first = serializers.BooleanField(required=False)
    power_off_source = serializers.BooleanField(required=False)
    keep_macs = serializers.BooleanField(required=False)
    final_sync = serializers.BooleanField(required=False)


class HookInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    stage = serializers.ChoiceField(choices=HookStage.choices)
    kind = serializers.ChoiceField(choices=HookKind.choices)
    url = serializers.URLField(required=False, max_length=2000, help_text="webhook: where the JSON is POSTed")
    secret = serializers.CharField(required=False, allow_blank=True, max_length=500, write_only=True,
                                   help_text="webhook: HMAC-SHA256 key of the X-MP-Signature header (never shown)")
    command = serializers.ListField(child=serializers.CharField(max_length=4096), required=False, max_length=100,
                                    help_text="command: argv, run without a shell; the facts come on stdin")
    timeout_seconds = serializers.IntegerField(required=False, default=30, min_value=1, max_value=MAX_HOOK_TIMEOUT)
    retries = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_HOOK_RETRIES)

    def validate(self, attrs):
        if attrs["kind"] == HookKind.WEBHOOK and not attrs.get("url"):
            raise serializers.ValidationError({"url": "A webhook needs a url."})
        if attrs["kind"] == HookKind.COMMAND and not attrs.get("command"):
            raise serializers.ValidationError({"command": "A command hook needs command (argv)."})
        return attrs


class WaveInputSerializer(serializers.Serializer):
    """POST /waves: a machine group (group_id) or a list of VMs (vms), or both (vms then give options by name)."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=WaveKind.choices, required=False, default=WaveKind.CUTOVER)
    group_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    vms = WaveVMInputSerializer(many=True, required=False, max_length=MAX_VMS_PER_WAVE)
    window_start = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now")
    deadline = serializers.DateTimeField(help_text="No VM starts after this")
    max_concurrent = serializers.IntegerField(required=False, default=2, min_value=1, max_value=MAX_CONCURRENT)
    test_duration = serializers.CharField(required=False, default="4h", max_length=32,
                                          help_text='Test failovers (rehearsal, test first) run at most this: "2h"')
    hooks = HookInputSerializer(many=True, required=False, max_length=50)

    def validate_test_duration(self, value):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if not 60 <= seconds <= 7 * 24 * 3600:
            raise serializers.ValidationError("must be between 1m and 168h")
        return value


class CancelWaveSerializer(serializers.Serializer):
    stop_running = serializers.BooleanField(required=False, default=False,
                                            help_text="Also roll back the failovers already going (default: let them "
                                                      "end); a rehearsal always ends its test failovers")


class ScheduleWaveSerializer(serializers.Serializer):
    window_start = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now")
    deadline = serializers.DateTimeField(help_text="No VM starts after this")


class RehearsalSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=255,
                                 help_text='Default: "<wave> rehearsal <n>"')


class HookSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="webhook: where it POSTs; empty for a command")
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = WaveHook
        fields = ["id", "name", "stage", "kind", "url", "command", "timeout_seconds", "retries", "has_secret"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)


class WaveVMSerializer(serializers.ModelSerializer):
    context_id = serializers.CharField(source="vm_context.context_id", read_only=True, default=None,
                                            allow_null=True)
    failover_job_id = serializers.CharField(source="failover_job.job_id", read_only=True, default=None,
                                            allow_null=True)
    failover_status = serializers.CharField(source="failover_job.status", read_only=True, default=None,
                                            allow_null=True)
    test_job_id = serializers.CharField(source="test_job.job_id", read_only=True, default=None,
                                            allow_null=True)
    test_status = serializers.CharField(source="test_job.status", read_only=True, default=None,
                                            allow_null=True)

    class Meta:
        model = WaveVM
        fields = ["id", "context_id", "vm_name", "position", "depends_on", "test_first", "power_off_source",
                  "keep_macs", "final_sync", "status", "reason", "failover_job_id", "failover_status", "test_job_id",
                  "test_status", "hook_log", "started_at", "finished_at"]


class WaveSerializer(serializers.ModelSerializer):
    group_id = serializers.IntegerField(read_only=True, allow_null=True)
    rehearsal_of_id = serializers.IntegerField(read_only=True, allow_null=True)
    vm_count = serializers.IntegerField(read_only=True)
    vms_completed = serializers.IntegerField(read_only=True)
    vms_failed = serializers.IntegerField(read_only=True)
    vms_skipped = serializers.IntegerField(read_only=True)
    vms_running = serializers.IntegerField(read_only=True)

    class Meta:
        model = Wave
        fields = ["id", "name", "description", "kind", "status", "group_id", "rehearsal_of_id", "window_start",
                  "deadline", "max_concurrent", "test_duration", "vm_count", "vms_completed", "vms_failed",
                  "vms_skipped", "vms_running", "started_at", "completed_at", "summary", "created_by", "created_at",
                  "updated_at"]


class WaveDetailSerializer(WaveSerializer):
    vms = WaveVMSerializer(many=True, read_only=True, source="ordered_vms")
    hooks = HookSerializer(many=True, read_only=True)

    class Meta(WaveSerializer.Meta):
        fields = [*WaveSerializer.Meta.fields, "vms", "hooks"]


class WaveAnswerSerializer(AnswerSerializer):
    """Create, start-now, cancel, rollback, rehearsal."""

    wave = WaveSerializer(source="*")
