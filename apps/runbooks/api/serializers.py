"""Seed 004's runbook shapes."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer

from .. import catalog
from ..choices import ApprovalMode, Decision, ExecutionStatus, PolicyRole
from ..models import ApprovalPolicy, Execution


class RunbookSerializer(PlainSerializer):
    runbook_id = serializers.UUIDField()
    plain = Plain("name display_name description category")
    risk_level = serializers.ChoiceField(choices=["low", "medium", "high"])
    plain_tail = Plain("supports_dry_run:bool enabled:bool")
    parameters_schema = serializers.JSONField(help_text="JSON Schema of the trigger's `parameters`")


class TriggerSerializer(serializers.Serializer):
    runbook_name = serializers.CharField(max_length=64)
    dry_run = serializers.BooleanField(default=True, help_text="Report what the run would do, change nothing")
    parameters = serializers.JSONField(required=False, default=dict,
                                       help_text="An object matching the runbook's parameters_schema")


def masked(data: dict, runbook_name: str) -> dict:
    """A secret parameter (a password asked for) never leaves in an answer: it shows as set, masked."""
    if isinstance(data.get("parameters"), dict):
        data["parameters"] = catalog.without_secrets(runbook_name, data["parameters"])
    return data


# Every execution answer's own fields (no docstring: the schema would show it as each answer's description).
class ExecutionFieldsSerializer(serializers.ModelSerializer):
    execution_id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)


# An execution answer that shows the parameters and result, secrets masked.
class MaskedExecutionSerializer(serializers.ModelSerializer):
    parameters = serializers.JSONField()
    result = serializers.JSONField()

    def to_representation(self, instance):
        return masked(super().to_representation(instance), instance.runbook_name)


class ExecutionSerializer(MaskedExecutionSerializer, ExecutionFieldsSerializer):
    """The trigger's answer."""

    class Meta:
        model = Execution
        fields = ["execution_id", "runbook_name", "status", "dry_run", "parameters", "result", "error",
                  "triggered_by", "triggered_at", "items_found", "items_actioned"]


class ExecutionSummarySerializer(ExecutionFieldsSerializer):
    """A history row: the execution with its runbook's name, category and risk."""

    display_name = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    risk_level = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = ["execution_id", "runbook_name", "display_name", "category", "risk_level", "status", "dry_run",
                  "triggered_by", "triggered_at", "items_found", "items_actioned"]

    def _runbook(self, obj):
        return catalog.get(obj.runbook_name)

    def get_display_name(self, obj) -> str:
        runbook = self._runbook(obj)
        return runbook.display_name if runbook else obj.runbook_name

    def get_category(self, obj) -> str:
        runbook = self._runbook(obj)
        return runbook.category if runbook else ""

    def get_risk_level(self, obj) -> str:
        runbook = self._runbook(obj)
        return runbook.risk_level if runbook else ""


class ApprovalEventSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="approved, rejected, cancelled or escalated (by system, past the "
                                             "policy's escalation_timeout_minutes)")
    by = serializers.CharField()
    at = serializers.DateTimeField()
    comment = serializers.CharField(allow_blank=True)


class ExecutionDetailSerializer(MaskedExecutionSerializer, ExecutionSummarySerializer):
    approval_history = ApprovalEventSerializer(many=True)

    class Meta(ExecutionSummarySerializer.Meta):
        fields = [*ExecutionSummarySerializer.Meta.fields, "parameters", "result", "error", "approver_role",
                  "approved_by", "approved_at", "approval_comment", "approval_history", "escalated_at", "cancel_requested",
                  "started_at", "completed_at"]


class HistorySerializer(PlainSerializer):
    executions = ExecutionSummarySerializer(many=True)
    plain = Plain("total:int")


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PolicySerializer(serializers.ModelSerializer):
    policy_id = serializers.UUIDField(read_only=True)
    runbook_name = serializers.CharField(read_only=True)
    trigger_role = serializers.ChoiceField(choices=PolicyRole.choices)
    approver_role = serializers.ChoiceField(choices=PolicyRole.choices, default=PolicyRole.ADMIN)
    approval_mode = serializers.ChoiceField(choices=ApprovalMode.choices, default=ApprovalMode.SINGLE_APPROVAL)
    escalation_timeout_minutes = serializers.IntegerField(min_value=1, max_value=100000, default=60)
    max_auto_executions_per_day = serializers.IntegerField(min_value=0, max_value=100000, default=50)
    enabled = serializers.BooleanField(default=True)

    class Meta:
        model = ApprovalPolicy
        fields = ["policy_id", "runbook_name", "trigger_role", "approver_role", "approval_mode",
                  "escalation_timeout_minutes", "max_auto_executions_per_day", "enabled"]
        validators = []  # one per runbook and trigger role: the PUT updates the existing row


class StatsSerializer(PlainSerializer):
    plain = Plain("runbook_name total_executions:int completed:int failed:int pending:int rejected:int total_items_found:int "
                  "total_items_actioned:int")
    last_run = serializers.DateTimeField(allow_null=True)
