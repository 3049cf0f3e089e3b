"""The tunnel sshd's side of the database: the managed authorized keys file and the settings agents are given."""
from __future__ import annotations

import logging
import pwd
from pathlib import Path

from apps.core.exceptions import ServiceUnavailable

from .. import conf, keys, selectors, sshd
from ..choices import ApplianceStatus
from ..models import Appliance

logger = logging.getLogger("apps.enrollment.services")


def authorized_keys_sync() -> int:
    """Rewrite the tunnel sshd's keys file from the database: one restricted line per approved agent with a key,
    which may open the API port and only that agent's own NBD ports.

    The whole file is derived each time under a lock, so concurrent approvals and revocations converge.
    """
    tunnel = conf.tunnel_conf()
    path = conf.authorized_keys_path()
    try:
        with sshd.keys_file_lock(path):
            appliances = (Appliance.objects.filter(status=ApplianceStatus.APPROVED).exclude(ssh_public_key="")
                          .order_by("appliance_id"))
            lines = []
            for appliance in appliances:
                key_type, key_b64 = appliance.ssh_public_key.split()[:2]
                lines.append(sshd.authorized_key_line(
                    key_type=key_type, key_b64=key_b64, appliance_id=appliance.appliance_id,
                    api_port=tunnel.api_port, nbd_ports=selectors.appliance_nbd_ports(appliance),
                    reverse_port=appliance.tunnel_reverse_port))
            sshd.write_authorized_keys(path, lines)
    except OSError as exc:
        logger.error("cannot write the tunnel authorized keys file path=%s error=%s", path, exc)
        raise ServiceUnavailable("Cannot update the tunnel's authorized keys file",
                                 details=f"{path}: {exc.strerror or exc}", error_code="KEYS_FILE_UNWRITABLE") from exc
    return len(lines)


def authorized_keys_resync() -> None:
    # A concurrent writer may have rendered the file from a snapshot without our change; render again once committed.
    authorized_keys_sync()


def tunnel_login_uid() -> int | None:
    try:
        return pwd.getpwnam(conf.tunnel_conf().ssh_user).pw_uid
    except KeyError:
        return None


def host_public_keys() -> list[str]:
    """The tunnel sshd's host keys (``type base64``), so the agent pins them instead of trusting on first use."""
    found = []
    for name in conf.host_key_files():
        try:
            parts = Path(name).read_text().split()
        except OSError:
            continue
        if len(parts) >= 2 and parts[0] in keys.SIGNATURE_ALGORITHMS:
            found.append(f"{parts[0]} {parts[1]}")
    return found


def tunnel_settings(appliance: Appliance, *, request_host: str) -> dict:
    """What the agent needs for `vma tunnel`; ``nbd_ports`` are its own block, the only ones it forwards."""
    tunnel = conf.tunnel_conf()
    return {
        "ssh_host": tunnel.ssh_host or request_host,
        "ssh_port": tunnel.ssh_port,
        "ssh_user": tunnel.ssh_user,
        "host_keys": host_public_keys(),
        "api_port": tunnel.api_port,
        "nbd_ports": selectors.appliance_nbd_ports(appliance),
        "reverse_port": appliance.tunnel_reverse_port,
        "cipher": tunnel.cipher,
        "keepalive_interval": tunnel.keepalive_interval,
    }
