"""Agents are isolated from each other (issue #13, item 4): each approved agent gets its own block of NBD export
ports, and a real sshd running the rendered configuration with the managed keys file lets an agent's key open its
own exports (real nbdkit) and refuses another agent's, even when the agent asks for that forward itself."""
import shutil
import socket
import subprocess

import pytest

from apps.enrollment.models import Appliance

from .conftest import enroll_and_prove, new_code, wait_port, write_key
from .test_sshd import _ssh

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def nbd_exports():
    """Four real NBD exports on 127.0.0.1 (nbdkit memory plugin), standing in for four VMs' replica exports."""
    if shutil.which("nbdkit") is None:
        pytest.skip("nbdkit is not installed (apt install nbdkit)")
    nbd = pytest.importorskip("nbd", reason="libnbd's Python binding is not installed (apt install python3-libnbd)")
    ports = _distinct_free_ports(4)
    processes = [subprocess.Popen(["nbdkit", "--foreground", "--exit-with-parent", "-i", "127.0.0.1", "-p", str(port),
                                   "memory", "8M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for port in ports]
    try:
        for port in ports:
            wait_port(port)
        yield nbd, ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def _distinct_free_ports(count: int) -> list[int]:
    """Ports free now and all different: each socket stays bound until every port is chosen (one at a time, the kernel
    may hand the same free port out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return sorted(sock.getsockname()[1] for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def _approve_and_fetch(admin, anon, name):
    """Enroll, approve and fetch the result as `vma enroll` does: the agent's key and its tunnel settings."""
    agent = enroll_and_prove(anon, new_code(admin), name=name)
    assert admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").status_code == 200
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {agent.poll_token}")
    try:
        body = anon.get("/api/v1/vma/enroll/result", {"enrollment_id": agent.enrollment_id}).json()
    finally:
        anon.credentials()
    return agent, body["tunnel"]


class Forwards:
    """`ssh -N -L` with one agent's key: each wanted control-plane port forwarded to a local port."""

    def __init__(self, lab, key_path, remote_ports):
        self.local = dict(zip(remote_ports, _distinct_free_ports(len(remote_ports)), strict=True))
        args = ["-N", "-o", "ExitOnForwardFailure=yes"]
        for remote, local in self.local.items():
            args += ["-L", f"127.0.0.1:{local}:127.0.0.1:{remote}"]
        self.process = subprocess.Popen(_ssh(lab, key_path, *args), stderr=subprocess.PIPE, text=True)
        for local in self.local.values():
            wait_port(local, timeout=15)
        self.stderr = ""

    def close(self) -> str:
        self.process.terminate()
        try:
            _, self.stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: what ssh said so far is all the test needs
            self.process.kill()
            _, self.stderr = self.process.communicate(timeout=10)
        return self.stderr


def _nbd_round_trip(nbd, port: int, data: bytes) -> bytes:
    handle = nbd.NBD()
    handle.connect_tcp("127.0.0.1", str(port))
    try:
        handle.pwrite(data, 4096)
        return handle.pread(len(data), 4096)
    finally:
        handle.shutdown()


def _refused(port: int) -> bool:
    """True when the local forward's connection is closed without a byte: sshd refused to open the channel (an
    opened one would carry nbdkit's greeting at once)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
        client.settimeout(15)
        return client.recv(1) == b""


def test_an_agents_key_opens_its_own_export_ports_and_not_another_agents(
        admin_client_api, anon_client, start_tunnel_sshd, nbd_exports, tmp_path, settings):
    nbd, ports = nbd_exports
    settings.MP_ENROLL_THROTTLE_RATE = "100/min"
    # Four NBD ports for two agents: a block of two each (MP_TUNNEL_NBD_PORTS_PER_AGENT unset).
    api_port, *reverse_ports = _distinct_free_ports(3)
    lab = start_tunnel_sshd(api_port=api_port, nbd_ports=ports, reverse_ports=reverse_ports)
    agent_a, tunnel_a = _approve_and_fetch(admin_client_api, anon_client, "site-a")
    agent_b, tunnel_b = _approve_and_fetch(admin_client_api, anon_client, "site-b")
    own_a, own_b = tunnel_a["nbd_ports"], tunnel_b["nbd_ports"]
    key_a = write_key(agent_a.key, tmp_path / "key_a")
    key_b = write_key(agent_b.key, tmp_path / "key_b")

    # Agent A asks its tunnel to forward its own first export port and agent B's first export port.
    forwards = Forwards(lab, key_a, [own_a[0], own_b[0]])
    try:
        data = b"agent-a" * 100
        assert _nbd_round_trip(nbd, forwards.local[own_a[0]], data) == data  # its own export: reachable
        assert _refused(forwards.local[own_b[0]]), f"agent A's key opened agent B's export port {own_b[0]}"
        with pytest.raises(nbd.Error):
            _nbd_round_trip(nbd, forwards.local[own_b[0]], b"x" * 512)
    finally:
        stderr = forwards.close()
    assert "open failed: administratively prohibited" in stderr, stderr

    # Agent B's key opens its own export, and is refused agent A's.
    forwards = Forwards(lab, key_b, [own_b[0], own_a[0]])
    try:
        assert _nbd_round_trip(nbd, forwards.local[own_b[0]], b"agent-b" * 10) == b"agent-b" * 10
        assert _refused(forwards.local[own_a[0]])
    finally:
        stderr = forwards.close()
    assert "administratively prohibited" in stderr, stderr

    # What each agent was told and what the keys file holds: disjoint blocks, each key's permitopen its own only.
    assert set(own_a).isdisjoint(own_b) and sorted(own_a + own_b) == ports
    lines = {line.rsplit(" ", 1)[1]: line for line in
             open(settings.MP_SSH_AUTHORIZED_KEYS).read().splitlines() if not line.startswith("#")}
    for appliance in Appliance.objects.all():
        line = lines[f"vma:{appliance.appliance_id}"]
        mine = own_a if appliance.name == "site-a" else own_b
        for port in ports:
            assert (f'permitopen="127.0.0.1:{port}"' in line) == (port in mine), (port, line)
