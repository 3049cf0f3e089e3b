"""Documentation serializers: the shapes of answers the views build as plain dicts (OpenAPI only).

``ErrorResponseSerializer`` is the error shape every API error has (``apps.core.exceptions.error_body``).
"""
from __future__ import annotations

from rest_framework import serializers


class ErrorResponseSerializer(serializers.Serializer):
    """``{"success": false, "error": ..., "details": ...}``; seed-coded errors add error_code and timestamp."""

    success = serializers.BooleanField(help_text="Always false")
    error = serializers.CharField(help_text="What is wrong, for a person")
    details = serializers.JSONField(required=False, help_text="Field errors or context (absent when none)")
    error_code = serializers.CharField(required=False, help_text="Seed-documented code, e.g. NOT_FOUND")
    timestamp = serializers.DateTimeField(required=False, help_text="Present with error_code")


class SuccessMessageSerializer(serializers.Serializer):
    """Base of the ``{"success": true, "message": ...}`` answers."""

    success = serializers.BooleanField()
    message = serializers.CharField()


class JobEventSerializer(serializers.Serializer):
    """One step of a long-running job (``apps.core.jobs.job_events``)."""

    step = serializers.CharField(help_text='e.g. "plan", "snapshot", "rollback"')
    level = serializers.CharField(help_text="info, warning or error")
    message = serializers.CharField()
    data = serializers.DictField(help_text="The step's details; keys depend on the step")
    created_at = serializers.DateTimeField()


class DebugComponentsSerializer(serializers.Serializer):
    database = serializers.CharField()
    api_server = serializers.CharField()
    ossea_client = serializers.CharField(required=False, help_text="configured or not_configured; absent when the "
                                                                   "database is down")


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


class EndpointSerializer(serializers.Serializer):
    path = serializers.CharField()
    name = serializers.CharField()
    methods = serializers.ListField(child=serializers.CharField())
    view = serializers.CharField()


class CountedSerializer(SuccessMessageSerializer):
    count = serializers.IntegerField()


class DebugEndpointsSerializer(CountedSerializer):
    endpoints = EndpointSerializer(many=True)


class LogRecordSerializer(serializers.Serializer):
    timestamp = serializers.FloatField(help_text="Unix time")
    level = serializers.CharField()
    logger = serializers.CharField()
    message = serializers.CharField()


class DebugLogsSerializer(CountedSerializer):
    logs = LogRecordSerializer(many=True)


def errors(*codes: int) -> dict:
    """``responses={200: X, **errors(400, 404)}``: those status codes answer the common error shape."""
    return {code: ErrorResponseSerializer for code in codes}
