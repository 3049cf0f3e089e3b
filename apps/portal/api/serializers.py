"""Serializers several portal endpoints share: the data's freshness, the seed's login."""
from __future__ import annotations

from rest_framework import serializers


class FreshnessSerializer(serializers.Serializer):
    collected_at = serializers.DateTimeField(allow_null=True, help_text="When the data was read from CloudStack")
    data_age_seconds = serializers.IntegerField(allow_null=True)
    collection_duration_ms = serializers.IntegerField(allow_null=True)
    stale = serializers.BooleanField(help_text="True when the last collection failed (CloudStack down) or none ran")
    last_error = serializers.CharField(allow_null=True)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class LoginUserSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField(help_text="superadmin, admin, operator or viewer")
    is_active = serializers.BooleanField()
    permissions = serializers.ListField(child=serializers.CharField())


class TokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    user = LoginUserSerializer()
