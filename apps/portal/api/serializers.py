"""Serializers several portal endpoints share: the data's freshness, the seed's login."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer


class FreshnessSerializer(PlainSerializer):
    collected_at = serializers.DateTimeField(allow_null=True, help_text="When the data was read from CloudStack")
    plain = Plain("data_age_seconds:int? collection_duration_ms:int?")
    stale = serializers.BooleanField(help_text="True when the last collection failed (CloudStack down) or none ran")
    plain_tail = Plain("last_error?")


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class LoginUserSerializer(PlainSerializer):
    plain = Plain("username")
    role = serializers.CharField(help_text="superadmin, admin, operator or viewer")
    plain_tail = Plain("is_active:bool permissions:texts")


class TokenSerializer(PlainSerializer):
    plain = Plain("access_token token_type expires_in:int")
    expires_at = serializers.DateTimeField()
    user = LoginUserSerializer()
