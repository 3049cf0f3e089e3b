from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.crypto import REDACTED

from ..choices import OsseaConfigAction
from ..models import OsseaConfig, VMwareCredential


@extend_schema_field(OpenApiTypes.STR)
class RedactedField(serializers.Field):
    """Renders any stored secret as "[REDACTED]"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)

    def to_representation(self, value):
        return REDACTED


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

    class Meta:
        model = VMwareCredential
        fields = ["id", "name", "vcenter_host", "username", "password", "datacenter", "is_default",
                  "created_at", "updated_at", "last_used_at"]


class VMwareCredentialInputSerializer(serializers.ModelSerializer):
    password = serializers.CharField(max_length=500, write_only=True, trim_whitespace=False)

    class Meta:
        model = VMwareCredential
        fields = ["name", "vcenter_host", "username", "password", "datacenter", "is_default"]
        # Uniqueness is the service's to report (409), not a 400 from the serializer.
        extra_kwargs = {"name": {"validators": []}}

    def validate_password(self, value):
        if value == REDACTED:
            raise serializers.ValidationError("Give the real password, not the redacted placeholder")
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value
