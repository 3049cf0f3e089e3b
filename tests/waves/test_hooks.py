"""Hooks against real peers: a webhook receiver (a real HTTP server this test starts) and real commands."""
from __future__ import annotations

import hashlib
import hmac
import json
import sys

import pytest

from apps.waves import hooks
from apps.waves.models import WaveHook
from tests.failover.conftest import HttpPeer

FACTS = {"stage": "before_final_sync", "vm_name": "web-01", "vm_id": "vm-1", "wave": "w"}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(hooks, "RETRY_PAUSE_SECONDS", 0.01)


def webhook(url: str, **extra) -> WaveHook:
    return WaveHook(name="notify", stage="before_final_sync", kind="webhook", url=url, **extra)


def command(argv: list[str], **extra) -> WaveHook:
    return WaveHook(name="check", stage="before_final_sync", kind="command", command=argv, **extra)


def test_webhook_posts_the_facts_signed_with_hmac():
    with HttpPeer() as peer:
        result = hooks.run_hook(webhook(peer.url + "/hook", secret="s3cret"), FACTS)
    assert result["ok"] and result["attempts"] == 1 and result["output"].startswith("HTTP 200")
    (request,) = peer.requests
    assert request["path"] == "/hook" and request["body"] == FACTS
    raw = json.dumps(request["body"], sort_keys=True).encode()
    expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert request["headers"]["X-MP-Signature"] == expected
    assert "s3cret" not in json.dumps(result)


def test_webhook_without_secret_is_unsigned_and_a_failure_is_retried_then_reported():
    with HttpPeer({"/hook": (503, {"error": "maintenance"})}) as peer:
        result = hooks.run_hook(webhook(peer.url + "/hook", retries=2), FACTS)
    assert not result["ok"] and result["attempts"] == 3 and len(peer.requests) == 3
    assert "HTTP 503" in result["output"] and "maintenance" in result["output"]
    assert "X-MP-Signature" not in peer.requests[0]["headers"]


def test_webhook_that_recovers_on_a_retry_succeeds():
    calls = []

    def flaky(body):
        calls.append(body)
        return (500, {"error": "busy"}) if len(calls) == 1 else (200, {"ok": True})

    with HttpPeer({"/hook": flaky}) as peer:
        result = hooks.run_hook(webhook(peer.url + "/hook", retries=1), FACTS)
    assert result["ok"] and result["attempts"] == 2


def test_webhook_that_does_not_answer_in_time_fails():
    import threading

    release = threading.Event()

    def slow(body):
        release.wait(5)
        return 200, {"ok": True}

    with HttpPeer({"/hook": slow}) as peer:
        result = hooks.run_hook(webhook(peer.url + "/hook", timeout_seconds=1), FACTS)
        release.set()
    assert not result["ok"] and "Timeout" in result["output"]


def test_unreachable_webhook_fails_with_the_reason():
    result = hooks.run_hook(webhook("http://127.0.0.1:1/hook"), FACTS)
    assert not result["ok"] and "ConnectionError" in result["output"]


def test_command_gets_the_facts_on_stdin_and_its_output_is_kept():
    script = "import json,sys; d=json.load(sys.stdin); print('checked', d['vm_name']); print('warn', file=sys.stderr)"
    result = hooks.run_hook(command([sys.executable, "-c", script]), FACTS)
    assert result["ok"] and "exit 0" in result["output"]
    assert "checked web-01" in result["output"] and "stderr: warn" in result["output"]


def test_failing_command_fails_with_its_exit_code_and_output():
    result = hooks.run_hook(command([sys.executable, "-c", "import sys; print('db not drained'); sys.exit(3)"],
                                    retries=1), FACTS)
    assert not result["ok"] and result["attempts"] == 2
    assert "exit 3" in result["output"] and "db not drained" in result["output"]


def test_command_past_its_timeout_is_killed_and_fails():
    result = hooks.run_hook(command([sys.executable, "-c", "import time; print('started', flush=True); "
                                                           "time.sleep(30)"], timeout_seconds=1), FACTS)
    assert not result["ok"] and "timed out after 1 s" in result["output"]


def test_missing_program_fails_cleanly():
    result = hooks.run_hook(command(["/nonexistent/hook-program"]), FACTS)
    assert not result["ok"] and "cannot run /nonexistent/hook-program" in result["output"]
