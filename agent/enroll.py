"""`vma enroll`: join a control plane with a pairing code.

1. Make the agent's SSH key pair if it has none (Ed25519, by `cryptography`; 0600).
2. `POST /api/v1/vma/enroll` with the pairing code, the agent's name and version, and the public key.
3. Sign the challenge with the private key (paramiko) and `POST /api/v1/vma/enroll/verify`.
4. Poll `GET /api/v1/vma/enroll/result` until an administrator approves or rejects.
5. Store the result in the state directory (0600): login credentials, tunnel settings, and the control plane's
   SSH host key pinned in a known_hosts file the tunnel uses with strict checking.

While waiting, the enrollment id and poll token sit in `enrollment-pending.json`, so an interrupted `vma enroll`
resumes (run it again without `--code`).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import paramiko
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from agent import __version__
from agent.command import Command, state_dir_of
from agent.errors import AgentError

log = logging.getLogger("agent.enroll")

KEY_FILE = "tunnel_ed25519"
RESULT_FILE = "enrollment.json"
PENDING_FILE = "enrollment-pending.json"
TOKEN_FILE = "oma-token"
KNOWN_HOSTS_FILE = "known_hosts"
# The tunnel looks host keys up under this name, whatever address or port the control plane has.
HOST_KEY_ALIAS = "mp-control-plane"
# Must match apps.enrollment.keys.SIGNING_PREFIX: the agent builds the signed bytes itself, never signing
# whatever a server sends.
SIGNING_PREFIX = "mp-vma-enroll-v1"


class EnrollmentFailed(AgentError):
    code = "ENROLLMENT_FAILED"
    http_status = 502


class EnrollmentRejected(EnrollmentFailed):
    code = "ENROLLMENT_REJECTED"


def signing_message(enrollment_id: str, challenge: str) -> bytes:
    return f"{SIGNING_PREFIX}\n{enrollment_id}\n{challenge}\n".encode()


def write_private(path: Path, data: str | bytes) -> None:
    """Write a file only its owner can read, atomically; it never exists with looser permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def ensure_key(state_dir: Path) -> paramiko.Ed25519Key:
    """The agent's tunnel key, generated on first use (private key 0600, public key beside it)."""
    path = state_dir / KEY_FILE
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                              serialization.NoEncryption()))
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        path.with_name(KEY_FILE + ".pub").write_text(f"{public.decode()} vma@{socket.gethostname()}\n")
        log.info("generated tunnel key path=%s", path)
    try:
        return paramiko.Ed25519Key.from_private_key_file(str(path))
    except (OSError, paramiko.SSHException) as exc:
        raise EnrollmentFailed(f"cannot read the tunnel key {path}: {exc}") from exc


def public_key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def sign_challenge(key: paramiko.PKey, enrollment_id: str, challenge: str) -> str:
    return base64.b64encode(key.sign_ssh_data(signing_message(enrollment_id, challenge)).asbytes()).decode()


def api_root(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/api/v1") else f"{url}/api/v1"


class EnrollmentClient:
    """The control plane's public enrollment endpoints; retries while it is unreachable, honours 429."""

    def __init__(self, url: str, *, timeout: float = 30.0, verify: bool | str = True, attempts: int = 5,
                 sleep: Callable[[float], None] = time.sleep):
        self.base = api_root(url)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"vma/{__version__}"
        self.timeout = timeout
        self.tls_verify = verify
        self.attempts = attempts
        self.sleep = sleep

    def _call(self, method: str, path: str, *, json_body: Any = None, params: dict | None = None,
              token: str | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(method, f"{self.base}/{path}", json=json_body, params=params,
                                                headers=headers, timeout=self.timeout, verify=self.tls_verify)
            except requests.RequestException as exc:
                if attempt == self.attempts:
                    raise EnrollmentFailed(f"cannot reach the control plane at {self.base}: {exc}") from exc
                log.warning("control plane unreachable attempt=%d error=%s", attempt, type(exc).__name__)
                self.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if response.status_code in (429, 502, 503, 504) and attempt < self.attempts:
                wait = _retry_after(response, delay)
                log.warning("control plane busy status=%d retry_in=%.1fs", response.status_code, wait)
                self.sleep(wait)
                delay = min(delay * 2, 30.0)
                continue
            try:
                body = response.json()
            except ValueError:
                body = {"error": f"HTTP {response.status_code} without a JSON body"}
            return response.status_code, body if isinstance(body, dict) else {"error": str(body)}
        raise EnrollmentFailed("the control plane stayed busy")  # the loop always returns or raises first

    def enroll(self, *, code: str, name: str, version: str, public_key: str) -> dict:
        status, body = self._call("POST", "vma/enroll", json_body={
            "pairing_code": code, "name": name, "version": version, "ssh_public_key": public_key})
        return _expect(status, body, 201, "enroll")

    def verify(self, *, enrollment_id: str, signature: str) -> dict:
        status, body = self._call("POST", "vma/enroll/verify",
                                  json_body={"enrollment_id": enrollment_id, "signature": signature})
        return _expect(status, body, 200, "verify")

    def result(self, *, enrollment_id: str, poll_token: str) -> dict:
        status, body = self._call("GET", "vma/enroll/result", params={"enrollment_id": enrollment_id},
                                  token=poll_token)
        return _expect(status, body, 200, "fetch the result")


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return max(0.5, min(float(response.headers.get("Retry-After", default)), 120.0))
    except ValueError:
        return default


def _expect(status: int, body: dict, wanted: int, step: str) -> dict:
    if status != wanted:
        code = body.get("error_code") or f"HTTP {status}"
        raise EnrollmentFailed(f"cannot {step}: {body.get('error') or body.get('detail') or 'refused'} ({code})")
    return body


@dataclass
class Enrolled:
    appliance_id: str
    result_path: Path
    token_path: Path
    known_hosts_path: Path
    host_key_fingerprint: str


def fetch_host_key(host: str, port: int, timeout: float = 10.0) -> paramiko.PKey:
    """The host key the SSH server presents (key exchange only, no authentication)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def pin_host_key(tunnel: dict, state_dir: Path) -> tuple[Path, str]:
    """Write known_hosts for the tunnel. Keys published by the control plane (fetched over its API) are pinned and
    checked against what the sshd presents; with none published, the presented key is pinned on first use."""
    published = [k for k in tunnel.get("host_keys") or [] if isinstance(k, str) and len(k.split()) >= 2]
    presented = None
    try:
        presented = fetch_host_key(tunnel["ssh_host"], int(tunnel["ssh_port"]))
    except (OSError, paramiko.SSHException) as exc:
        if not published:
            raise EnrollmentFailed(f"cannot reach the tunnel sshd at {tunnel['ssh_host']}:{tunnel['ssh_port']} "
                                   f"to pin its host key: {exc}") from exc
        log.warning("tunnel sshd unreachable now, pinning the published host keys error=%s", exc)
    if published:
        if presented is not None and f"{presented.get_name()} {presented.get_base64()}" not in \
                [" ".join(k.split()[:2]) for k in published]:
            raise EnrollmentFailed(f"the sshd at {tunnel['ssh_host']}:{tunnel['ssh_port']} presents host key "
                                   f"{presented.fingerprint}, which the control plane did not publish")
        lines = [f"{HOST_KEY_ALIAS} {' '.join(k.split()[:2])}" for k in published]
    else:
        log.warning("control plane published no host key; pinning the presented one fingerprint=%s",
                    presented.fingerprint)
        lines = [f"{HOST_KEY_ALIAS} {presented.get_name()} {presented.get_base64()}"]
    path = state_dir / KNOWN_HOSTS_FILE
    write_private(path, "\n".join(lines) + "\n")
    fingerprint = presented.fingerprint if presented is not None else "(not checked)"
    return path, fingerprint


def store_result(result: dict, state_dir: Path, url: str) -> tuple[Path, Path]:
    """The one-time result: the token into its own 0600 file (for VMA_OMA_TOKEN_FILE), the rest beside it."""
    credentials = result.get("credentials") or {}
    tunnel = result.get("tunnel") or {}
    if not credentials.get("token") or not credentials.get("appliance_id") or not tunnel.get("ssh_host"):
        raise EnrollmentFailed("the approved result lacks credentials or tunnel settings")
    token_path = state_dir / TOKEN_FILE
    write_private(token_path, credentials["token"] + "\n")
    stored = {"control_plane_url": url, "appliance_id": credentials["appliance_id"],
              "enrollment_id": result.get("enrollment_id"), "token_file": str(token_path), "tunnel": tunnel,
              "enrolled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result_path = state_dir / RESULT_FILE
    write_private(result_path, json.dumps(stored, indent=2) + "\n")
    return result_path, token_path


def enroll(url: str, code: str | None, *, state_dir: Path, name: str, version: str = __version__,
           poll_interval: float = 5.0, wait_timeout: float = 3600.0, verify: bool | str = True,
           client: EnrollmentClient | None = None, sleep: Callable[[float], None] = time.sleep) -> Enrolled:
    """Enroll (or resume a pending enrollment when ``code`` is None) and wait for the administrator's decision."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    client = client or EnrollmentClient(url, verify=verify, sleep=sleep)
    pending_path = state_dir / PENDING_FILE
    if code:
        key = ensure_key(state_dir)
        started = client.enroll(code=code, name=name, version=version, public_key=public_key_line(key))
        enrollment_id, challenge = started["enrollment_id"], started["challenge"]
        log.info("enrolled enrollment_id=%s fingerprint=%s", enrollment_id, key.fingerprint)
        verified = client.verify(enrollment_id=enrollment_id, signature=sign_challenge(key, enrollment_id, challenge))
        write_private(pending_path, json.dumps({"url": url, "enrollment_id": enrollment_id,
                                                "poll_token": verified["poll_token"]}))
    elif pending_path.exists():
        log.info("resuming the pending enrollment in %s", pending_path)
    else:
        raise EnrollmentFailed("give --code (no pending enrollment to resume)")
    pending = json.loads(pending_path.read_text())
    deadline = time.monotonic() + wait_timeout
    announced = False
    while True:
        result = client.result(enrollment_id=pending["enrollment_id"], poll_token=pending["poll_token"])
        state = result.get("status")
        if state == "approved":
            break
        if state in ("rejected", "failed"):
            pending_path.unlink(missing_ok=True)
            reason = result.get("reason") or ""
            raise EnrollmentRejected(f"the control plane {state} this agent" + (f": {reason}" if reason else ""))
        if not announced:
            print(f"Waiting for an administrator to approve enrollment {pending['enrollment_id']} ...", flush=True)
            announced = True
        if time.monotonic() >= deadline:
            raise EnrollmentFailed(f"not approved within {wait_timeout:.0f}s; run `vma enroll` again to keep waiting")
        sleep(poll_interval)
    result_path, token_path = store_result(result, state_dir, pending["url"])
    pending_path.unlink(missing_ok=True)
    try:
        known_hosts, fingerprint = pin_host_key(result["tunnel"], state_dir)
    except EnrollmentFailed as exc:
        # The one-time credentials are safe on disk; say so, or the operator would think the enrollment was lost.
        raise EnrollmentFailed(f"enrolled as {result['appliance_id']} (credentials in {token_path}), but the tunnel "
                               f"host key is not pinned, so `vma tunnel` will refuse to connect: {exc.message}") from exc
    log.info("enrollment approved appliance_id=%s host_key=%s", result["appliance_id"], fingerprint)
    return Enrolled(appliance_id=result["appliance_id"], result_path=result_path, token_path=token_path,
                    known_hosts_path=known_hosts, host_key_fingerprint=fingerprint)


# --- command line ----------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="control plane URL, e.g. https://oma.example.com")
    parser.add_argument("--code", help="pairing code from the administrator (omit to resume waiting)")
    parser.add_argument("--name", default=socket.gethostname(), help="agent name shown to the administrator")
    parser.add_argument("--state-dir", help="where keys and the result go (default: server.state_dir)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between result polls")
    parser.add_argument("--wait-timeout", type=float, default=3600.0, help="give up waiting after this many seconds")
    parser.add_argument("--ca-file", help="CA bundle to verify the control plane's TLS certificate")


def run(args: argparse.Namespace, config: Any = None) -> int:
    enrolled = enroll(args.url, args.code, state_dir=state_dir_of(args, config), name=args.name, poll_interval=args.poll_interval,
                      wait_timeout=args.wait_timeout, verify=args.ca_file or True)
    print(f"Enrolled as {enrolled.appliance_id}.\n"
          f"  result:      {enrolled.result_path}\n"
          f"  token file:  {enrolled.token_path}\n"
          f"  known_hosts: {enrolled.known_hosts_path} (host key {enrolled.host_key_fingerprint})\n"
          f"Start the tunnel with `vma tunnel`, and run the agent with VMA_OMA_URL=http://localhost:8082 "
          f"VMA_OMA_APPLIANCE_ID={enrolled.appliance_id} VMA_OMA_TOKEN_FILE={enrolled.token_path}", flush=True)
    return 0


COMMAND = Command("enroll", help="enroll this agent with a pairing code",
                  description="Enroll this agent with the control plane", add_arguments=add_arguments, run=run)
register, main = COMMAND.register, COMMAND.main


if __name__ == "__main__":
    sys.exit(main())
