"""The control plane's side of the agent tunnel: sshd configuration, the managed authorized_keys file, and the
live sessions of each key (find them, end them).

No Django here: the benchmark and the lab use it too. ``services.py`` feeds it the settings.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import keys_command

LOOPBACK = "127.0.0.1"
# A session is refused anyway (MaxSessions 0); the forced command keeps a shell out even if someone copies a line
# into a general-purpose sshd.
FORCED_COMMAND = "/bin/false"


class SessionKillError(OSError):
    """A live tunnel session exists but this process is not allowed to end it."""


def key_options(*, api_port: int, nbd_ports: Iterable[int], reverse_port: int | None) -> str:
    """Per-key restrictions: nothing but the forwards this agent needs."""
    options = ["restrict", "port-forwarding", f'command="{FORCED_COMMAND}"', f'permitopen="{LOOPBACK}:{api_port}"']
    options += [f'permitopen="{LOOPBACK}:{port}"' for port in nbd_ports]
    if reverse_port is not None:
        options.append(f'permitlisten="{LOOPBACK}:{reverse_port}"')
    return ",".join(options)


def authorized_key_line(*, key_type: str, key_b64: str, appliance_id: str, api_port: int, nbd_ports: Iterable[int],
                        reverse_port: int | None) -> str:
    comment = "vma:" + "".join(c for c in appliance_id if c.isalnum() or c in "._-")
    return f"{key_options(api_port=api_port, nbd_ports=nbd_ports, reverse_port=reverse_port)} {key_type} {key_b64} {comment}"


def write_authorized_keys(path: Path, lines: list[str]) -> None:
    """Replace the file in one rename, so sshd reads either the old or the new list, never half of one.

    Readable by everybody: it holds public keys only, and the keys-command user must read it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Managed by the migration platform control plane: edits are overwritten.\n"
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".authorized_keys.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(header + "".join(line + "\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def keys_file_lock(path: Path):
    """Serialise rewrites across web workers: each rewrite reads the database and writes the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def render_sshd_config(*, port: int, listen_addresses: Iterable[str], host_keys: Iterable[str], pid_file: str,
                       user: str, keys_command: str, keys_command_user: str, authorized_keys: str,
                       sessions_dir: str, api_port: int, nbd_ports: Iterable[int], reverse_ports: Iterable[int],
                       use_pam: bool = False, client_alive_interval: int = 15, client_alive_count: int = 3) -> str:
    """A complete sshd_config for a dedicated tunnel sshd: one unprivileged user, keys from the control plane,
    forwarding only to the listed loopback ports, no sessions at all."""
    lines = [
        "# sshd for VMA agent tunnels (rendered by apps.enrollment.sshd.render_sshd_config).",
        f"Port {port}",
        *[f"ListenAddress {address}" for address in listen_addresses],
        *[f"HostKey {key}" for key in host_keys],
        f"PidFile {pid_file}",
        "LogLevel VERBOSE",
        f"UsePAM {'yes' if use_pam else 'no'}",
        f"AllowUsers {user}",
        "PermitRootLogin no",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "AuthorizedKeysFile none",
        f"AuthorizedKeysCommand {keys_command} {authorized_keys} {sessions_dir} %f",
        f"AuthorizedKeysCommandUser {keys_command_user}",
        "MaxAuthTries 3",
        "LoginGraceTime 30",
        "# Forwarding only: no shell, exec or subsystem (MaxSessions 0), no pty, agent, X11, tun or unix sockets.",
        "MaxSessions 0",
        "PermitTTY no",
        "X11Forwarding no",
        "AllowAgentForwarding no",
        "AllowStreamLocalForwarding no",
        "PermitTunnel no",
        "GatewayPorts no",
        "PermitUserEnvironment no",
        "PermitUserRC no",
        "AllowTcpForwarding yes",
        "PermitOpen " + " ".join(f"{LOOPBACK}:{p}" for p in [api_port, *nbd_ports]),
        "PermitListen " + " ".join(f"{LOOPBACK}:{p}" for p in reverse_ports),
        f"# A dead agent's session (and its reverse-forward port) is reclaimed within "
        f"{client_alive_interval * client_alive_count} s.",
        f"ClientAliveInterval {client_alive_interval}",
        f"ClientAliveCountMax {client_alive_count}",
        "TCPKeepAlive yes",
        "Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
        "PrintMotd no",
        "Banner none",
    ]
    return "\n".join(lines) + "\n"


def install_keys_command(destination: Path, interpreter: str = "/usr/bin/python3") -> Path:
    """Copy the keys-command helper where sshd accepts it (sshd wants it and its directories root-owned and not
    group- or world-writable)."""
    source = Path(keys_command.__file__).read_text(encoding="utf-8")
    body = source.split("\n", 1)[1]
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".mp-tunnel-keys.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"#!{interpreter} -IS\n{body}")
    os.chmod(temporary, 0o755)
    os.replace(temporary, destination)
    return destination


# --- live sessions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TunnelSession:
    fingerprint: str
    pid: int  # the privileged sshd monitor of the connection
    start_ticks: int  # its start time in clock ticks since boot: with pid, names exactly one process
    started_at: float  # seconds since the epoch
    authenticated: bool  # past authentication: the monitor has an sshd child running as the tunnel user


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            parent = keys_command.process_parent(int(name))
            if parent is not None:
                children.setdefault(parent, []).append(int(name))
    return children


def _uid_of(pid: int) -> int | None:
    # From "Uid:" in status, not the owner of /proc/<pid>: sshd makes itself non-dumpable, which turns that to root.
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _is_sshd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "sshd"
    except OSError:
        return False


def list_sessions(sessions_dir: Path, *, fingerprint: str | None = None, login_uid: int | None = None) -> list[TunnelSession]:
    """The live connections recorded by the keys command (of one key, when ``fingerprint`` is given).

    A record counts only while its pid runs with the recorded start time and is an sshd, so pid reuse never
    makes a stranger look like a session. Dead records are removed when this process may.
    """
    try:
        names = sorted(os.listdir(sessions_dir))
    except FileNotFoundError:
        return []
    sessions = []
    children = None
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    boot = None
    for name in names:
        if not name.endswith(keys_command.RECORD_SUFFIX):
            continue
        path = os.path.join(sessions_dir, name)
        record = keys_command.read_record(path)
        if record is None or not keys_command.is_live(record) or not _is_sshd(record["pid"]):
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        if fingerprint is not None and record.get("fingerprint") != fingerprint:
            continue
        if children is None:
            children = _children_by_parent()
            boot = _boot_time()
        # The post-authentication child is an sshd running as the tunnel user; the keys command, a child of the
        # monitor too while it runs, may run as that user as well but is not an sshd.
        authenticated = login_uid is None or any(_uid_of(child) == login_uid and _is_sshd(child)
                                                 for child in children.get(record["pid"], []))
        sessions.append(TunnelSession(fingerprint=record.get("fingerprint", ""), pid=record["pid"],
                                      start_ticks=record["start_ticks"],
                                      started_at=boot + record["start_ticks"] / ticks_per_second,
                                      authenticated=authenticated))
    return sessions


def terminate_sessions(sessions_dir: Path, fingerprint: str, *, timeout: float = 5.0) -> int:
    """End every live connection of one key: SIGTERM its sshd monitor, SIGKILL if it lingers. Returns how many."""
    ended = 0
    for session in list_sessions(sessions_dir, fingerprint=fingerprint):
        record = {"pid": session.pid, "start_ticks": session.start_ticks}
        try:
            # A pidfd pins the process: once it is checked, the signal cannot reach a newcomer reusing the pid.
            pidfd = os.pidfd_open(session.pid)
        except ProcessLookupError:
            continue
        try:
            if not keys_command.is_live(record):
                continue
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            except ProcessLookupError:
                continue
            except PermissionError as exc:
                raise SessionKillError(
                    f"not allowed to signal sshd session pid {session.pid}: the control plane needs CAP_KILL "
                    "(see docs/enrollment-tunnel.md)") from exc
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and keys_command.is_live(record):
                time.sleep(0.05)
            if keys_command.is_live(record):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)
        ended += 1
        with contextlib.suppress(OSError):
            os.unlink(keys_command.record_path(str(sessions_dir), fingerprint, session.pid))
    return ended


# --- a throwaway sshd for tests, the benchmark and the lab ----------------------------------------------------


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    children = _children_by_parent()
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def generate_host_key(path: Path) -> str:
    """An Ed25519 host key in OpenSSH format (0600); returns the public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    Path(f"{path}.pub").write_text(public + "\n")
    return public


def _privsep_directory() -> None:
    """The privilege separation directory: the one thing outside workdir sshd insists on, even for ``-t``.

    The ssh service creates it at boot (systemd's RuntimeDirectory); on a machine where that service never
    ran, /run/sshd does not exist and sshd refuses to start."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


class ThrowawaySshd:
    """A real OpenSSH server on 127.0.0.1 with its own host key and config in ``workdir``; never /etc/ssh."""

    def __init__(self, workdir: Path, *, binary: str = "/usr/sbin/sshd", port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.port = port or free_port()
        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.host_public_key = generate_host_key(self.host_key)
        self.config_path = self.workdir / "sshd_config"
        self.pid_file = self.workdir / "sshd.pid"
        self.log_path = self.workdir / "sshd.log"
        self.process: subprocess.Popen | None = None

    def check(self, config_text: str) -> None:
        """``sshd -t``: raise with sshd's own words if the configuration is invalid."""
        self.config_path.write_text(config_text)
        _privsep_directory()
        result = subprocess.run([self.binary, "-t", "-f", str(self.config_path)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"sshd -t rejected the configuration: {result.stderr.strip()}")

    def start(self, config_text: str | None = None, timeout: float = 10.0) -> None:
        if config_text is not None:
            self.check(config_text)
        _privsep_directory()
        self.process = subprocess.Popen([self.binary, "-D", "-f", str(self.config_path), "-E", str(self.log_path)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.process.returncode}: {self.log()}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                    if sock.recv(8).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on {self.port} within {timeout}s: {self.log()}")

    def stop(self, *, kill_sessions: bool = True) -> None:
        """Stop the listener and, unless told otherwise, every connection it serves (an sshd crash or reboot)."""
        if self.process is None:
            return
        sessions = descendants(self.process.pid) if kill_sessions else []
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def safe_directory(prefix: str = "mp-sshd-") -> Path:
    """A root-owned 0755 directory on a root-owned path (/run), where sshd accepts an AuthorizedKeysCommand."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/run"))
    os.chmod(path, 0o755)
    return path


def remove_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
