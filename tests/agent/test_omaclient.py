"""The control-plane client against a small real HTTP server standing in for the control plane."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.errors import ControlPlaneError
from agent.omaclient import OmaClient, parse_timestamp
from tests.agent.vmlab import FakeControlPlane


@pytest.fixture()
def cp() -> Iterator[FakeControlPlane]:
    with FakeControlPlane() as server:
        yield server


def client_for(cp: FakeControlPlane, **kwargs: Any) -> OmaClient:
    options = {"appliance_id": cp.appliance_id, "token": cp.appliance_token, "backoff_initial": 0.01,
               "max_attempts": 4, "jitter": 0.0, "timeout": 5.0}
    options.update(kwargs)
    return OmaClient(cp.url, **options)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_login_then_calls_carry_the_session_token(cp: FakeControlPlane) -> None:
    client = client_for(cp)
    assert client.get_previous_change_id("/DC0/vm/a", "disk-0") is None
    client.store_change_id("job-1", "/DC0/vm/a", "disk-0", "52 aa/1")
    assert client.get_previous_change_id("/DC0/vm/a", "disk-0") == "52 aa/1"
    client.push_progress("job-1", {"progress_percent": 50})
    client.push_inventory({"vms": [{"id": "vm-1"}]})

    login = cp.calls("POST", "/api/v1/auth/login")
    assert len(login) == 1
    assert login[0]["body"] == {"appliance_id": cp.appliance_id, "token": cp.appliance_token,
                                "version": client.version}
    later = [r for r in cp.requests if r["path"] != "/api/v1/auth/login"]
    assert all(r["auth"] == "Bearer oma_session_1" for r in later)
    store = cp.calls("POST", "/api/v1/replications/job-1/changeid")[0]
    assert store["body"] == {"vm_path": "/DC0/vm/a", "disk_id": "disk-0", "change_id": "52 aa/1"}
    query = cp.calls("GET", "/api/v1/replications/changeid")[0]["query"]
    assert query == {"vm_path": ["/DC0/vm/a"], "disk_id": ["disk-0"]}
    assert cp.progress["job-1"] == [{"progress_percent": 50}]
    assert cp.inventory == [{"vms": [{"id": "vm-1"}]}]


def test_empty_change_id_means_none(cp: FakeControlPlane) -> None:
    cp.override = lambda method, path: (200, {"change_id": ""}) if path.endswith("/changeid") else None
    assert client_for(cp).get_previous_change_id("/DC0/vm/a", "disk-0") is None


def test_token_is_renewed_five_minutes_before_expiry(cp: FakeControlPlane) -> None:
    cp.token_lifetime = 3600
    clock = Clock()
    client = client_for(cp, clock=clock)
    client.push_progress("j", {})
    clock.now += 3600 - 301  # still valid for a bit more than 5 minutes: no renewal
    client.push_progress("j", {})
    assert cp.logins == 1
    clock.now += 2  # now inside the 5-minute margin: renewed before the request
    client.push_progress("j", {})
    assert cp.logins == 2
    assert cp.calls("POST", "/api/v1/replications/j/progress")[-1]["auth"] == "Bearer oma_session_2"


def test_401_forces_one_relogin_and_one_retry(cp: FakeControlPlane) -> None:
    client = client_for(cp)
    client.push_progress("j", {})
    cp.tokens.clear()  # the control plane restarted and forgot its sessions
    client.push_progress("j", {"n": 2})
    assert cp.logins == 2
    pushes = cp.calls("POST", "/api/v1/replications/j/progress")
    assert [p["auth"] for p in pushes] == ["Bearer oma_session_1", "Bearer oma_session_1", "Bearer oma_session_2"]


def test_401_after_relogin_is_not_retried_again(cp: FakeControlPlane) -> None:
    client = client_for(cp)
    cp.override = lambda method, path: (401, {"error": "nope"}) if "/progress" in path else None
    with pytest.raises(ControlPlaneError, match="after re-login"):
        client.push_progress("j", {})
    assert len(cp.calls("POST", "/api/v1/replications/j/progress")) == 2  # the request and one retry
    assert cp.logins == 2


def test_bad_appliance_token_is_a_clear_error(cp: FakeControlPlane) -> None:
    client = client_for(cp, token="wrong")
    with pytest.raises(ControlPlaneError, match="rejected the login of appliance 'vma-test'"):
        client.push_progress("j", {})
    assert len(cp.calls("POST", "/api/v1/auth/login")) == 1


def test_exponential_backoff_while_control_plane_is_down(cp: FakeControlPlane) -> None:
    failures = {"left": 3}

    def flaky(method: str, path: str) -> tuple[int, Any] | None:
        if path.endswith("/progress") and failures["left"] > 0:
            failures["left"] -= 1
            return 503, {"error": "restarting"}
        return None

    cp.override = flaky
    sleeps: list[float] = []
    client = client_for(cp, backoff_initial=0.5, backoff_max=1.5, max_attempts=5, sleep=sleeps.append)
    client.push_progress("j", {})
    assert sleeps == [0.5, 1.0, 1.5]  # doubling, capped at backoff_max
    assert len(cp.calls("POST", "/api/v1/replications/j/progress")) == 4


def test_a_throttled_login_is_retried_after_a_pause(cp: FakeControlPlane) -> None:
    """Every agent reaches the API from the tunnel's loopback address, so they share the login throttle: a 429 is
    waited out like an unavailable control plane, not reported as a failed login."""
    throttled = {"left": 2}

    def throttle(method: str, path: str) -> tuple[int, Any] | None:
        if path.endswith("/auth/login") and throttled["left"] > 0:
            throttled["left"] -= 1
            return 429, {"success": False, "error": "Too many login attempts"}
        return None

    cp.override = throttle
    sleeps: list[float] = []
    client = client_for(cp, backoff_initial=0.5, backoff_max=4.0, max_attempts=5, sleep=sleeps.append)
    client.push_progress("j", {})
    assert sleeps == [0.5, 1.0]
    assert len(cp.calls("POST", "/api/v1/auth/login")) == 3
    assert len(cp.calls("POST", "/api/v1/replications/j/progress")) == 1


def test_backoff_gives_up_with_clear_error_when_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    client = OmaClient(f"http://127.0.0.1:{port}", appliance_id="a", token="t", backoff_initial=0.1,
                       max_attempts=4, jitter=0.0, sleep=sleeps.append)
    with pytest.raises(ControlPlaneError, match="unreachable after 4 attempt"):
        client.get_previous_change_id("/DC0/vm/a", "disk-0")
    assert sleeps == [0.1, 0.2, 0.4]


def test_real_backoff_waits_grow(cp: FakeControlPlane) -> None:
    failures = {"left": 3}

    def flaky(method: str, path: str) -> tuple[int, Any] | None:
        if path.endswith("/progress") and failures["left"] > 0:
            failures["left"] -= 1
            return 502, {}
        return None

    cp.override = flaky
    client_for(cp, backoff_initial=0.05, max_attempts=5).push_progress("j", {})
    times = [r["time"] for r in cp.calls("POST", "/api/v1/replications/j/progress")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert gaps[2] > gaps[0]


def run_in_threads(work, count: int) -> None:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_threads_share_one_login(cp: FakeControlPlane) -> None:
    client = client_for(cp)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(5):
                client.push_progress(f"job-{i}", {"n": n})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_in_threads(work, 8)
    assert errors == []
    assert cp.logins == 1
    assert sum(len(v) for v in cp.progress.values()) == 40

    cp.tokens.clear()  # every thread now gets a 401 at about the same time
    run_in_threads(work, 8)
    assert errors == []
    assert cp.logins == 2  # one forced re-login, not one per thread


def test_without_credentials_a_401_explains_enrollment(cp: FakeControlPlane) -> None:
    client = OmaClient(cp.url, max_attempts=1)
    with pytest.raises(ControlPlaneError, match="requires authentication"):
        client.push_progress("j", {})


def test_api_root_and_timestamps() -> None:
    assert OmaClient("http://h:8082/").base_url == "http://h:8082/api/v1"
    assert OmaClient("http://h:8082/api/v1").base_url == "http://h:8082/api/v1"
    assert parse_timestamp("2025-08-06T12:00:00Z") == 1754481600.0
    assert parse_timestamp("not a time") is None
    assert "token" not in repr(OmaClient("http://h", appliance_id="a", token="secret-token"))
