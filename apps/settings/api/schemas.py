"""Documentation serializers: the CloudStack and settings answers the views build as plain dicts (OpenAPI only)."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.schemas import SuccessMessageSerializer

from .serializers import OsseaConfigSerializer

RAW = "CloudStack's own records, as its API lists them"


class ConnectionDetailsSerializer(serializers.Serializer):
    zones_found = serializers.IntegerField()
    zone_verified = serializers.CharField(allow_null=True, help_text="The zone's name when the given zone exists")
    api_accessible = serializers.BooleanField()


class ConnectionTestSerializer(SuccessMessageSerializer):
    details = ConnectionDetailsSerializer()


class OmaVmSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_null=True)
    mac_addresses = serializers.ListField(child=serializers.CharField(allow_null=True))


class DetectOmaVmAnswerSerializer(SuccessMessageSerializer):
    oma_vm = OmaVmSerializer()
    saved = serializers.BooleanField(help_text="The id was stored in the configuration (save=true and it changed)")


class NetworkSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    zone_id = serializers.CharField(allow_null=True)
    zone_name = serializers.CharField(allow_null=True)
    type = serializers.CharField(allow_null=True)
    cidr = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_null=True)


class CountAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    count = serializers.IntegerField()


class NetworksAnswerSerializer(CountAnswerSerializer):
    networks = NetworkSerializer(many=True)


class ServiceOfferingSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    cpu_number = serializers.IntegerField(allow_null=True)
    memory_mb = serializers.IntegerField(allow_null=True)
    is_customized = serializers.BooleanField()
    fits = serializers.BooleanField(allow_null=True, help_text="Null unless cpus or memory_mb was given")


class ServiceOfferingsAnswerSerializer(CountAnswerSerializer):
    service_offerings = ServiceOfferingSerializer(many=True)


class CheckSerializer(serializers.Serializer):
    check_name = serializers.CharField()
    status = serializers.CharField(help_text="pass or fail")
    message = serializers.CharField()
    execution_time_ms = serializers.FloatField()
    details = serializers.DictField(allow_null=True, help_text="What the check found (ids), when it passed")


class ValidateAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    valid = serializers.BooleanField()
    checks = CheckSerializer(many=True)
    message = serializers.CharField(required=False, help_text="Absent when the API access check already failed")


class DiscoverAllAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    zones = serializers.ListField(child=serializers.DictField(), help_text=RAW)
    networks = serializers.ListField(child=serializers.DictField(), help_text=RAW)
    service_offerings = serializers.ListField(child=serializers.DictField(), help_text=RAW)
    disk_offerings = serializers.ListField(child=serializers.DictField(), help_text=RAW)
    templates = serializers.ListField(child=serializers.DictField(), help_text=RAW)
    oma_vm = serializers.DictField(allow_null=True, help_text="CloudStack's record of the control-plane VM")
    oma_vm_error = serializers.CharField(allow_null=True, help_text="Why the control-plane VM was not found")


class StreamlinedAnswerSerializer(SuccessMessageSerializer):
    connection = ConnectionDetailsSerializer()
    configuration = OsseaConfigSerializer()


class NetworkRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)


class ResolveAnswerSerializer(SuccessMessageSerializer):
    success = serializers.BooleanField(help_text="False when a name is unknown")
    resolved = serializers.DictField(child=NetworkRefSerializer(), help_text="By the name (or id) asked for")
    unresolved = serializers.ListField(child=serializers.CharField())


class OsseaConfigCreatedSerializer(SuccessMessageSerializer):
    configuration = OsseaConfigSerializer()


class OsseaConfigAnswerSerializer(serializers.Serializer):
    """The 200 answer of every action: which keys are present depends on the action."""

    success = serializers.BooleanField()
    message = serializers.CharField(required=False, help_text="update, delete, test")
    configuration = OsseaConfigSerializer(required=False, help_text="get with id, update")
    configurations = OsseaConfigSerializer(many=True, required=False, help_text="get without id")
    details = ConnectionDetailsSerializer(required=False, help_text="test")


class CredentialTestDetailsSerializer(serializers.Serializer):
    vcenter = serializers.CharField()
    datacenter = serializers.CharField()
    vm_count = serializers.IntegerField()


class CredentialTestSerializer(SuccessMessageSerializer):
    details = CredentialTestDetailsSerializer()
