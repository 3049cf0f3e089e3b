"""Seed 004's execution statuses, approval modes and decisions (declared as words, see ``apps.core.choices.vocabulary``)."""
from __future__ import annotations

from apps.core.choices import vocabulary

ExecutionStatus = vocabulary("ExecutionStatus", """
    pending_approval: Waiting for an approver
    approved: Approved, queued for the worker
    executing: Running
    completed failed
    rejected: Rejected by an approver
    cancelled
""")

# What cancel may still stop; what counts as "pending" in the stats.
CANCELLABLE = (ExecutionStatus.PENDING_APPROVAL, ExecutionStatus.APPROVED, ExecutionStatus.EXECUTING)
PENDING = (ExecutionStatus.PENDING_APPROVAL, ExecutionStatus.APPROVED, ExecutionStatus.EXECUTING)

ApprovalMode = vocabulary("ApprovalMode", """
    auto_approve: Runs at once (up to the daily limit)
    single_approval: One approver other than the trigger
""")

Decision = vocabulary("Decision", "approved rejected")
PolicyRole = vocabulary("PolicyRole", "viewer operator admin")
