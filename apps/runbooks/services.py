"""Trigger, approve, reject, cancel and run runbook executions; approval policies.

A dry run only reads CloudStack: it runs in the request and never waits for an approver. A real run follows the
policy for the runbook and the trigger's highest role: `auto_approve` runs at once (until the day's
`max_auto_executions_per_day` is used, then it waits), `single_approval` waits in `pending_approval` for a user of
`approver_role` who is not the trigger. Without a policy row, a medium or high risk runbook waits for an admin and a
low risk one runs. The worker (tasks.run_execution, apps/runbooks/runner.py) runs approved executions.
"""
from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import Conflict, Forbidden, NotFound

from . import catalog, cloud, rbac, runner, tasks
from .choices import CANCELLABLE, ApprovalMode, Decision, ExecutionStatus, PolicyRole
from .models import ApprovalPolicy, Execution

logger = logging.getLogger(__name__)


def runbook_get(name: str) -> catalog.Runbook:
    runbook = catalog.get(name)
    if runbook is None:
        raise NotFound(f"Runbook {name} not found")
    return runbook


def execution_get(raw: str) -> Execution:
    execution = Execution.objects.filter(execution_id=raw).first() if _is_uuid(raw) else None
    if execution is None:
        raise NotFound(f"Execution {raw} not found")
    return execution


def _is_uuid(raw: str) -> bool:
    try:
        uuid.UUID(raw)
    except ValueError:
        return False
    return True


def policy_for(runbook: catalog.Runbook, role: str) -> ApprovalPolicy | None:
    return ApprovalPolicy.objects.filter(runbook_name=runbook.name, trigger_role=role, enabled=True).first()


def _needs_approval(runbook: catalog.Runbook, role: str) -> str:
    """The approver role the run waits for, or "" when it runs at once."""
    policy = policy_for(runbook, role)
    if policy is None:
        return PolicyRole.ADMIN if runbook.risky else ""
    if policy.approval_mode == ApprovalMode.SINGLE_APPROVAL:
        return policy.approver_role
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = Execution.objects.filter(runbook_name=runbook.name, trigger_role=role, dry_run=False,
                                     approver_role="", triggered_at__gte=start).count()
    return policy.approver_role if today >= policy.max_auto_executions_per_day else ""


def trigger(*, user, runbook_name: str, dry_run: bool, parameters) -> Execution:
    runbook = runbook_get(runbook_name)
    if not runbook.enabled:
        raise Conflict(f"Runbook {runbook.name} is disabled")
    params = catalog.validate(runbook, parameters)
    role = rbac.top_role(user)
    execution = Execution(runbook_name=runbook.name, dry_run=dry_run, parameters=catalog.sealed(runbook.name, params),
                          triggered_by=user.get_username(), trigger_role=role)
    if dry_run:
        client = cloud.connect()  # 503 before anything is recorded when no cloud is configured
        execution.status = ExecutionStatus.EXECUTING
        execution.started_at = timezone.now()
        execution.save()
        runner.run(execution, client)
        return execution
    execution.approver_role = _needs_approval(runbook, role)
    execution.status = ExecutionStatus.PENDING_APPROVAL if execution.approver_role else ExecutionStatus.APPROVED
    execution.save()
    logger.info("runbook triggered name=%s execution=%s by=%s status=%s", runbook.name, execution.execution_id,
                execution.triggered_by, execution.status)
    if execution.status == ExecutionStatus.APPROVED:
        _enqueue(execution)
    return execution


def shown_once(execution: Execution, data: dict) -> dict:
    """The answer as serialized; a password in the result goes out in this answer and is blanked in the record,
    so no later read (detail, another admin) sees it."""
    if (execution.result or {}).get("password"):
        result = dict(execution.result)
        result["password"] = ""
        result["password_shown"] = True
        Execution.objects.filter(pk=execution.pk).update(result=result)
    return data


def _enqueue(execution: Execution) -> None:
    transaction.on_commit(lambda: tasks.run_execution.delay(str(execution.execution_id)))


def _history(execution: Execution, action: str, by: str, comment: str = "") -> None:
    execution.approval_history = [*execution.approval_history,
                                  {"action": action, "by": by, "at": timezone.now().isoformat(), "comment": comment}]


def decide(*, user, execution: Execution, decision: str, comment: str) -> Execution:
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution.pk)
        if execution.status != ExecutionStatus.PENDING_APPROVAL:
            raise Conflict(f"Execution {execution.execution_id} is {execution.status}, not pending_approval")
        if user.get_username() == execution.triggered_by:
            raise Forbidden("An execution is approved by another user than the one who triggered it")
        if execution.approver_role and not rbac.holds(user, execution.approver_role):
            raise Forbidden(f"Permission denied: this execution needs an approver with role "
                                   f"{execution.approver_role}")
        execution.approved_by = user.get_username()
        execution.approved_at = timezone.now()
        execution.approval_comment = comment
        _history(execution, decision, user.get_username(), comment)
        if decision == Decision.APPROVED:
            execution.status = ExecutionStatus.APPROVED
        else:
            execution.status = ExecutionStatus.REJECTED
            execution.completed_at = timezone.now()
            execution.parameters = catalog.without_secrets(execution.runbook_name, execution.parameters)
        execution.save()
    logger.info("runbook %s execution=%s by=%s", decision, execution.execution_id, user.get_username())
    if execution.status == ExecutionStatus.APPROVED:
        _enqueue(execution)
    return execution


def cancel(*, user, execution: Execution) -> Execution:
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution.pk)
        if execution.status not in CANCELLABLE:
            raise Conflict(f"Execution {execution.execution_id} is {execution.status}: only a pending or executing "
                           f"run can be cancelled")
        _history(execution, "cancelled", user.get_username())
        if execution.status == ExecutionStatus.EXECUTING:
            execution.cancel_requested = True  # the worker stops before its next change
        else:
            execution.status = ExecutionStatus.CANCELLED
            execution.completed_at = timezone.now()
            execution.parameters = catalog.without_secrets(execution.runbook_name, execution.parameters)
        execution.save()
    return execution


# -- policies -------------------------------------------------------------------------------------


def policy_save(runbook: catalog.Runbook, data: dict) -> tuple[ApprovalPolicy, bool]:
    return ApprovalPolicy.objects.update_or_create(runbook_name=runbook.name, trigger_role=data["trigger_role"],
                                                   defaults={k: v for k, v in data.items() if k != "trigger_role"})


def policy_delete(raw: str) -> None:
    policy = ApprovalPolicy.objects.filter(policy_id=raw).first() if _is_uuid(raw) else None
    if policy is None:
        raise NotFound(f"Policy {raw} not found")
    policy.delete()
