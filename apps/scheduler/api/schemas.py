"""Documentation serializers: the scheduler answers the views build as plain dicts (OpenAPI only)."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.schemas import SuccessMessageSerializer

from .serializers import ExecutionSerializer, ScheduleSerializer


class ScheduleEnabledSerializer(SuccessMessageSerializer):
    schedule = ScheduleSerializer()


class ExecutionAnswerSerializer(SuccessMessageSerializer):
    """Trigger (202) and cancel (200) of a run."""

    execution = ExecutionSerializer()


class VMRefSerializer(serializers.Serializer):
    """``vm_refs``: a VM by context id and name."""

    context_id = serializers.CharField()
    vm_name = serializers.CharField()


class AssignedSerializer(SuccessMessageSerializer):
    group_id = serializers.IntegerField()
    assigned = VMRefSerializer(many=True)
    already_in_group = VMRefSerializer(many=True)


class UnassignedSerializer(SuccessMessageSerializer):
    group_id = serializers.IntegerField(help_text="The group the VM left")
    context_id = serializers.CharField()
    vm_name = serializers.CharField()


class MovedVMSerializer(VMRefSerializer):
    from_group_id = serializers.IntegerField()
    from_group_name = serializers.CharField()


class MovedSerializer(SuccessMessageSerializer):
    target_group_id = serializers.IntegerField()
    moved = MovedVMSerializer(many=True)
    assigned = VMRefSerializer(many=True, help_text="VMs that were in no group")
    unchanged = VMRefSerializer(many=True, help_text="VMs already in the target group")
