"""Executions of the catalog's runbooks (apps/runbooks/catalog.py) and who may run them without an approver."""
from __future__ import annotations

import uuid

from django.db import models

from apps.core.models import StartedCompleted

from .choices import ApprovalMode, ExecutionStatus, PolicyRole


class Execution(StartedCompleted):
    """One trigger of a runbook: its parameters, the approval it waited for, and what the run found and did."""

    execution_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    runbook_name = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, db_index=True)
    dry_run = models.BooleanField(default=True)
    parameters = models.JSONField(default=dict)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    triggered_by = models.CharField(max_length=150)
    trigger_role = models.CharField(max_length=16, blank=True, default="")
    triggered_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The policy's approver role when the run waited for one (empty: it needed none).
    approver_role = models.CharField(max_length=16, blank=True, default="")
    approved_by = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True, default="")
    # Every decision and cancel, oldest first: {"action", "by", "at", "comment"}.
    approval_history = models.JSONField(default=list, blank=True)
    # When the run had waited for its approver longer than its policy's escalation_timeout_minutes and the admins
    # were told (runner.escalate_overdue); it still waits, and is escalated only once.
    escalated_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    items_found = models.PositiveIntegerField(default=0)
    items_actioned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-triggered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.runbook_name} {self.execution_id} ({self.status})"


class ApprovalPolicy(models.Model):
    """Whether a runbook triggered by a role runs at once or waits for an approver of `approver_role`."""

    policy_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    runbook_name = models.CharField(max_length=64, db_index=True)
    trigger_role = models.CharField(max_length=16, choices=PolicyRole.choices)
    approver_role = models.CharField(max_length=16, choices=PolicyRole.choices, default=PolicyRole.ADMIN)
    approval_mode = models.CharField(max_length=20, choices=ApprovalMode.choices, default=ApprovalMode.SINGLE_APPROVAL)
    escalation_timeout_minutes = models.PositiveIntegerField(default=60)
    max_auto_executions_per_day = models.PositiveIntegerField(default=50)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["runbook_name", "trigger_role"]
        constraints = [models.UniqueConstraint(fields=["runbook_name", "trigger_role"], name="runbook_policy_per_role")]

    def __str__(self) -> str:
        return f"{self.runbook_name} by {self.trigger_role}: {self.approval_mode}"
