"""What the failover, rollback and network-mapping endpoints take: the request bodies and their checks."""
from __future__ import annotations

from rest_framework import serializers

from ...choices import FailoverType
from ...services import MAX_TEST_DURATION, parse_duration

NOTIFICATION_KEYS = ("email", "webhook_url", "webhook", "slack_webhook")
CUSTOM_STRING_KEYS = ("service_offering_id", "template_id", "vm_name")


def duration_seconds(value: str) -> int:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise serializers.ValidationError(str(exc)) from None
    if not 60 <= seconds <= MAX_TEST_DURATION:
        raise serializers.ValidationError("must be between 1m and 168h")
    return seconds


class NotificationConfigSerializer(serializers.Serializer):
    email = serializers.JSONField(required=False, help_text="An address or a list of addresses")
    webhook_url = serializers.URLField(required=False, max_length=2000)
    webhook = serializers.URLField(required=False, max_length=2000)
    slack_webhook = serializers.URLField(required=False, max_length=2000)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(NOTIFICATION_KEYS))
            if unknown:
                raise serializers.ValidationError(
                    f"unknown key(s) {', '.join(unknown)}; use {', '.join(NOTIFICATION_KEYS)}")
        return super().to_internal_value(data)

    def validate_email(self, value):
        emails = [value] if isinstance(value, str) else value
        if not isinstance(emails, list) or not emails or not all(isinstance(e, str) for e in emails):
            raise serializers.ValidationError("an email address or a list of them")
        field = serializers.EmailField()
        return [field.run_validation(email) for email in emails]


class FailoverRequestSerializer(serializers.Serializer):
    vm_id = serializers.CharField(required=False, max_length=128, help_text="VMware VM id (or VM name, context id)")
    vm_name = serializers.CharField(required=False, max_length=255)
    skip_validation = serializers.BooleanField(default=False)
    network_mappings = serializers.DictField(child=serializers.CharField(max_length=255), required=False, default=dict,
                                             help_text="source network name -> CloudStack network id (or name)")
    custom_config = serializers.DictField(required=False, default=dict)
    notification_config = NotificationConfigSerializer(required=False)

    def validate_custom_config(self, value):
        for key in CUSTOM_STRING_KEYS:
            if key in value and (not isinstance(value[key], str) or not value[key].strip() or "~" in value[key]):
                raise serializers.ValidationError(f"{key} must be a non-empty string")
        return value

    def validate(self, attrs):
        if not attrs.get("vm_id") and not attrs.get("vm_name"):
            raise serializers.ValidationError({"vm_id": "This field is required (or give vm_name)."})
        return attrs


class TestFailoverSerializer(FailoverRequestSerializer):
    test_duration = serializers.CharField(max_length=32, help_text='e.g. "30m", "2h", "4h30m"')
    auto_cleanup = serializers.BooleanField(default=False)

    def validate_test_duration(self, value):
        duration_seconds(value)
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["test_duration_seconds"] = duration_seconds(attrs["test_duration"])
        return attrs


class LiveFailoverSerializer(FailoverRequestSerializer):
    power_off_source = serializers.BooleanField(
        default=True, help_text="Shut the source VM down through the agent (guest shutdown, then power off)")
    final_sync = serializers.BooleanField(default=True, help_text="Run a last incremental sync before the cut-over")
    shutdown_timeout = serializers.IntegerField(default=300, min_value=0, max_value=3600,
                                                help_text="Seconds of guest shutdown before a hard power-off")


class UnifiedFailoverSerializer(LiveFailoverSerializer):
    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    test_duration = serializers.CharField(max_length=32, required=False)
    auto_cleanup = serializers.BooleanField(default=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["failover_type"] == FailoverType.TEST:
            if not attrs.get("test_duration"):
                raise serializers.ValidationError({"test_duration": "This field is required for a test failover."})
            attrs["test_duration_seconds"] = duration_seconds(attrs["test_duration"])
        return attrs

    def validate_test_duration(self, value):
        duration_seconds(value)
        return value


class PreflightValidateSerializer(serializers.Serializer):
    vm_id = serializers.CharField(required=False, max_length=128)
    vm_name = serializers.CharField(required=False, max_length=255)
    failover_type = serializers.ChoiceField(choices=FailoverType.choices, default=FailoverType.LIVE)
    network_mappings = serializers.DictField(child=serializers.CharField(max_length=255), required=False, default=dict)
    custom_config = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        if not attrs.get("vm_id") and not attrs.get("vm_name"):
            raise serializers.ValidationError({"vm_id": "This field is required (or give vm_name)."})
        return attrs


class RollbackSerializer(serializers.Serializer):
    job_id = serializers.CharField(required=False, max_length=160)
    vm_id = serializers.CharField(required=False, max_length=128)
    vm_name = serializers.CharField(required=False, max_length=255)
    failover_type = serializers.ChoiceField(choices=FailoverType.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    def validate(self, attrs):
        if not attrs.get("job_id") and not (attrs.get("vm_id") or attrs.get("vm_name")):
            raise serializers.ValidationError({"job_id": "Give job_id, or vm_id / vm_name (with failover_type)."})
        return attrs


class NetworkMappingSerializer(serializers.Serializer):
    vm_id = serializers.CharField(max_length=128)
    source_network_name = serializers.CharField(max_length=255)
    destination_network_id = serializers.CharField(max_length=64)
    destination_network_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    is_test_network = serializers.BooleanField(default=False)


class MappingItemSerializer(serializers.Serializer):
    source_network_name = serializers.CharField(max_length=255)
    destination_network_id = serializers.CharField(max_length=64)
    destination_network_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    is_test_network = serializers.BooleanField(default=False)


class MappingsPutSerializer(serializers.Serializer):
    mappings = MappingItemSerializer(many=True, allow_empty=False)
