"""Which failed power calls leave the source VM's power uncertain: real requests through the real AgentClient."""
from __future__ import annotations

import socket

import pytest

from apps.enrollment.agent_client import AgentClient
from apps.failover.steps.power_off_source import answer_lost
from tests.failover.conftest import HttpPeer


def failure(url: str, timeout: float = 0.3) -> Exception:
    with pytest.raises(Exception) as caught:
        AgentClient(base_url=url, timeout=timeout)._call("POST", "power-off", json={}, timeout=timeout)
    return caught.value


def test_a_timeout_after_the_request_was_sent_is_a_lost_answer():
    with socket.socket() as listener:  # accepts the connection, reads nothing, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        exc = failure(f"http://127.0.0.1:{listener.getsockname()[1]}")
    assert exc.error_code == "AGENT_TIMEOUT" and answer_lost(exc)


def test_a_connection_never_made_is_not_a_lost_answer():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    exc = failure(f"http://127.0.0.1:{port}")  # nobody listens: refused
    assert exc.error_code == "AGENT_UNREACHABLE" and not answer_lost(exc)


@pytest.mark.parametrize("status, lost", [(500, True), (502, True), (503, True), (400, False), (404, False),
                                          (401, False), (409, False)])
def test_5xx_is_a_lost_answer_4xx_a_clear_refusal(status, lost):
    with HttpPeer({"/api/v1/power-off": (status, {"error": "trouble", "code": "X"})}) as peer:
        exc = failure(peer.url, timeout=5)
    assert answer_lost(exc) is lost
