"""What a failover would use before it runs (GET /failover/preflight/config/...): its networks, offering, template,
volumes and options, beside the readiness result."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import AnswerSerializer

from ...choices import FailoverType
from .fields import OptionalBooleanField, OptionalIntegerField, one_of, strings, text
from .jobs import ROLES
from .mappings import MappingFieldsSerializer


class FailoverPlannedNetworkSerializer(MappingFieldsSerializer):
    """cloud.resolve_networks: a NIC and the CloudStack network it gets."""

    nic = serializers.CharField()

    def get_fields(self):
        # "from" is a Python keyword: it cannot be a class attribute; the keys keep resolve_networks' order.
        fields = super().get_fields()
        fields["from"] = serializers.ChoiceField(choices=["request", "mapping"],
                                                 help_text="request: the request's network_mappings")
        order = ["nic", "source_network_name", "destination_network_id", "destination_network_name", "from",
                 "is_test_network"]
        return {name: fields[name] for name in order}


class FailoverPlannedComputeSerializer(serializers.Serializer):
    service_offering_id = serializers.CharField()
    service_offering_name = text()
    customized = serializers.BooleanField()
    cpu_number = serializers.IntegerField(allow_null=True, help_text="Set for a custom offering only")
    memory_mb = serializers.IntegerField(allow_null=True, help_text="Set for a custom offering only")


class FailoverPlannedTemplateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = text()


class FailoverPlannedVolumeSerializer(serializers.Serializer):
    disk_id = serializers.CharField()
    role = one_of(ROLES)
    volume_id = text()


class FailoverPreflightConfigurationSerializer(serializers.Serializer):
    """What a failover would use (selectors.PreflightConfiguration); the options of the other type are absent."""

    cloudstack_config = text()
    networks = FailoverPlannedNetworkSerializer(many=True)
    unmapped_networks = strings()
    compute = FailoverPlannedComputeSerializer(allow_null=True)
    template = FailoverPlannedTemplateSerializer(allow_null=True)
    destination_vm_name = serializers.CharField()
    volumes = FailoverPlannedVolumeSerializer(many=True)
    snapshots = serializers.CharField()
    power_off_source = OptionalBooleanField(help_text="Live failovers only")
    final_sync = OptionalBooleanField(help_text="Live failovers only")
    shutdown_timeout = OptionalIntegerField(help_text="Live failovers only (seconds)")
    auto_cleanup = OptionalBooleanField(help_text="Test failovers only")


class FailoverPreflightConfigSerializer(AnswerSerializer):
    """What a failover of this type would use, and whether it can run."""

    # The instance holds the VM ("vm"), the type, the configuration and the validation result ("result").
    vm_id = serializers.CharField(source="vm.vm_id")
    vm_name = serializers.CharField(source="vm.vm_name")
    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    configuration = FailoverPreflightConfigurationSerializer()
    is_ready = serializers.BooleanField(source="result.is_ready")
    readiness_score = serializers.FloatField(source="result.readiness_score")
    estimated_duration = serializers.CharField(source="result.estimated_duration")
    required_actions = strings(source="result.required_actions")
