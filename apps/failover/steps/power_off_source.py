"""Step `power_off_source` (live failover's prelude): the source VM off through the agent; its undo powers it back on.

Only what this failover did is undone: the job records whether its power-off changed the VM
(`source_powered_off_by_platform`, false when the agent answered "already_off"), and only then does a rollback power
the source on again. When the power-off call got no clear answer (`source_power_uncertain`: a timeout, a dropped
connection, a 5xx), vCenter may have powered the VM off anyway: the rollback powers it on only if the inventory knew
it powered on just before the call (`source_power_state_before`), and otherwise leaves it to the operator.
It waits until the failover VM is gone, so the source and its copy never run at once. A power-on
that fails is reported (job event, rollback log, error message, `source_power_on_error`) and left to the operator; it
does not hold CloudStack cleanup back, and `POST /api/v1/failover/rollback` tries it again.
"""
from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from apps.core.exceptions import ApplicationError
from apps.enrollment.agent_client import AgentClient
from apps.inventory.models import VMContext
from apps.inventory.selectors import agent_source
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from ..jobs import Outcome, StepFailed, event, touch
from ..models import FailoverJob
from .base import Context, Step

logger = logging.getLogger(__name__)

# The agent's power-off answers that mean it changed the VM ("already_off" means it did not).
POWERED_OFF_HERE = ("guest_shutdown", "powered_off")


def _never_connected(exc: BaseException | None) -> bool:
    """The request never reached the agent (connection refused, connect timeout): nothing can have happened."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def answer_lost(exc: Exception) -> bool:
    """The agent gave no clear answer to a power call it may have carried out: a timeout, a connection dropped after
    the request was sent, a 5xx or an answer that is not JSON. A clear refusal (4xx: VM not found, bad request) or a
    connection that was never made is not: nothing was done."""
    if not isinstance(exc, ApplicationError):
        return True  # something unforeseen broke the call: it may have reached vCenter
    if exc.error_code == "AGENT_UNREACHABLE":
        return not _never_connected(exc.__cause__)
    if exc.error_code in ("AGENT_TIMEOUT", "AGENT_BAD_RESPONSE"):
        return True
    status = exc.details.get("status") if isinstance(exc.details, dict) else None
    return isinstance(status, int) and status >= 500


def power_off(job: FailoverJob) -> dict:
    """Shut the source down (guest shutdown, hard power-off after the job's timeout) and record what it changed.

    Before the call, the VM's power state as the inventory knows it is recorded (`source_power_state_before`). A call
    that ends without a clear answer (`answer_lost`) sets `source_power_uncertain` and raises: vCenter may have
    powered the VM off, and the rollback decides from the state before whether to power it on again.
    """
    before = VMContext.objects.filter(pk=job.vm_context_id).values_list("power_state", flat=True).first() or ""
    _record(job, source_power_state_before=before[:32], source_power_uncertain=False)
    vm = agent_source(job.vm_context)
    try:
        # The agent answers once the VM is off: allow the whole guest shutdown plus the hard power-off.
        answer = AgentClient(timeout=job.shutdown_timeout_seconds + 120).power_off(
            vm, timeout_seconds=job.shutdown_timeout_seconds)
    except Exception as exc:
        if answer_lost(exc):
            _record(job, source_power_uncertain=True)
        raise
    result = str(answer.get("result") or "powered_off")[:32]
    _record(job, source_powered_off_at=timezone.now(), source_power_result=result,
            source_powered_off_by_platform=result in POWERED_OFF_HERE)
    VMContext.objects.filter(pk=job.vm_context_id).update(power_state=answer.get("power_state") or "poweredOff")
    return answer


def _record(job: FailoverJob, **fields) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def failover_vm_gone(job: FailoverJob, out: Outcome) -> bool:
    """No failover VM of this job can be running: none was deployed, or the rollback destroyed it (expunged, or
    destroyed and waiting for CloudStack's expunge delay)."""
    if job.destination_vm_id:
        return CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.VM,
                                            resource_id=job.destination_vm_id,
                                            state__in=[CloudResourceState.REMOVED, CloudResourceState.DESTROYED]).exists()
    # No id: no deploy was submitted, or its answer was lost; only a CloudStack rollback that ran completely (it
    # looked the VM up by name) shows that none runs.
    return not job.destination_vm_name or out.complete


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message + (f" ({exc.details})" if isinstance(exc.details, str) and exc.details else "")
    return f"{type(exc).__name__}: {exc}"


def restore_power(job: FailoverJob, out: Outcome) -> None:
    """Power the source back on if this failover powered it off and nothing did since. Never raises."""
    job.refresh_from_db()
    name = job.vm_context.vm_name
    if job.source_power_left_to_operator:
        known = job.source_power_state_before or "unknown"
        out.leave(f"the answer to the power-off of the source VM '{name}' was lost, so vCenter may have powered it off; "
                  f"it was not known to be powered on before this failover (last known power state: {known}), so it "
                  "was not powered on: check it in vCenter and power it on if it should keep serving")
        return
    if not job.source_power_on_owed:
        return
    if not failover_vm_gone(job, out):
        out.leave(f"the source VM '{name}' stays powered off while failover VM {job.destination_vm_id} exists (the "
                  "two must not run at once): cleanup-failed powers it on once that VM is gone")
        return
    try:
        answer = AgentClient(timeout=max(settings.AGENT_API_TIMEOUT, 120)).power_on(agent_source(job.vm_context))
    except Exception as exc:  # an agent, vCenter or credential problem is the operator's to fix, never a crash here
        if not isinstance(exc, ApplicationError):
            logger.exception("source power-on failed job=%s", job.job_id)
        reason = _failure_text(exc)
        FailoverJob.objects.filter(pk=job.pk).update(source_power_on_error=reason[:500])
        out.leave(f"could not power the source VM '{name}' back on: {reason}. Power it on in vCenter if it should "
                  f"keep serving, or retry with POST /api/v1/failover/rollback {{\"job_id\": \"{job.job_id}\"}}")
        return
    now = timezone.now()
    FailoverJob.objects.filter(pk=job.pk).update(source_powered_on_at=now, source_power_on_error="")
    job.source_powered_on_at, job.source_power_on_error = now, ""
    VMContext.objects.filter(pk=job.vm_context_id).update(power_state=answer.get("power_state") or "poweredOn")
    already = answer.get("result") == "already_on"
    if job.source_power_on_if_on_before and not job.source_powered_off_by_platform:
        out.did(f"the answer to the power-off of the source VM '{name}' ({answer.get('vm_id')}) was lost; the VM was "
                "on before the failover, so " + ("it is already on" if already else "it was powered on again"))
    elif already:
        out.did(f"the source VM '{name}' ({answer.get('vm_id')}) was already powered on again")
    else:
        out.did(f"powered the source VM '{name}' ({answer.get('vm_id')}) back on")


class PowerOffSource(Step):
    name = "power_off_source"
    requires = ("vm_context", "power_off_source", "shutdown_timeout_seconds")
    records = ("source_power_state_before", "source_power_uncertain", "source_powered_off_at", "source_power_result",
               "source_powered_off_by_platform", "VMContext.power_state")
    undoes = "powers the source VM back on if this failover powered it off, once the failover VM is gone"

    def recorded(self, job: FailoverJob) -> bool:
        return job.source_powered_off_at is not None or job.source_power_uncertain

    def run(self, ctx: Context) -> None:
        job = ctx.job
        if not job.power_off_source or job.source_powered_off_at is not None:
            return  # not asked, or done by an earlier run
        touch(job, "Powering off the source VM (guest shutdown, then power off after "
                   f"{job.shutdown_timeout_seconds} s)")
        try:
            answer = power_off(job)
        except ApplicationError as exc:
            if not job.source_power_uncertain:
                raise
            # No clear answer: vCenter may have powered the VM off. The rollback decides what to do about it.
            known = job.source_power_state_before or "unknown"
            event(job, "power_off", f"the power-off answer was lost ({exc.message}); the source VM may be powered off "
                                    f"(last known power state before the failover: {known})", level="error")
            raise StepFailed(f"The power-off of the source VM got no clear answer from the agent: {exc.message}; "
                             "vCenter may have powered it off", exc.error_code or "AGENT_UNREACHABLE") from exc
        text = (f"source VM powered off ({job.source_power_result})" if job.source_powered_off_by_platform else
                "source VM was already powered off before this failover: a rollback leaves it off")
        event(job, "power_off", text, **{k: v for k, v in answer.items() if k in ("vm_id", "power_state", "result")})

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        restore_power(ctx.job, outcome)
