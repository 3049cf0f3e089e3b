"""Running a wave's hooks: a webhook (JSON POST signed with HMAC-SHA256) or a command on the control plane with the
VM's facts as JSON on stdin. Each run answers what the wave VM's record keeps: outcome, attempts, output.

``run_stage`` runs a wave's hooks of one stage for one VM with its facts and keeps their output on the VM's record:
the pre-hooks from the engine's VM start, the after-power-off and after-boot ones from ``post_hooks`` (queued by
failover's step signal).

Signature: header `X-MP-Signature: sha256=<hex HMAC-SHA256 of the raw body with the hook's secret>` (GitHub's
scheme), so the receiver checks the body it got before acting on it. No secret, no header.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import time

import requests
from django.db import transaction
from django.utils import timezone

from apps.core.utils import iso
from apps.failover.models import FailoverJob

from . import jobs
from .models import WaveHook, WaveVM

logger = logging.getLogger(__name__)
OUTPUT_LIMIT = 8000
SIGNATURE_HEADER = "X-MP-Signature"
RETRY_PAUSE_SECONDS = 1.0


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + f"... ({len(text) - OUTPUT_LIMIT} more)"


def _post(hook: WaveHook, body: bytes) -> tuple[bool, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "migration-platform-wave-hook"}
    if hook.secret:
        headers[SIGNATURE_HEADER] = signature(hook.secret, body)
    try:
        response = requests.post(hook.url, data=body, headers=headers, timeout=hook.timeout_seconds,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        return False, f"POST {hook.url}: {type(exc).__name__}: {exc}"
    text = f"HTTP {response.status_code}: {_clip(response.text)}"
    return 200 <= response.status_code < 300, text


def _run(hook: WaveHook, body: bytes) -> tuple[bool, str]:
    try:
        done = subprocess.run(hook.command, input=body, capture_output=True, timeout=hook.timeout_seconds,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        return False, f"timed out after {hook.timeout_seconds} s; stdout: {_clip(out)}"
    except OSError as exc:
        return False, f"cannot run {hook.command[0] if hook.command else '(no command)'}: {exc}"
    text = (f"exit {done.returncode}; stdout: {_clip(done.stdout.decode(errors='replace'))}"
            f"; stderr: {_clip(done.stderr.decode(errors='replace'))}")
    return done.returncode == 0, text


def run_hook(hook: WaveHook, facts: dict) -> dict:
    """Run `hook` up to 1 + retries times until it succeeds; the record of the run (never the secret)."""
    body = json.dumps(facts, sort_keys=True).encode()
    call = _post if hook.kind == "webhook" else _run
    started = timezone.now()
    attempts, ok, output = 0, False, ""
    for attempt in range(hook.retries + 1):
        attempts = attempt + 1
        ok, output = call(hook, body)
        if ok:
            break
        logger.warning("wave hook failed hook=%s stage=%s vm=%s attempt=%d", hook.name, hook.stage,
                       facts.get("vm_name"), attempts)
        if attempt < hook.retries:
            time.sleep(RETRY_PAUSE_SECONDS * (attempt + 1))
    return {"hook": hook.name, "stage": hook.stage, "kind": hook.kind, "ok": ok, "attempts": attempts,
            "output": output, "started_at": iso(started), "finished_at": iso(timezone.now())}


# -- a stage's hooks for one VM -----------------------------------------------------------------------------------


def facts(vm: WaveVM, stage: str, job: FailoverJob | None = None) -> dict:
    """What a hook is told about the VM (no credentials)."""
    context = vm.vm_context
    return {
        "stage": stage, "wave": vm.wave.name, "wave_id": vm.wave_id, "wave_kind": vm.wave.kind,
        "vm_name": vm.vm_name, "vm_id": context.vm_id if context else None,
        "vm_context_id": context.context_id if context else None, "vm_path": context.vm_path if context else None,
        "vcenter_host": context.vcenter_host if context else None, "datacenter": context.datacenter if context else None,
        "cpu_count": context.cpu_count if context else None, "memory_mb": context.memory_mb if context else None,
        "power_state": context.power_state if context else None,
        "nics": [{"network": n.network_name, "mac_address": n.mac_address} for n in context.nics.all()]
        if context else [],
        "options": {"test_first": vm.test_first, "power_off_source": vm.power_off_source, "keep_macs": vm.keep_macs,
                    "final_sync": vm.final_sync},
        "failover_job_id": job.job_id if job else None, "failover_type": job.job_type if job else None,
        "destination_vm_id": (job.destination_vm_id or None) if job else None,
    }


def _log_hooks(vm_id: int, entries: list[dict]) -> None:
    with transaction.atomic():
        row = WaveVM.objects.select_for_update().get(pk=vm_id)
        row.hook_log = [*row.hook_log, *entries]
        row.save(update_fields=["hook_log"])


def run_stage(vm: WaveVM, stage: str, job: FailoverJob | None = None) -> dict | None:
    """Run the wave's hooks of `stage` for `vm`, in order, and keep their output; the first failure, or None."""
    for hook in vm.wave.hooks.filter(stage=stage).order_by("id"):
        result = run_hook(hook, facts(vm, stage, job))
        result["job_id"] = job.job_id if job else None
        _log_hooks(vm.pk, [result])
        if not result["ok"]:
            return result
    return None


def post_hooks(vm_id: int, stage: str, job_id: str) -> None:
    """After power-off or after boot: run once per job and stage; a failure is recorded, the failover goes on."""
    vm = WaveVM.objects.select_related("wave", "vm_context").filter(pk=vm_id).first()
    job = FailoverJob.objects.filter(job_id=job_id).first()
    if vm is None or job is None:
        return
    if any(entry.get("stage") == stage and entry.get("job_id") == job_id for entry in vm.hook_log):
        return  # the step ran again (a resumed job): its hooks already ran
    failure = run_stage(vm, stage, job)
    if failure is not None:
        jobs.event(vm.wave, "hook", f"{stage} hook '{failure['hook']}' of VM '{vm.vm_name}' failed: "
                                    f"{failure['output'][:500]}", level="warning")
