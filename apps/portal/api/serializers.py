"""Serializers several portal endpoints share: the data's freshness, the seed's login."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import PlainSerializer


class FreshnessSerializer(PlainSerializer):
    collected_at = serializers.DateTimeField(allow_null=True, help_text="When the data was read from CloudStack")
    stale = serializers.BooleanField(help_text="True when the last collection failed (CloudStack down) or none ran")
    plain = "data_age_seconds:int? collection_duration_ms:int? last_error?"


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class LoginUserSerializer(PlainSerializer):
    role = serializers.CharField(help_text="superadmin, admin, operator or viewer")
    plain = "username is_active:bool permissions:texts"


class TokenSerializer(PlainSerializer):
    expires_at = serializers.DateTimeField()
    user = LoginUserSerializer()
    plain = "access_token token_type expires_in:int"
