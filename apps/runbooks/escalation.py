"""Approvals left waiting: an execution in `pending_approval` longer than its policy's `escalation_timeout_minutes`
is escalated once. It keeps waiting (any approver may still decide it), but it is marked (`escalated_at`), its
approval history gets an `escalated` entry by `system` (the audit trail the detail shows), and the admins who asked
for `runbook_escalation` emails hear of it (apps/accounts' notification preferences).

The beat task (tasks.escalate_overdue) calls `escalate_overdue` every minute; a second call, or a second worker,
finds nothing new to escalate, so the admins are told once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import services as accounts
from apps.accounts.choices import EventType, Severity
from apps.core.choices import Role

from .choices import ExecutionStatus
from .models import ApprovalPolicy, Execution

logger = logging.getLogger(__name__)

# A run that waits without an enabled policy row (a medium or high risk runbook, services._needs_approval)
# escalates after the policy's default.
DEFAULT_TIMEOUT_MINUTES = ApprovalPolicy._meta.get_field("escalation_timeout_minutes").default


def timeout_minutes(execution: Execution, policies: dict[tuple[str, str], ApprovalPolicy]) -> int:
    policy = policies.get((execution.runbook_name, execution.trigger_role))
    return policy.escalation_timeout_minutes if policy else DEFAULT_TIMEOUT_MINUTES


def escalate_overdue(now: datetime | None = None) -> list[Execution]:
    """Escalate every waiting execution past its timeout (as of `now`); returns the ones escalated by this call."""
    now = now or timezone.now()
    waiting = list(Execution.objects.filter(status=ExecutionStatus.PENDING_APPROVAL, escalated_at__isnull=True))
    if not waiting:
        return []
    policies = {(p.runbook_name, p.trigger_role): p
                for p in ApprovalPolicy.objects.filter(runbook_name__in={e.runbook_name for e in waiting},
                                                       enabled=True)}  # a disabled one applies no more than at trigger
    escalated = []
    for execution in waiting:
        minutes = timeout_minutes(execution, policies)
        if execution.triggered_at + timedelta(minutes=minutes) > now:
            continue
        if _escalate(execution, now, minutes):
            escalated.append(execution)
    return escalated


def _escalate(execution: Execution, now: datetime, minutes: int) -> bool:
    with transaction.atomic():
        # Decided, cancelled or escalated by another worker since the list was read: nothing to do.
        row = Execution.objects.select_for_update().filter(
            pk=execution.pk, status=ExecutionStatus.PENDING_APPROVAL, escalated_at__isnull=True).first()
        if row is None:
            return False
        waited = int((now - row.triggered_at).total_seconds() // 60)
        approver = row.approver_role or Role.ADMIN
        comment = (f"Waiting for an approver ({approver}) for {waited} minutes, past the policy's "
                   f"escalation timeout of {minutes} minutes")
        row.escalated_at = now
        row.approval_history = [*row.approval_history,
                                {"action": "escalated", "by": "system", "at": now.isoformat(), "comment": comment}]
        row.save(update_fields=["escalated_at", "approval_history"])
        queued = accounts.notify(
            event_type=EventType.RUNBOOK_ESCALATION, severity=Severity.WARNING, event_id=str(row.execution_id),
            role=Role.ADMIN, subject=f"Runbook approval overdue: {row.runbook_name}",
            body=f"{row.triggered_by} triggered {row.runbook_name} (execution {row.execution_id}) at "
                 f"{row.triggered_at:%Y-%m-%d %H:%M} UTC; it still waits for an approver.\n\n{comment}.\n\n"
                 f"Approve or reject it with POST /api/runbooks/executions/{row.execution_id}/approve "
                 f"(GET /api/runbooks/approvals/pending lists every waiting run).")
    execution.escalated_at, execution.approval_history = row.escalated_at, row.approval_history
    logger.warning("runbook approval escalated name=%s execution=%s waited_minutes=%d timeout_minutes=%d "
                   "notified=%d", row.runbook_name, row.execution_id, waited, minutes, len(queued))
    return True
