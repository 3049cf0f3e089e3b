"""The worker's side of an execution: run the runbook's procedure once, record its result, counts or failure."""
from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import InvalidInput

from . import catalog, cloud
from .choices import ExecutionStatus
from .models import Execution

logger = logging.getLogger(__name__)


def execute(execution_id: str) -> None:
    """The worker's side: run an approved execution once (a second delivery finds it no longer approved)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(
            execution_id=execution_id, status=ExecutionStatus.APPROVED).first()
        if execution is None:
            return
        execution.status = ExecutionStatus.EXECUTING
        execution.started_at = timezone.now()
        execution.save(update_fields=["status", "started_at"])
    try:
        client = cloud.connect()
    except Exception as exc:  # noqa: BLE001 -- recorded on the execution, which is what the user reads
        _finish(execution, ExecutionStatus.FAILED, error=str(exc))
        return
    run(execution, client)


def run(execution: Execution, client) -> None:
    runbook = catalog.CATALOG[execution.runbook_name]

    def cancelled() -> bool:
        return Execution.objects.filter(pk=execution.pk, cancel_requested=True).exists()

    context = catalog.Run(client=client, params=catalog.opened(execution.runbook_name, execution.parameters),
                          dry_run=execution.dry_run,
                          cancelled=cancelled)
    try:
        result, found, actioned = runbook.procedure(context)
    except catalog.Cancelled:
        _finish(execution, ExecutionStatus.CANCELLED, error="Cancelled before its next change")
        return
    except InvalidInput as exc:
        if execution.dry_run:
            execution.delete()  # the dry run answers 400 in the request; nothing ran
            raise
        _finish(execution, ExecutionStatus.FAILED, error=str(exc))
        return
    except Exception as exc:  # noqa: BLE001 -- a CloudStack failure ends the run, recorded for the user
        logger.warning("runbook failed name=%s execution=%s error=%s", runbook.name, execution.execution_id, exc)
        _finish(execution, ExecutionStatus.FAILED, error=str(exc))
        return
    _finish(execution, ExecutionStatus.COMPLETED, result=result, found=found, actioned=actioned)


def _finish(execution: Execution, status: str, *, result: dict | None = None, found: int = 0, actioned: int = 0,
            error: str = "") -> None:
    execution.status = status
    execution.result = result or {}
    execution.parameters = catalog.without_secrets(execution.runbook_name, execution.parameters)
    execution.items_found = found
    execution.items_actioned = actioned
    execution.error = error
    execution.completed_at = timezone.now()
    execution.save(update_fields=["status", "result", "parameters", "items_found", "items_actioned", "error",
                                  "completed_at"])
    logger.info("runbook finished name=%s execution=%s status=%s found=%d actioned=%d", execution.runbook_name,
                execution.execution_id, status, found, actioned)
