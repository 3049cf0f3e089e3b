from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    """Either an agent (appliance_id + token) or an operator (username + password)."""

    appliance_id = serializers.CharField(required=False, max_length=128)
    token = serializers.CharField(required=False, max_length=512, trim_whitespace=False)
    version = serializers.CharField(required=False, allow_blank=True, max_length=64)
    username = serializers.CharField(required=False, max_length=150)
    password = serializers.CharField(required=False, max_length=512, trim_whitespace=False)

    def validate(self, attrs):
        agent = "appliance_id" in attrs or "token" in attrs
        operator = "username" in attrs or "password" in attrs
        if agent and operator:
            raise serializers.ValidationError("Give either appliance_id/token or username/password, not both")
        if agent:
            missing = [f for f in ("appliance_id", "token") if not attrs.get(f)]
        elif operator:
            missing = [f for f in ("username", "password") if not attrs.get(f)]
        else:
            raise serializers.ValidationError("Give appliance_id and token (agent) or username and password (operator)")
        if missing:
            raise serializers.ValidationError({f: "This field is required." for f in missing})
        attrs["kind"] = "agent" if agent else "operator"
        return attrs


class LoginResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    session_token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    timestamp = serializers.DateTimeField()
    database = serializers.CharField()
    version = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
