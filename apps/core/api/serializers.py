"""The core answers (login, health, debug) and the pieces every app's answers share.

``ErrorResponseSerializer`` is the error shape every API error has (``apps.core.exceptions.error_body``);
``errors(400, 404)`` documents those status codes with it.
"""
from __future__ import annotations

import sys
from collections import Counter

from rest_framework import serializers

from .fields import IsoDateTimeField, TrueField

# --- plain answers, written as words -------------------------------------------------------------------------------

# The kinds a plain field may have: ``name:kind`` (no kind: text); a trailing ``?`` lets it be null.
PLAIN_KINDS = {"": serializers.CharField, "int": serializers.IntegerField, "float": serializers.FloatField,
               "bool": serializers.BooleanField, "datetime": IsoDateTimeField, "date": serializers.DateField,
               "json": serializers.JSONField, "dict": serializers.DictField,
               # A list of text (the seeds' tags, permissions, names); each list its own child field.
               "texts": lambda **options: serializers.ListField(child=serializers.CharField(), **options)}


def plain_fields(words: str) -> dict[str, serializers.Field]:
    """The fields ``words`` names: ``"vm_name capacity_gb:float thin:bool? created_at:datetime vm_id=cloud_id"``.

    ``name=attribute`` reads another attribute of the row (a dotted path follows relations), as ``source=`` does.
    """
    fields = {}
    for word in words.split():
        head, _, kind = word.partition(":")
        nullable = kind.endswith("?") or head.endswith("?")
        head, kind = head.rstrip("?"), kind.rstrip("?")
        name, renamed, source = head.partition("=")
        if kind not in PLAIN_KINDS or not name.isidentifier() or name in fields or (renamed and not source):
            raise ValueError(f"plain field {word!r}: a new identifier (=attribute), then one of "
                             f":{', :'.join(filter(None, PLAIN_KINDS))}")
        options = {"allow_null": True} if nullable else {}
        if renamed:
            options["source"] = source
        fields[name] = PLAIN_KINDS[kind](**options)
    return fields


class Plain(serializers.Field):
    """Plain fields written as words, in a ``PlainSerializer``: ``plain = Plain("id:int username email")``.

    A field itself, so the class keeps it where it stands among the declared fields; the class puts the fields the
    words name in its place (the attribute's own name is not a field).
    """

    def __init__(self, words: str):
        super().__init__()
        self.fields = plain_fields(words)

    def bind(self, field_name, parent):
        # Only a PlainSerializer puts the words' fields in the marker's place.
        raise TypeError(f"{type(parent).__name__}.{field_name}: Plain(...) needs a PlainSerializer")


# An answer whose plain fields (a kind, maybe another attribute; no help text) are written as words in ``Plain``s.
#
# Answers mirror the seeds' field lists; a line per field made the same column of ``serializers.IntegerField()``
# again in every app. A ``Plain`` stands among the explicitly declared fields, which stay for what needs more than a
# kind (a source, a help text, a nested answer); the answer lists them all in the order written, after the
# inherited ones, as DRF does.
# (A comment, not a docstring: the schema would show a docstring as every subclass's description.)
class PlainSerializer(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = [(name, field) for marker, declared in cls._declared_fields.items()
                  for name, field in (declared.fields.items() if isinstance(declared, Plain) else [(marker, declared)])]
        twice = sorted(name for name, count in Counter(name for name, _ in fields).items() if count > 1)
        if twice:
            raise TypeError(f"{cls.__name__}: {twice} declared twice")
        # A new dict: the base class keeps its own fields.
        cls._declared_fields = dict(fields)


def plain_answer(name: str, words: str, base: type[serializers.Serializer] = PlainSerializer):
    """A serializer class of plain fields only: ``Disk = plain_answer("Disk", "label capacity_gb:float")``."""
    return type(base)(name, (base,), {"plain": Plain(words), "__module__": sys._getframe(1).f_globals["__name__"]})

# --- shared ------------------------------------------------------------------------------------------------------


class ErrorResponseSerializer(serializers.Serializer):
    """``{"success": false, "error": ..., "details": ...}``; coded errors add error_code, message, timestamp and
    request_id."""

    success = serializers.BooleanField(help_text="Always false")
    error = serializers.CharField(help_text="What is wrong, for a person")
    details = serializers.JSONField(allow_null=True, help_text="Field errors or context (null when none)")
    error_code = serializers.CharField(required=False, help_text="A stable code for programs, e.g. NOT_FOUND")
    message = serializers.CharField(required=False, help_text="Present with error_code: what was refused, in short")
    timestamp = serializers.DateTimeField(required=False, help_text="Present with error_code")
    request_id = serializers.CharField(required=False,
                                       help_text="Present with error_code: names the request in the platform's logs")


class SuccessMessageSerializer(PlainSerializer):
    """Base of the ``{"success": true, "message": ...}`` answers."""

    plain = Plain("success:bool message")


class MessageField(serializers.CharField):
    """The answer's message, which the view gives in the serializer's context (``answer(..., message=...)``)."""

    def get_attribute(self, instance):
        return self.context["message"]


class AnswerSerializer(SuccessMessageSerializer):
    """A successful answer: ``{"success": true, "message": ...}`` and its own fields."""

    success = serializers.BooleanField(read_only=True, default=True, help_text="Always true")
    message = MessageField()


def answer(serializer_class: type[serializers.Serializer], instance, message: str) -> dict:
    """The body of an answer: ``serializer_class`` renders ``instance`` under ``message``."""
    return serializer_class(instance, context={"message": message}).data


# The base of answers read from an object that open with "success": true (no docstring: the schema would show it
# as every subclass's description).
class SucceededSerializer(serializers.Serializer):
    success = TrueField()


class JobEventSerializer(PlainSerializer):
    """One step of a long-running job (a ``JobEvent`` row)."""

    step = serializers.CharField(help_text='e.g. "plan", "snapshot", "rollback"')
    level = serializers.CharField(help_text="info, warning or error")
    plain = Plain("message")
    data = serializers.DictField(help_text="The step's details; keys depend on the step")
    plain_tail = Plain("created_at:datetime")


def errors(*codes: int) -> dict:
    """``responses={200: X, **errors(400, 404)}``: those status codes answer the common error shape."""
    return {code: ErrorResponseSerializer for code in codes}


# --- authentication ----------------------------------------------------------------------------------------------


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


class LoginResponseSerializer(SuccessMessageSerializer):
    plain = Plain("session_token expires_at:datetime")


# --- health and debug --------------------------------------------------------------------------------------------


class HealthSerializer(PlainSerializer):
    plain = Plain("status")
    service = serializers.CharField(help_text="Which service answers (seed 004 names it)")
    plain_tail = Plain("timestamp:datetime database version")


class DebugComponentsSerializer(PlainSerializer):
    plain = Plain("database api_server")
    ossea_client = serializers.CharField(required=False, help_text="configured or not_configured; absent when the "
                                                                   "database is down")
    failover_engines = serializers.CharField(required=False, help_text="initialized when failover is installed")


class DebugMetricsSerializer(serializers.Serializer):
    total_vms_discovered = serializers.IntegerField(required=False)
    active_replication_jobs = serializers.IntegerField(required=False)
    active_failover_jobs = serializers.IntegerField(required=False)
    ossea_volumes = serializers.IntegerField(required=False)
    network_mappings = serializers.IntegerField(required=False)
    agents_approved = serializers.IntegerField(required=False)


class DebugHealthSerializer(SuccessMessageSerializer):
    status = serializers.CharField(help_text="healthy or unhealthy")
    components = DebugComponentsSerializer()
    metrics = DebugMetricsSerializer(help_text="Empty when the database is down")


EndpointSerializer = plain_answer("EndpointSerializer", "path name methods:texts view")


class CountedSerializer(SuccessMessageSerializer):
    plain = Plain("count:int")


class DebugEndpointsSerializer(CountedSerializer):
    endpoints = EndpointSerializer(many=True)


class LogRecordSerializer(PlainSerializer):
    timestamp = serializers.FloatField(help_text="Unix time")
    plain = Plain("level logger message")


class DebugLogsSerializer(CountedSerializer):
    logs = LogRecordSerializer(many=True)
