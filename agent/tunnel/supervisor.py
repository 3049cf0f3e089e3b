"""Keeping the tunnel up: the ssh client run, watched, probed and restarted with backoff, and its state for the agent's
health API."""

from __future__ import annotations

import collections
import http.client
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .settings import LOOPBACK, RESULT_FILE, STATUS_FILE, TunnelNotConfigured, TunnelSettings, ssh_command

log = logging.getLogger("agent.tunnel")

# ssh's own chatter that is not an error worth showing as last_error.
_NOISE = ("Authenticated to ", "Transferred: ", "Bytes per second: ")


def _port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_api(port: int, timeout: float = 5.0) -> tuple[bool, str]:
    """GET the control plane's /api/v1/health through the tunnel: a round trip, not just an open port."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", "/api/v1/health", headers={"Host": "localhost"})
        response = connection.getresponse()
        response.read()
        return response.status == 200, f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _Status:
    state: str = "stopped"  # stopped | connecting | connected | backoff | unauthorized
    since: str = field(default_factory=_now_iso)
    connected_since: str | None = None
    last_error: str | None = None
    reconnects: int = 0
    attempts: int = 0
    next_attempt_in: float | None = None
    api_reachable: bool | None = None
    last_probe_at: str | None = None
    ssh_pid: int | None = None


_active: "TunnelSupervisor | None" = None


class TunnelSupervisor:
    """Runs and re-runs the ssh client in a thread; `status()` is safe to call from any thread."""

    def __init__(self, settings: TunnelSettings, *, status_file: str | Path | None = None):
        self.settings = settings
        self.status_file = Path(status_file) if status_file else None
        self._status = _Status()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)

    # --- public -----------------------------------------------------------------------------------------------

    def start(self) -> "TunnelSupervisor":
        global _active
        if shutil.which(self.settings.ssh_binary) is None:
            raise TunnelNotConfigured(f"OpenSSH client {self.settings.ssh_binary!r} not found")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vma-tunnel", daemon=True)
        self._thread.start()
        _active = self
        return self

    def stop(self, timeout: float = 10.0) -> None:
        global _active
        self._stop.set()
        self._terminate()
        if self._thread is not None:
            self._thread.join(timeout)
        self._update(state="stopped", connected_since=None, ssh_pid=None, next_attempt_in=None)
        if _active is self:
            _active = None

    def status(self) -> dict[str, Any]:
        with self._lock:
            body = asdict(self._status)
        body.update({"ssh_host": self.settings.ssh_host, "ssh_port": self.settings.ssh_port,
                     "local_forwards": [f"{LOOPBACK}:{f.listen_port} -> control plane {LOOPBACK}:{f.target_port}"
                                        for f in self.settings.local_forwards],
                     "reverse_forwards": [f"control plane {LOOPBACK}:{f.listen_port} -> {LOOPBACK}:{f.target_port}"
                                          for f in self.settings.reverse_forwards],
                     "cipher": self.settings.cipher, "supervisor_pid": os.getpid()})
        return body

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_disconnected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._connected.is_set():
                return True
            time.sleep(0.05)
        return False

    # --- the loop ---------------------------------------------------------------------------------------------

    def _update(self, **changes: Any) -> None:
        with self._lock:
            if "state" in changes and changes["state"] != self._status.state:
                changes.setdefault("since", _now_iso())
            for key, value in changes.items():
                setattr(self._status, key, value)
        self._write_status()

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        body = json.dumps(self.status())
        temporary = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}.tmp")
        try:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(body)
            os.replace(temporary, self.status_file)
        except OSError as exc:
            log.warning("cannot write tunnel status path=%s error=%s", self.status_file, exc)

    def _read_stderr(self, stream) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line:
                self._stderr.append(line)

    def _stderr_lines(self) -> tuple[str, ...]:
        # A copy made in one C call, so the reader thread appending meanwhile cannot break the iteration.
        return tuple(self._stderr)

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _run(self) -> None:
        delay = self.settings.backoff_initial
        command = ssh_command(self.settings)
        while not self._stop.is_set():
            self._stderr.clear()
            with self._lock:
                attempts = self._status.attempts + 1
            self._update(state="connecting", attempts=attempts, next_attempt_in=None, api_reachable=None)
            log.info("tunnel connecting host=%s port=%d attempt=%d", self.settings.ssh_host, self.settings.ssh_port,
                     attempts)
            try:
                self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE, start_new_session=True)
            except OSError as exc:
                self._update(state="backoff", last_error=f"cannot start ssh: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.backoff_max)
                continue
            reader = threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True)
            reader.start()
            connected_at = self._watch(self._process)
            returncode = self._process.poll()
            reader.join(2)
            self._connected.clear()
            if self._stop.is_set():
                break
            errors = [line for line in self._stderr_lines() if not line.startswith(_NOISE)]
            message = errors[-1] if errors else f"ssh exited with status {returncode}"
            unauthorized = any("Permission denied" in line for line in errors)
            if connected_at is not None and time.monotonic() - connected_at >= self.settings.stable_after:
                delay = self.settings.backoff_initial
            wait = delay * random.uniform(0.8, 1.2)
            self._update(state="unauthorized" if unauthorized else "backoff", last_error=message,
                         connected_since=None, ssh_pid=None, api_reachable=None, next_attempt_in=round(wait, 1))
            log.warning("tunnel down error=%s retry_in=%.1fs", message, wait)
            self._stop.wait(wait)
            delay = min(delay * 2, self.settings.backoff_max)
        self._terminate()

    def _watch(self, process: subprocess.Popen) -> float | None:
        """Wait while ssh runs; mark the tunnel connected once authenticated with the API forward listening."""
        connected_at = None
        next_probe = 0.0
        while not self._stop.is_set() and process.poll() is None:
            if connected_at is None:
                authenticated = any(line.startswith("Authenticated to ") for line in self._stderr_lines())
                port = self.settings.api_local_port
                if authenticated and (port is None or _port_accepts(port)):
                    connected_at = time.monotonic()
                    with self._lock:
                        reconnects = self._status.reconnects + (1 if self._status.attempts > 1 else 0)
                    self._update(state="connected", connected_since=_now_iso(), ssh_pid=process.pid,
                                 last_error=None, reconnects=reconnects)
                    self._connected.set()
                    log.info("tunnel connected host=%s port=%d ssh_pid=%d", self.settings.ssh_host,
                             self.settings.ssh_port, process.pid)
            elif self.settings.api_local_port is not None and time.monotonic() >= next_probe:
                reachable, _detail = probe_api(self.settings.api_local_port)
                self._update(api_reachable=reachable, last_probe_at=_now_iso())
                next_probe = time.monotonic() + self.settings.probe_interval
            self._stop.wait(0.05 if connected_at is None else 0.5)
        return connected_at


def tunnel_status(state_dir: str | Path | None = None) -> dict[str, Any]:
    """The tunnel's state for the agent's /api/v1/health: the in-process supervisor if there is one, else what the
    `vma tunnel` process last wrote (reported as stopped if that process is gone)."""
    if _active is not None:
        return _active.status()
    state_dir = Path(state_dir or os.environ.get("VMA_STATE_DIR", "/var/lib/vma"))
    try:
        body = json.loads((state_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        configured = (state_dir / RESULT_FILE).exists()
        return {"state": "stopped" if configured else "not_configured"}
    pid = body.get("supervisor_pid")
    try:
        alive = isinstance(pid, int) and pid > 0 and (os.kill(pid, 0) is None)
    except ProcessLookupError:
        alive = False
    except PermissionError:
        alive = True
    if not alive and body.get("state") != "stopped":
        body.update(state="stopped", connected_since=None, ssh_pid=None,
                    last_error=body.get("last_error") or "the vma tunnel process is not running")
    return body

