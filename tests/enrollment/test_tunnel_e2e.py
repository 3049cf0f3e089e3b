"""The whole path with real parts: Django's live server as the control plane API, a real sshd with the documented
configuration, `vma enroll` and `vma tunnel` as real processes, real HTTP and a real NBD export through the tunnel."""
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from agent.tunnel import tunnel_status
from apps.core.choices import TokenKind
from apps.core.services import token_issue
from apps.enrollment import sshd
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ControlPlane:
    def __init__(self, live_server):
        self.url = live_server.url
        user = make_user("admin-e2e", "admin")
        token = token_issue(user=user, kind=TokenKind.OPERATOR, ttl=timedelta(hours=1)).raw
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kwargs):
        return self.http.request(method, f"{self.url}/api/v1/{path}", timeout=30, **kwargs)


@pytest.fixture
def control_plane(live_server, settings, tunnel_files):
    settings.MP_ENROLL_RESULT_THROTTLE_RATE = "1000/min"
    return ControlPlane(live_server)


def start_enroll(url, code, state_dir, name="e2e-agent"):
    return subprocess.Popen([sys.executable, "-m", "agent.enroll", "--url", url, "--code", code, "--name", name,
                             "--state-dir", str(state_dir), "--poll-interval", "0.3", "--wait-timeout", "60"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pending_id(cp):
    enrollments = cp("GET", "admin/vma/pending").json()["enrollments"]
    return enrollments[0]["id"] if enrollments and enrollments[0]["key_verified"] else None


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_enroll_tunnel_api_nbd_reverse_restart_and_revoke(control_plane, start_tunnel_sshd, nbdkit_memory,
                                                           agent_api_standin, tmp_path, live_server):
    import nbd

    cp = control_plane
    live_port = int(live_server.url.rsplit(":", 1)[1])
    reverse_port = sshd.free_port()
    lab = start_tunnel_sshd(api_port=live_port, nbd_ports=[nbdkit_memory], reverse_ports=[reverse_port])

    # --- enrollment: `vma enroll` waits while the administrator approves ---
    code = cp("POST", "admin/vma/pairing-code", json={"label": "e2e"}).json()["pairing_code"]
    state = tmp_path / "agent"
    enroll = start_enroll(live_server.url, code, state)
    try:
        enrollment_id = wait_for(lambda: pending_id(cp), 30, "the agent to enroll and prove its key")
    except AssertionError:
        enroll.kill()
        print("vma enroll output:", enroll.communicate())  # shown by pytest when the test fails
        raise
    assert cp("POST", f"admin/vma/approve/{enrollment_id}").status_code == 200
    out, err = enroll.communicate(timeout=60)
    assert enroll.returncode == 0, err
    assert "Enrolled as vma-e2e-agent" in out
    for name in ("enrollment.json", "oma-token", "tunnel_ed25519", "known_hosts"):
        assert mode(state / name) == 0o600, name
    token = (state / "oma-token").read_text().strip()
    stored = json.loads((state / "enrollment.json").read_text())
    assert stored["appliance_id"] == "vma-e2e-agent" and token not in json.dumps(stored)
    host_key = lab.sshd.host_public_key.split()
    assert (state / "known_hosts").read_text().split() == ["mp-control-plane", host_key[0], host_key[1]]
    assert token not in out + err

    # --- the tunnel: `vma tunnel` keeps one OpenSSH connection up ---
    api_local = sshd.free_port()
    nbd_local = sshd.free_port()
    while nbd_local == api_local:  # one at a time, the kernel may hand the same free port out twice
        nbd_local = sshd.free_port()
    tunnel = subprocess.Popen([sys.executable, "-m", "agent.tunnel", "--state-dir", str(state),
                               "--api-local-port", str(api_local),
                               "--agent-api-port", str(agent_api_standin.server_address[1]),
                               "--nbd-local-offset", str(nbd_local - nbdkit_memory)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    through = f"http://127.0.0.1:{api_local}/api/v1"
    try:
        wait_for(lambda: tunnel_status(state).get("state") == "connected", 30, "the tunnel to connect")

        # The agent reaches the real API through the tunnel and logs in with its credentials.
        login = requests.post(f"{through}/auth/login", json={"appliance_id": "vma-e2e-agent", "token": token},
                              timeout=30)
        assert login.status_code == 200, login.text
        session = login.json()["session_token"]
        # Its session reaches what agents may call (the change id it starts from: none stored yet) and nothing else.
        bearer = {"Authorization": f"Bearer {session}"}
        agent_get = requests.get(f"{through}/replications/changeid", params={"vm_path": "/DC0/vm/x", "disk_id": "d"},
                                 headers=bearer, timeout=30)
        assert agent_get.status_code == 200 and agent_get.json()["change_id"] is None, agent_get.text
        assert requests.get(f"{through}/vmware-credentials", headers=bearer, timeout=30).status_code == 403

        # ... and an NBD export: write through the tunnel, read back directly from nbdkit.
        data = os.urandom(1024 * 1024)
        handle = nbd.NBD()
        handle.connect_tcp("127.0.0.1", str(nbd_local))
        handle.pwrite(data, 65536)
        handle.flush()
        handle.shutdown()
        direct = nbd.NBD()
        direct.connect_tcp("127.0.0.1", str(nbdkit_memory))
        assert direct.pread(len(data), 65536) == data
        direct.shutdown()

        # The control plane reaches the agent API through the reverse forward.
        health = requests.get(f"http://127.0.0.1:{reverse_port}/api/v1/health", timeout=10).json()
        assert health["version"] == "test-agent"
        active = cp("GET", "admin/vma/active", params={"probe": "true"}).json()["appliances"][0]
        assert active["appliance_id"] == "vma-e2e-agent" and active["last_seen_at"] is not None
        assert active["tunnel"]["connected"] is True and active["tunnel"]["reverse_port"] == reverse_port
        assert active["tunnel"]["agent_api"] == {"reachable": True, "status": "healthy", "version": "test-agent"}, \
            (active, tunnel_status(state), lab.sshd.log())
        status = wait_for(lambda: (s := tunnel_status(state)).get("api_reachable") and s, 20, "the API probe")
        assert status["cipher"] == "aes128-gcm@openssh.com" and status["ssh_pid"]

        # --- sshd goes away (crash, reboot) and comes back: the tunnel heals itself ---
        lab.sshd.stop()
        wait_for(lambda: tunnel_status(state)["state"] in ("backoff", "connecting"), 20, "the tunnel to notice")
        time.sleep(1.0)
        lab.sshd.start()
        wait_for(lambda: tunnel_status(state)["state"] == "connected", 60, "the tunnel to come back")
        assert tunnel_status(state)["reconnects"] >= 1
        assert requests.get(f"{through}/health", timeout=30).status_code == 200
        wait_for(lambda: _http_ok(f"http://127.0.0.1:{reverse_port}/api/v1/health"), 20, "the reverse forward")

        # --- revocation cuts the live tunnel, and the agent cannot come back ---
        revoked = cp("DELETE", "admin/vma/revoke/vma-e2e-agent").json()
        assert revoked["tunnel_sessions_ended"] == 1 and revoked["tokens_revoked"] >= 1
        wait_for(lambda: tunnel_status(state)["state"] == "unauthorized", 30, "the tunnel to be refused")
        assert "Permission denied" in tunnel_status(state)["last_error"]
        assert not _http_ok(f"{through}/health")
        assert not _http_ok(f"http://127.0.0.1:{reverse_port}/api/v1/health")
        assert requests.post(f"{live_server.url}/api/v1/auth/login",
                             json={"appliance_id": "vma-e2e-agent", "token": token}, timeout=30).status_code == 401
        assert requests.get(f"{live_server.url}/api/v1/vmware-credentials",
                            headers={"Authorization": f"Bearer {session}"}, timeout=30).status_code == 401
        assert cp("GET", "admin/vma/active").json()["count"] == 0
    finally:
        tunnel.terminate()
        _, tunnel_err = tunnel.communicate(timeout=20)
    assert tunnel.returncode == 0
    assert token not in tunnel_err
    assert tunnel_status(state)["state"] == "stopped"


def _http_ok(url) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_rejected_agent_is_told_and_stores_nothing(control_plane, tmp_path, live_server):
    cp = control_plane
    code = cp("POST", "admin/vma/pairing-code", json={}).json()["pairing_code"]
    state = tmp_path / "agent"
    enroll = start_enroll(live_server.url, code, state, name="stranger")
    enrollment_id = wait_for(lambda: pending_id(cp), 30, "the agent to enroll")
    assert cp("POST", f"admin/vma/reject/{enrollment_id}", json={"reason": "not ours"}).status_code == 200
    out, err = enroll.communicate(timeout=60)
    assert enroll.returncode == 1
    assert "ENROLLMENT_REJECTED" in err and "not ours" in err
    assert not (state / "enrollment.json").exists() and not (state / "oma-token").exists()
    assert not (state / "enrollment-pending.json").exists()


def test_enroll_with_a_used_code_fails_cleanly(control_plane, tmp_path, live_server, anon_client):
    from .conftest import enroll_and_prove

    cp = control_plane
    code = cp("POST", "admin/vma/pairing-code", json={}).json()["pairing_code"]
    enroll_and_prove(anon_client, code)
    enroll = start_enroll(live_server.url, code, tmp_path / "agent")
    out, err = enroll.communicate(timeout=60)
    assert enroll.returncode == 1 and "PAIRING_CODE_USED" in err and "Traceback" not in err
