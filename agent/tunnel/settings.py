"""What the tunnel is: its ports and keys from the enrollment result, and the OpenSSH command line that makes it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The files `vma enroll` writes are named once, there.
from agent.enroll import HOST_KEY_ALIAS, KEY_FILE, KNOWN_HOSTS_FILE, RESULT_FILE
from agent.errors import AgentError

STATUS_FILE = "tunnel-status.json"
LOOPBACK = "127.0.0.1"


class TunnelNotConfigured(AgentError):
    code = "TUNNEL_NOT_CONFIGURED"
    http_status = 503


@dataclass(frozen=True)
class Forward:
    listen_port: int  # local forward: on the agent's loopback; reverse forward: on the control plane's loopback
    target_port: int  # local forward: on the control plane's loopback; reverse forward: on the agent's loopback


@dataclass
class TunnelSettings:
    ssh_host: str
    ssh_port: int
    ssh_user: str
    key_file: str
    known_hosts_file: str
    local_forwards: list[Forward]
    reverse_forwards: list[Forward]
    api_local_port: int | None = None  # the local forward that reaches the control plane API (health probe)
    cipher: str = "aes128-gcm@openssh.com"
    keepalive_interval: int = 10
    keepalive_count: int = 3
    connect_timeout: int = 15
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    stable_after: float = 30.0  # connected this long: the next failure starts the backoff afresh
    probe_interval: float = 15.0
    ssh_binary: str = "ssh"
    host_key_alias: str = HOST_KEY_ALIAS


def settings_from_enrollment(state_dir: str | Path, *, api_local_port: int = 8082, agent_api_port: int = 8081,
                             nbd_local_offset: int = 0, **overrides: Any) -> TunnelSettings:
    """Tunnel settings from what `vma enroll` stored; local ports default to the seeds' (API 8082, NBD same)."""
    state_dir = Path(state_dir)
    try:
        stored = json.loads((state_dir / RESULT_FILE).read_text())
        tunnel = stored["tunnel"]
    except (OSError, ValueError, KeyError) as exc:
        raise TunnelNotConfigured(f"no enrollment result in {state_dir}: run `vma enroll` first") from exc
    local = [Forward(api_local_port, int(tunnel["api_port"]))]
    local += [Forward(int(port) + nbd_local_offset, int(port)) for port in tunnel.get("nbd_ports") or []]
    reverse = [Forward(int(tunnel["reverse_port"]), agent_api_port)] if tunnel.get("reverse_port") else []
    values: dict[str, Any] = dict(
        ssh_host=tunnel["ssh_host"], ssh_port=int(tunnel["ssh_port"]), ssh_user=tunnel["ssh_user"],
        key_file=str(state_dir / KEY_FILE), known_hosts_file=str(state_dir / KNOWN_HOSTS_FILE),
        local_forwards=local, reverse_forwards=reverse, api_local_port=api_local_port,
        cipher=tunnel.get("cipher") or "aes128-gcm@openssh.com",
        keepalive_interval=int(tunnel.get("keepalive_interval") or 10))
    values.update(overrides)
    return TunnelSettings(**values)


def ssh_command(settings: TunnelSettings) -> list[str]:
    """The OpenSSH client command line: forwards only, no session, nothing from user config files."""
    ciphers = settings.cipher if settings.cipher == "chacha20-poly1305@openssh.com" else \
        f"{settings.cipher},chacha20-poly1305@openssh.com"
    command = [
        settings.ssh_binary, "-N", "-T", "-n", "-F", "none",
        "-o", "BatchMode=yes",
        "-o", "ExitOnForwardFailure=yes",
        "-o", f"ServerAliveInterval={settings.keepalive_interval}",
        "-o", f"ServerAliveCountMax={settings.keepalive_count}",
        "-o", f"ConnectTimeout={settings.connect_timeout}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={settings.known_hosts_file}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"HostKeyAlias={settings.host_key_alias}",
        "-o", "UpdateHostKeys=no",
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", f"IdentityFile={settings.key_file}",
        "-o", "PasswordAuthentication=no",
        "-o", "KbdInteractiveAuthentication=no",
        "-o", f"Ciphers={ciphers}",
        "-o", "Compression=no",  # disk blocks are mostly incompressible and this path is CPU-bound
        "-o", "IPQoS=throughput",
        "-o", "ForwardAgent=no",
        "-o", "ForwardX11=no",
        "-o", "ControlMaster=no",
        "-o", "ControlPath=none",
        "-o", "LogLevel=VERBOSE",  # "Authenticated to ..." tells the supervisor the session is up
        "-p", str(settings.ssh_port),
        "-l", settings.ssh_user,
    ]
    for forward in settings.local_forwards:
        command += ["-L", f"{LOOPBACK}:{forward.listen_port}:{LOOPBACK}:{forward.target_port}"]
    for forward in settings.reverse_forwards:
        command += ["-R", f"{LOOPBACK}:{forward.listen_port}:{LOOPBACK}:{forward.target_port}"]
    command.append(settings.ssh_host)
    return command

