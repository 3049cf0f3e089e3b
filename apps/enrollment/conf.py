"""Enrollment and tunnel settings.

Each is a Django setting read with ``getattr`` (so tests and deployments override it in settings), falling back to
an ``MP_*`` environment variable of the same name, then to a default. ``docs/enrollment-tunnel.md`` lists them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_HOST_KEY_FILES = ("/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ecdsa_key.pub",
                          "/etc/ssh/ssh_host_rsa_key.pub")


def _get(name: str, default):
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, default)


def parse_ports(value, name: str) -> list[int]:
    """Ports from a list, or from text like "10809-10824,10900"."""
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = []
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            low, sep, high = part.partition("-")
            try:
                items.extend(range(int(low), int(high) + 1) if sep else [int(low)])
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name}: cannot read {part!r} as a port or a range") from exc
    ports = []
    for item in items:
        port = int(item)
        if not 1 <= port <= 65535:
            raise ImproperlyConfigured(f"{name}: {port} is not a TCP port")
        if port not in ports:
            ports.append(port)
    return ports


def pairing_code_ttl() -> timedelta:
    return timedelta(minutes=float(_get("MP_PAIRING_CODE_TTL_MINUTES", 15)))


def challenge_ttl() -> timedelta:
    return timedelta(minutes=float(_get("MP_ENROLL_CHALLENGE_TTL_MINUTES", 10)))


def max_failed_proofs() -> int:
    return int(_get("MP_ENROLL_MAX_FAILED_PROOFS", 5))


def authorized_keys_path() -> Path:
    return Path(_get("MP_SSH_AUTHORIZED_KEYS", Path(settings.VAR_DIR) / "ssh" / "authorized_keys"))


def sessions_dir() -> Path:
    return Path(_get("MP_SSH_SESSIONS_DIR", Path(settings.VAR_DIR) / "ssh" / "sessions"))


def host_key_files() -> list[str]:
    value = _get("MP_SSH_HOST_KEY_FILES", ",".join(DEFAULT_HOST_KEY_FILES))
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


@dataclass(frozen=True)
class TunnelConf:
    """What the tunnel sshd accepts and what an approved agent is told."""

    ssh_host: str          # empty: the host name the agent used to reach the API
    ssh_port: int
    ssh_user: str
    api_port: int          # the control plane API on 127.0.0.1, the agent's forward to localhost:8082
    nbd_ports: tuple[int, ...]      # every agent's NBD ports together: the sshd's PermitOpen
    reverse_ports: tuple[int, ...]  # one per agent, where its API answers on the control plane
    nbd_ports_per_agent: int        # the size of each agent's own block of nbd_ports (its key's permitopen)
    cipher: str
    keepalive_interval: int


def tunnel_conf() -> TunnelConf:
    conf = TunnelConf(
        ssh_host=str(_get("MP_SSH_HOST", "")),
        ssh_port=int(_get("MP_SSH_PORT", 2222)),
        ssh_user=str(_get("MP_SSH_USER", "vma-tunnel")),
        api_port=int(_get("MP_TUNNEL_API_PORT", 8082)),
        nbd_ports=tuple(parse_ports(_get("MP_TUNNEL_NBD_PORTS", "10809-10824"), "MP_TUNNEL_NBD_PORTS")),
        reverse_ports=tuple(parse_ports(_get("MP_TUNNEL_REVERSE_PORTS", "9081-9090"), "MP_TUNNEL_REVERSE_PORTS")),
        cipher=str(_get("MP_TUNNEL_CIPHER", "aes128-gcm@openssh.com")),
        keepalive_interval=int(_get("MP_TUNNEL_KEEPALIVE_SECONDS", 10)),
        nbd_ports_per_agent=0,
    )
    if not conf.reverse_ports:
        raise ImproperlyConfigured("MP_TUNNEL_REVERSE_PORTS must name at least one port")
    per_agent = _get("MP_TUNNEL_NBD_PORTS_PER_AGENT", "")
    try:
        per_agent = int(per_agent) if str(per_agent).strip() else 0
    except ValueError as exc:
        raise ImproperlyConfigured(f"MP_TUNNEL_NBD_PORTS_PER_AGENT: {per_agent!r} is not a whole number") from exc
    if per_agent < 0:
        raise ImproperlyConfigured("MP_TUNNEL_NBD_PORTS_PER_AGENT cannot be negative")
    # Unset: the NBD ports shared evenly among as many agents as there are reverse ports.
    per_agent = per_agent or max(1, len(conf.nbd_ports) // len(conf.reverse_ports))
    return replace(conf, nbd_ports_per_agent=per_agent)


def nbd_port_blocks(conf: TunnelConf) -> list[tuple[int, ...]]:
    """The NBD ports cut into per-agent blocks, in order (the last may be shorter); an agent's key may open only
    its own block."""
    size = conf.nbd_ports_per_agent
    return [conf.nbd_ports[start:start + size] for start in range(0, len(conf.nbd_ports), size)]


def format_ports(ports) -> str:
    """Ports as the compact text ``parse_ports`` reads back: "10809-10818,10900"."""
    ranges: list[list[int]] = []
    for port in sorted(set(ports)):
        if ranges and port == ranges[-1][1] + 1:
            ranges[-1][1] = port
        else:
            ranges.append([port, port])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def keys_command_path() -> str:
    """Where the AuthorizedKeysCommand helper is installed (root-owned, for sshd)."""
    return str(_get("MP_SSH_KEYS_COMMAND", "/usr/local/libexec/mp-tunnel-keys"))


def free_nbd_block(conf: TunnelConf, taken: Iterable[str]) -> str | None:
    """The first block sharing no port with the blocks already handed out (``taken``, as stored), as text."""
    used: set[int] = set()
    for text in taken:
        used.update(parse_ports(text, "tunnel_nbd_ports"))
    for block in nbd_port_blocks(conf):
        if not used.intersection(block):
            return format_ports(block)
    return None
