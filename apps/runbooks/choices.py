"""Seed 004's execution statuses, approval modes and decisions."""
from __future__ import annotations

from django.db import models


class ExecutionStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Waiting for an approver"
    APPROVED = "approved", "Approved, queued for the worker"
    EXECUTING = "executing", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected by an approver"
    CANCELLED = "cancelled", "Cancelled"


# What cancel may still stop; what counts as "pending" in the stats.
CANCELLABLE = (ExecutionStatus.PENDING_APPROVAL, ExecutionStatus.APPROVED, ExecutionStatus.EXECUTING)
PENDING = (ExecutionStatus.PENDING_APPROVAL, ExecutionStatus.APPROVED, ExecutionStatus.EXECUTING)


class ApprovalMode(models.TextChoices):
    AUTO_APPROVE = "auto_approve", "Runs at once (up to the daily limit)"
    SINGLE_APPROVAL = "single_approval", "One approver other than the trigger"


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PolicyRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"
