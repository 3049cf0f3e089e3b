"""Enrollment's request bodies and answers: pairing codes, enrollments, approved agents, the audit trail."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import CountedSerializer, Plain, PlainSerializer, SuccessMessageSerializer
from apps.core.pagination import MAX_OFFSET
from apps.enrollment.choices import AuditAction
from apps.enrollment.models import Appliance, Enrollment, EnrollmentAuditEvent

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$"
APPLIANCE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"
VERSION_PATTERN = r"^[A-Za-z0-9.+_~-]{0,64}$"


# --- input ---------------------------------------------------------------------------------------------------------


class PairingCodeCreateSerializer(serializers.Serializer):
    label = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    ttl_minutes = serializers.IntegerField(required=False, min_value=1, max_value=24 * 60,
                                           help_text="Lifetime of the code; 15 minutes by default.")


class EnrollSerializer(serializers.Serializer):
    pairing_code = serializers.CharField(max_length=32)
    name = serializers.RegexField(NAME_PATTERN, max_length=128,
                                  error_messages={"invalid": "Use letters, digits, spaces, '.', '_' or '-' (max 128)."})
    version = serializers.RegexField(VERSION_PATTERN, required=False, allow_blank=True, default="",
                                     error_messages={"invalid": "Use a version like 1.2.3 (letters, digits, .+_~-)."})
    ssh_public_key = serializers.CharField(max_length=16 * 1024, trim_whitespace=True,
                                           help_text="OpenSSH public key line: ssh-ed25519 (preferred), ECDSA or "
                                                     "RSA of 3072+ bits.")


class VerifySerializer(serializers.Serializer):
    enrollment_id = serializers.CharField(max_length=64)
    signature = serializers.CharField(max_length=8192, help_text=(
        "Base64 of the SSH signature (algorithm name + signature blob, as paramiko's sign_ssh_data returns) of "
        "the bytes 'mp-vma-enroll-v1\\n<enrollment_id>\\n<challenge>\\n'."))


class ResultQuerySerializer(serializers.Serializer):
    enrollment_id = serializers.CharField(max_length=64)


class ApproveSerializer(serializers.Serializer):
    appliance_id = serializers.RegexField(APPLIANCE_ID_PATTERN, required=False, error_messages={
        "invalid": "Use 2-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit."})
    name = serializers.RegexField(NAME_PATTERN, required=False, max_length=128)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AuditQuerySerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
    appliance_id = serializers.CharField(required=False, max_length=128)
    enrollment_id = serializers.CharField(required=False, max_length=64)
    success = serializers.BooleanField(required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=50)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)


class ActiveQuerySerializer(serializers.Serializer):
    probe = serializers.BooleanField(required=False, default=False,
                                     help_text="Also call each connected agent's /api/v1/health through its tunnel.")


# --- output --------------------------------------------------------------------------------------------------------


class EnrollmentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="enrollment_id")
    # Plain text, not an enum: drf-spectacular would otherwise mint colliding "Status" enums across apps.
    status = serializers.CharField(read_only=True, help_text="awaiting_proof, pending, approved, rejected or failed")
    key_verified = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = ["id", "name", "version", "status", "key_verified", "ssh_key_type", "ssh_key_fingerprint",
                  "client_ip", "created_at", "verified_at"]

    def get_key_verified(self, obj) -> bool:
        return obj.verified_at is not None


class ApplianceSerializer(serializers.ModelSerializer):
    approved_by = serializers.CharField(source="approved_by.username", default=None, allow_null=True,
                                        help_text="null until an admin approved it (or when approved by hand)")
    status = serializers.CharField(read_only=True, help_text="pending, approved, rejected or revoked")

    class Meta:
        model = Appliance
        fields = ["appliance_id", "name", "version", "status", "ssh_key_fingerprint", "approved_at", "approved_by",
                  "last_seen_at", "last_seen_ip", "tunnel_last_seen_at"]


class TunnelStateSerializer(PlainSerializer):
    plain = Plain("connected:bool sessions:int")
    connected_since = serializers.DateTimeField(allow_null=True)
    plain_middle = Plain("reverse_port:int?")
    nbd_ports = serializers.CharField(allow_null=True, help_text="The agent's own NBD export ports (its block).")
    plain_tail = Plain("agent_api_url?")
    agent_api = serializers.DictField(required=False)


class ActiveApplianceSerializer(ApplianceSerializer):
    tunnel = TunnelStateSerializer(read_only=True)

    class Meta(ApplianceSerializer.Meta):
        fields = [*ApplianceSerializer.Meta.fields, "tunnel"]


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = EnrollmentAuditEvent
        fields = ["id", "created_at", "action", "success", "actor", "client_ip", "enrollment_id", "appliance_id",
                  "key_fingerprint", "message", "data"]


# --- answers of the administrator's endpoints ---------------------------------------------------------------------


class PairingCodeCreatedSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("id:int pairing_code label expires_at:datetime")


class PendingEnrollmentsSerializer(CountedSerializer):
    enrollments = EnrollmentSerializer(many=True)


class ApproveResultSerializer(SuccessMessageSerializer):
    appliance = ApplianceSerializer()


class RejectResultSerializer(SuccessMessageSerializer):
    enrollment = EnrollmentSerializer()


class ActiveAgentsSerializer(CountedSerializer):
    appliances = ActiveApplianceSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class RevokeResultSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("appliance_id tokens_revoked:int tunnel_sessions_ended:int")
    warnings = serializers.ListField(child=serializers.CharField())


class AuditEventsSerializer(CountedSerializer, PlainSerializer):
    plain = Plain("limit:int offset:int")
    events = AuditEventSerializer(many=True)


# --- answers of the agent's public endpoints ----------------------------------------------------------------------


class SigningSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="The bytes to sign, with the enrollment id and challenge filled in")
    signature = serializers.CharField(help_text="What to send as the signature")


class EnrollStartedSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("enrollment_id challenge challenge_expires_at:datetime ssh_key_fingerprint")
    signing = SigningSerializer()


class EnrollVerifiedSerializer(SuccessMessageSerializer, PlainSerializer):
    plain = Plain("enrollment_id status poll_token")


class AgentCredentialsSerializer(PlainSerializer):
    plain = Plain("appliance_id")
    token = serializers.CharField(help_text="The agent's login token (shown once)")


class EnrollResultSerializer(PlainSerializer):
    """``apps.enrollment.services.enrollment_result``: pending, rejected, or approved with credentials (once)."""

    plain = Plain("success:bool enrollment_id status message")
    appliance_id = serializers.CharField(required=False)
    credentials = AgentCredentialsSerializer(required=False)
    tunnel = serializers.DictField(required=False)
    reason = serializers.CharField(required=False)
