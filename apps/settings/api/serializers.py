"""Settings' request bodies and answers: CloudStack configurations and their checks, VMware credentials."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import ConstantField
from apps.core.api.serializers import Plain, PlainSerializer, SuccessMessageSerializer, plain_answer
from apps.core.crypto import REDACTED
from apps.enrollment.models import Appliance

from ..choices import OsseaConfigAction
from ..cloudstack_service import offering_fits
from ..models import CloudResource, GuestOsMapping, OsseaConfig, StorageMapping, VMwareCredential

RAW = "CloudStack's own records, as its API lists them"


@extend_schema_field(OpenApiTypes.STR)
class RedactedField(ConstantField):
    """Renders any stored secret as "[REDACTED]"."""

    constant = REDACTED


class OsseaConfigSerializer(serializers.ModelSerializer):
    secret_key = RedactedField()

    class Meta:
        model = OsseaConfig
        fields = ["id", "name", "api_url", "api_key", "secret_key", "domain", "zone", "oma_vm_id", "is_active",
                  "disk_offering_id", "service_offering_id", "network_id", "created_at", "updated_at"]


class OsseaConfigInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    api_url = serializers.URLField(max_length=500)
    api_key = serializers.CharField(max_length=500)
    secret_key = serializers.CharField(max_length=500, trim_whitespace=False, write_only=True)
    domain = serializers.CharField(max_length=255, required=False, default="/")
    zone = serializers.CharField(max_length=255)
    oma_vm_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)
    disk_offering_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    service_offering_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    network_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_secret_key(self, value):
        if value == REDACTED:
            raise serializers.ValidationError("Give the real secret key, not the redacted placeholder")
        return value


class ConnectionTestInputSerializer(serializers.Serializer):
    """The `test` action's inline configuration: what a connection needs (other configuration fields are ignored)."""

    api_url = serializers.URLField(max_length=500)
    api_key = serializers.CharField(max_length=500)
    secret_key = serializers.CharField(max_length=500, trim_whitespace=False, write_only=True)
    zone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)


class OsseaConfigActionSerializer(serializers.Serializer):
    """The unified POST /ossea/config body: an action and, per action, an id and/or a configuration."""

    action = serializers.ChoiceField(choices=OsseaConfigAction.choices)
    id = serializers.IntegerField(required=False, min_value=1)
    configuration = serializers.DictField(required=False)

    def validate(self, attrs):
        action = attrs["action"]
        if action in (OsseaConfigAction.UPDATE, OsseaConfigAction.DELETE) and "id" not in attrs:
            raise serializers.ValidationError({"id": f"This field is required for action '{action}'."})
        if action in (OsseaConfigAction.CREATE, OsseaConfigAction.UPDATE) and "configuration" not in attrs:
            raise serializers.ValidationError({"configuration": f"This field is required for action '{action}'."})
        return attrs


class VMwareCredentialSerializer(serializers.ModelSerializer):
    password = RedactedField()
    agent_appliance_id = serializers.CharField(source="agent.appliance_id", read_only=True, allow_null=True,
                                               default=None, help_text="The agent of this vCenter; null: the default")

    class Meta:
        model = VMwareCredential
        fields = ["id", "name", "vcenter_host", "username", "password", "datacenter", "is_default",
                  "agent_appliance_id", "created_at", "updated_at", "last_used_at"]


class GuestOsMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = GuestOsMapping
        fields = ["id", "vmware_guest_id", "os_type_description", "os_type_id", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to report (409), not a 400 from the serializer.
        extra_kwargs = {"vmware_guest_id": {"validators": []}}


class StorageMappingSerializer(serializers.ModelSerializer):
    """A datastore (or one VM disk) -> createVolume's diskofferingid and/or storageid in one configuration."""

    class Meta:
        model = StorageMapping
        fields = ["id", "ossea_config", "datastore", "vm_id", "disk_id", "disk_offering_id", "storage_id",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to report (409), not a 400 from the serializer.
        validators = []


class VMwareCredentialInputSerializer(serializers.ModelSerializer):
    password = serializers.CharField(max_length=500, write_only=True, trim_whitespace=False)
    agent_appliance_id = serializers.SlugRelatedField(
        slug_field="appliance_id", queryset=Appliance.objects.all(), required=False, allow_null=True,
        help_text="The agent next to this vCenter (several agents); null or absent: the default agent")

    class Meta:
        model = VMwareCredential
        fields = ["name", "vcenter_host", "username", "password", "datacenter", "is_default", "agent_appliance_id"]
        # Uniqueness is the service's to report (409), not a 400 from the serializer.
        extra_kwargs = {"name": {"validators": []}}

    def validate_password(self, value):
        if value == REDACTED:
            raise serializers.ValidationError("Give the real password, not the redacted placeholder")
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value


# --- CloudStack endpoints: request bodies ----------------------------------------------------------------------------


class TargetSerializer(serializers.Serializer):
    """Inline keys, or config_id of a stored configuration (the active one when both are absent)."""

    api_url = serializers.URLField(required=False, max_length=500)
    api_key = serializers.CharField(required=False, max_length=500)
    secret_key = serializers.CharField(required=False, max_length=500, trim_whitespace=False, write_only=True)
    zone = serializers.CharField(required=False, allow_blank=True, max_length=255)
    oma_vm_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    config_id = serializers.IntegerField(required=False, min_value=1)


class StreamlinedSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=255, default="default")
    api_url = serializers.URLField(max_length=500)
    api_key = serializers.CharField(max_length=500)
    secret_key = serializers.CharField(max_length=500, trim_whitespace=False, write_only=True)
    zone = serializers.CharField(max_length=255)
    domain = serializers.CharField(required=False, max_length=255, default="/")
    oma_vm_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    network_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    service_offering_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    disk_offering_id = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class DetectSerializer(TargetSerializer):
    save = serializers.BooleanField(required=False, default=False)


class OfferingQuerySerializer(serializers.Serializer):
    config_id = serializers.IntegerField(required=False, min_value=1)
    zone = serializers.CharField(required=False, allow_blank=True, max_length=255)
    cpus = serializers.IntegerField(required=False, min_value=0, max_value=4096)
    memory_mb = serializers.IntegerField(required=False, min_value=0, max_value=64 * 1024 * 1024)


class ResolveSerializer(TargetSerializer):
    network_names = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=200)


# --- CloudStack endpoints: answers ---------------------------------------------------------------------------------


class ConnectionDetailsSerializer(PlainSerializer):
    """What the connection test found: the zones, whether the configured zone is among them, the API answering."""

    plain = Plain("zones_found:int")
    zone_verified = serializers.CharField(allow_null=True, help_text="The zone's name when the given zone exists")
    plain_tail = Plain("api_accessible:bool")


class ConnectionTestSerializer(SuccessMessageSerializer):
    details = ConnectionDetailsSerializer()


def connection_test_answer(details: dict) -> dict:
    """A successful connection test (the CloudStack test endpoint and the `test` action of POST /ossea/config)."""
    return ConnectionTestSerializer({"success": True, "message": "OSSEA connection test successful",
                                     "details": details}).data


class OmaVmSerializer(PlainSerializer):
    """CloudStack's record of the control-plane VM."""

    plain = Plain("id name? state?")
    mac_addresses = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField(allow_null=True)))
    def get_mac_addresses(self, vm: dict) -> list:
        return [nic.get("macaddress") for nic in vm.get("nic", [])]


class DetectOmaVmAnswerSerializer(SuccessMessageSerializer):
    oma_vm = OmaVmSerializer()
    saved = serializers.BooleanField(help_text="The id was stored in the configuration (save=true and it changed)")


class NetworkSerializer(PlainSerializer):
    """A CloudStack network record."""

    plain = Plain("id name?")
    zone_id = serializers.CharField(source="zoneid", allow_null=True)
    zone_name = serializers.CharField(source="zonename", allow_null=True)
    plain_tail = Plain("type? cidr? state?")


CountAnswerSerializer = plain_answer("CountAnswerSerializer", "success:bool count:int")


class NetworksAnswerSerializer(CountAnswerSerializer):
    networks = NetworkSerializer(many=True)


class ServiceOfferingSerializer(PlainSerializer):
    """A CloudStack service offering record; ``context`` may give the VM's ``cpus`` and ``memory_mb``."""

    plain = Plain("id name?")
    cpu_number = serializers.IntegerField(source="cpunumber", allow_null=True)
    memory_mb = serializers.IntegerField(source="memory", allow_null=True)
    is_customized = serializers.SerializerMethodField()
    fits = serializers.SerializerMethodField(help_text="Null unless cpus or memory_mb was given")

    def get_is_customized(self, offering: dict) -> bool:
        return bool(offering.get("iscustomized"))

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_fits(self, offering: dict):
        return offering_fits(offering, cpus=self.context.get("cpus"), memory_mb=self.context.get("memory_mb"))


class ServiceOfferingsAnswerSerializer(CountAnswerSerializer):
    service_offerings = ServiceOfferingSerializer(many=True)


class CheckSerializer(PlainSerializer):
    plain = Plain("check_name")
    status = serializers.CharField(help_text="pass or fail")
    plain_tail = Plain("message execution_time_ms:float")
    details = serializers.DictField(allow_null=True, help_text="What the check found (ids), when it passed")


class ValidateAnswerSerializer(PlainSerializer):
    """``apps.settings.cloudstack_service.validate``."""

    plain = Plain("success:bool valid:bool")
    checks = CheckSerializer(many=True)
    message = serializers.CharField(required=False, help_text="Absent when the API access check already failed")


class DiscoverAllAnswerSerializer(PlainSerializer):
    """``apps.settings.cloudstack.CloudStackClient.discover_all``, relayed."""

    plain = Plain("success:bool")
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


NetworkRefSerializer = plain_answer("NetworkRefSerializer", "id name?")


class ResolveAnswerSerializer(PlainSerializer):
    success = serializers.BooleanField(help_text="False when a name is unknown")
    resolved = serializers.DictField(child=NetworkRefSerializer(), help_text="By the name (or id) asked for")
    unresolved = serializers.ListField(child=serializers.CharField())
    plain = Plain("message")


# --- /ossea/config and VMware credentials: answers -----------------------------------------------------------------


class OsseaConfigCreatedSerializer(SuccessMessageSerializer):
    configuration = OsseaConfigSerializer()


class OsseaConfigAnswerSerializer(PlainSerializer):
    """The 200 answer of every action: which keys are present depends on the action."""

    plain = Plain("success:bool")
    message = serializers.CharField(required=False, help_text="update, delete, test")
    configuration = OsseaConfigSerializer(required=False, help_text="get with id, update")
    configurations = OsseaConfigSerializer(many=True, required=False, help_text="get without id")
    details = ConnectionDetailsSerializer(required=False, help_text="test")


class CredentialTestDetailsSerializer(PlainSerializer):
    """``apps.settings.selectors.CredentialCheck``."""

    vcenter = serializers.CharField(source="credential.vcenter_host")
    datacenter = serializers.CharField(source="credential.datacenter")
    plain = Plain("vm_count:int")


class CredentialTestSerializer(SuccessMessageSerializer):
    details = CredentialTestDetailsSerializer()


class CloudResourceSerializer(serializers.ModelSerializer):
    """A CloudStack resource the platform created, and where it stands (orphaned: the sweep could not remove it)."""

    ossea_config = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = CloudResource
        fields = ["id", "kind", "resource_id", "name", "owner", "parent_id", "state", "ossea_config",
                  "cloudstack_job_id", "attempts", "last_error", "checked_at", "created_at", "updated_at"]
