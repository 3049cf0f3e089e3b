"""Step `verify_boot` (under the status `powering_on`): after the start, wait for the guest to answer on a TCP port
of its address (`bootcheck.py`) within `MP_FAILOVER_BOOT_CHECK_TIMEOUT`.

`job.boot_verification` records the result: `booted` (true/false), `seconds` from the start to the answer, the
`target`, the service's `greeting`, and when it did not answer the `last_lines` of what the checks saw. A guest
that does not answer does not fail the failover (the VM runs, CloudStack is right that it does): the job says so in
its events, its current step and the answer, for the operator to look at the console. A request's
`custom_config.skip_boot_check` or a timeout of 0 skips it. It changes nothing, so it has nothing to undo.
"""
from __future__ import annotations

from django.utils import timezone

from apps.core.utils import iso
from apps.settings import cloudstack as cs

from .. import bootcheck, conf, conversion
from ..jobs import check_cancel, event, touch
from ..models import FailoverJob
from .base import Context, Step


def record(job: FailoverJob, **fields) -> None:
    job.boot_verification = {**job.boot_verification, **fields}
    FailoverJob.objects.filter(pk=job.pk).update(boot_verification=job.boot_verification,
                                                 heartbeat_at=timezone.now())


class VerifyBoot(Step):
    name = "verify_boot"
    status = None  # runs under `powering_on`: the job statuses (seed 003) have no verification of their own
    requires = ("destination_vm_id",)
    records = ("boot_verification",)
    undoes = "nothing (it only connects to the guest)"

    def run(self, ctx: Context) -> None:
        job = ctx.job
        if job.boot_verification.get("status") in ("booted", "not_answering", "skipped"):
            return  # an earlier run checked
        timeout = conf.boot_check_timeout()
        reason = ("skipped by the request (custom_config.skip_boot_check)"
                  if conversion.truthy(job.custom_config.get("skip_boot_check"))
                  else "turned off (MP_FAILOVER_BOOT_CHECK_TIMEOUT=0)" if timeout <= 0 else "")
        if not reason:
            try:
                vm = ctx.cloudstack().get_vm(job.destination_vm_id)
            except cs.CloudStackError as exc:
                vm, reason = {}, f"CloudStack did not show the VM: {exc}"
            where = bootcheck.target(vm, conf.boot_check_port()) if vm else None
            if vm and where is None:
                reason = "the VM has no address this host can reach"
        if reason:
            record(job, status="skipped", reason=reason, checked_at=iso(timezone.now()))
            event(job, "verify_boot", f"boot verification {reason}")
            return
        host, port = where
        touch(job, f"Waiting for the guest to answer on {host}:{port}")
        record(job, status="waiting", target=f"{host}:{port}", timeout=timeout, started_at=iso(timezone.now()))
        answer = bootcheck.wait(host, port, timeout, stop=lambda: check_cancel(job), progress=lambda elapsed, line: (
            touch(job, f"Waiting for the guest to answer on {host}:{port} ({elapsed:.0f} s)")))
        result = {"status": "booted" if answer.answered else "not_answering", "booted": answer.answered,
                  "seconds": answer.seconds, "target": answer.target, "greeting": answer.greeting,
                  "attempts": answer.attempts, "last_lines": answer.last_lines, "timeout": timeout,
                  "checked_at": iso(timezone.now())}
        record(job, **result)
        event(job, "verify_boot", bootcheck.summary(result)[0].upper() + bootcheck.summary(result)[1:],
              level="info" if answer.answered else "warning", booted=answer.answered, seconds=answer.seconds)
