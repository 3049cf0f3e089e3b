"""Enrollment fixtures: agent keys, an enrolled-and-proven agent, and the real peers (sshd, nbdkit)."""
from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from apps.enrollment import sshd as sshd_mod

TUNNEL_USER = "nobody"


def new_key() -> paramiko.Ed25519Key:
    private = ed25519.Ed25519PrivateKey.generate()
    text = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption()).decode()
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(text))
    key.openssh_text = text  # paramiko cannot write Ed25519 private keys back out
    return key


def write_key(key: paramiko.PKey, path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.openssh_text)
    return path


def public_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()} test@agent"


def sign(key: paramiko.PKey, enrollment_id: str, challenge: str) -> str:
    from apps.enrollment.keys import signing_message

    return base64.b64encode(key.sign_ssh_data(signing_message(enrollment_id, challenge)).asbytes()).decode()


def new_code(admin_client, **body) -> str:
    response = admin_client.post("/api/v1/admin/vma/pairing-code", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["pairing_code"]


@dataclass
class ProvenAgent:
    key: paramiko.PKey
    enrollment_id: str
    poll_token: str
    name: str


def enroll_and_prove(client, code: str, key: paramiko.PKey | None = None, name: str = "site-a") -> ProvenAgent:
    key = key or new_key()
    started = client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": name, "version": "0.1.0",
                                                 "ssh_public_key": public_line(key)}, format="json")
    assert started.status_code == 201, started.content
    body = started.json()
    verified = client.post("/api/v1/vma/enroll/verify", {
        "enrollment_id": body["enrollment_id"], "signature": sign(key, body["enrollment_id"], body["challenge"])},
        format="json")
    assert verified.status_code == 200, verified.content
    return ProvenAgent(key=key, enrollment_id=body["enrollment_id"], poll_token=verified.json()["poll_token"],
                       name=name)


@pytest.fixture
def tunnel_dir(tmp_path):
    """Where the keys file, session records and keys command live: a root-owned 0755 directory under /run, since
    sshd runs the keys command as the unprivileged tunnel user (who cannot enter pytest's 0700 tmp_path), and
    demands root-owned directories all the way up. Without root (API tests only) tmp_path does."""
    try:
        path = sshd_mod.safe_directory()
    except OSError:
        yield tmp_path
        return
    yield path
    sshd_mod.remove_directory(path)


@pytest.fixture
def tunnel_files(tunnel_dir, settings):
    """Keys file and session registry, wired into the settings."""
    sessions = tunnel_dir / "sessions"
    sessions.mkdir()
    # The keys command runs as the unprivileged tunnel user and must create records here.
    os.chmod(sessions, 0o1777)
    settings.MP_SSH_AUTHORIZED_KEYS = str(tunnel_dir / "authorized_keys")
    settings.MP_SSH_SESSIONS_DIR = str(sessions)
    settings.MP_SSH_USER = TUNNEL_USER
    settings.MP_SSH_HOST_KEY_FILES = []
    return tunnel_dir


def _need_sshd():
    if not Path("/usr/sbin/sshd").exists() or shutil.which("ssh") is None:
        pytest.skip("OpenSSH server or client is not installed (apt install openssh-server openssh-client)")
    if os.geteuid() != 0:
        pytest.skip("the tunnel sshd must run as root to switch to the unprivileged tunnel user")


@dataclass
class TunnelLab:
    sshd: sshd_mod.ThrowawaySshd
    config: str
    keys_command: Path

    @property
    def port(self) -> int:
        return self.sshd.port


@pytest.fixture
def start_tunnel_sshd(tmp_path, tunnel_files, settings):
    """Start the real sshd with the configuration the control plane documents (render_sshd_config)."""
    _need_sshd()
    labs: list[TunnelLab] = []

    def start(*, api_port: int, nbd_ports: list[int], reverse_ports: list[int]) -> TunnelLab:
        server = sshd_mod.ThrowawaySshd(tmp_path / "sshd")
        command = sshd_mod.install_keys_command(tunnel_files / "mp-tunnel-keys")
        settings.MP_SSH_PORT = server.port
        settings.MP_SSH_HOST = "127.0.0.1"
        settings.MP_SSH_HOST_KEY_FILES = [f"{server.host_key}.pub"]
        settings.MP_TUNNEL_API_PORT = api_port
        settings.MP_TUNNEL_NBD_PORTS = nbd_ports
        settings.MP_TUNNEL_REVERSE_PORTS = reverse_ports
        # Short enough to notice a dead peer within the tests, long enough for a loaded 2-core machine.
        settings.MP_TUNNEL_KEEPALIVE_SECONDS = 5
        config = sshd_mod.render_sshd_config(
            port=server.port, listen_addresses=["127.0.0.1"], host_keys=[str(server.host_key)],
            pid_file=str(server.pid_file), user=TUNNEL_USER, keys_command=str(command),
            keys_command_user=TUNNEL_USER, authorized_keys=settings.MP_SSH_AUTHORIZED_KEYS,
            sessions_dir=settings.MP_SSH_SESSIONS_DIR, api_port=api_port, nbd_ports=nbd_ports,
            reverse_ports=reverse_ports, client_alive_interval=5, client_alive_count=3)
        server.start(config)
        lab = TunnelLab(sshd=server, config=config, keys_command=command)
        labs.append(lab)
        return lab

    yield start
    for lab in labs:
        lab.sshd.stop()


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def nbdkit_memory():
    """A real NBD export on 127.0.0.1 (nbdkit memory plugin), standing in for a control-plane volume export."""
    if shutil.which("nbdkit") is None:
        pytest.skip("nbdkit is not installed (apt install nbdkit)")
    port = sshd_mod.free_port()
    process = subprocess.Popen(["nbdkit", "--foreground", "--exit-with-parent", "-i", "127.0.0.1", "-p", str(port),
                                "memory", "64M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


class _AgentApiHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = b'{"status": "healthy", "version": "test-agent"}' if self.path == "/api/v1/health" else b'{"error":"no"}'
        self.send_response(200 if self.path == "/api/v1/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hits.append(self.path)

    def log_message(self, *args):
        pass


@pytest.fixture
def agent_api_standin():
    """A small HTTP server on the agent side standing in for the agent API (seed 002 /api/v1/health)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgentApiHandler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _EchoServer:
    """TCP echo on 127.0.0.1 that remembers how many connections reached it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self):
        # Wake the blocked accept() and wait for its thread before the fd is released: a thread about to call accept()
        # on a closed fd number accepts on whatever socket reuses that number next (another test's server), stealing
        # its connections (it made later tests' stand-in agents look unreachable, then hang in shutdown()).
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def echo_server():
    server = _EchoServer()
    yield server
    server.close()
