"""Running a wave's hooks: a webhook (JSON POST signed with HMAC-SHA256) or a command on the control plane with the
VM's facts as JSON on stdin. Each run answers what the wave VM's record keeps: outcome, attempts, output.

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
from django.utils import timezone

from apps.core.utils import iso

from .models import WaveHook

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
