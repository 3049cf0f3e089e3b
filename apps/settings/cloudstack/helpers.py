"""Pure helpers of the CloudStack client: volume names and sizes, guest device paths, local MACs, address checks.

None of them calls CloudStack: they name what the client creates, say where an attached
volume shows up on the control plane's VM and whether it has (dis)appeared, list this
host's MAC addresses (to find the control plane's own VM), and check where an API URL leads.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from apps.core.utils import whole_gib

from .errors import CloudStackAddressRefusedError, CloudStackUnreachableError

PRODUCTION_DEV_ROOT = Path("/dev")


def virtio_serial(volume_id: str) -> str:
    """The serial KVM gives a CloudStack volume's disk: UUID without dashes, first 20 chars."""
    return volume_id.replace("-", "")[:20]


def volume_device_path(volume_id: str, dev_root: str | Path = PRODUCTION_DEV_ROOT) -> Path:
    """Where the control plane sees an attached volume: <dev_root>/disk/by-id/virtio-<serial>."""
    return Path(dev_root) / "disk" / "by-id" / f"virtio-{virtio_serial(volume_id)}"


def size_bytes_to_gb(size_bytes: int) -> int:
    """CloudStack sizes custom volumes in whole GB (GiB); round up so the source always fits."""
    return max(1, whole_gib(size_bytes))


def volume_name_for_disk(vm_name: str, disk_unit: int | str) -> str:
    """`migration-<vm>-disk-<unit>`, limited to characters every CloudStack version signs alike."""
    safe_vm = re.sub(r"[^A-Za-z0-9._-]+", "-", vm_name).strip("-") or "vm"
    return f"migration-{safe_vm}-disk-{disk_unit}"


def local_macs(sys_class_net: str | Path = "/sys/class/net") -> set[str]:
    """MAC addresses of this host's interfaces (loopback's all-zero address left out)."""
    macs = set()
    for address in Path(sys_class_net).glob("*/address"):
        try:
            mac = address.read_text().strip().lower()
        except OSError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            macs.add(mac)
    return macs


def _wait_for_path(path: Path, *, present: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        # "Gone" means no link at all: a dangling by-id link still means the disk is there.
        if (path.exists() if present else not path.is_symlink() and not path.exists()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# Cloud instance metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba): they hand out credentials.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254",
                                                                 "100.100.100.200"))


def check_api_address(api_url: str, *, allow_loopback: bool, allow_link_local: bool) -> None:
    """Refuse an API URL whose host resolves to an address the platform must not call.

    Every address the host name resolves to is checked (a name with one public and one loopback address is
    refused): loopback and the unspecified address (this host) unless ``allow_loopback``; link-local and the
    cloud metadata addresses unless ``allow_link_local``. A name that does not resolve is unreachable.
    """
    try:
        parts = urlsplit(api_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise CloudStackUnreachableError(api_url, "not a valid http(s) URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise CloudStackUnreachableError(api_url, "the URL must start with http:// or https:// and name a host")
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise CloudStackUnreachableError(api_url, "host name does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if (address.is_loopback or address.is_unspecified) and not allow_loopback:
            raise CloudStackAddressRefusedError(api_url, f"{host} is this host ({address}); loopback addresses are "
                                                "refused unless MP_CLOUDSTACK_ALLOW_LOOPBACK is set")
        if (address.is_link_local or address in METADATA_ADDRESSES) and not allow_link_local:
            raise CloudStackAddressRefusedError(api_url, f"{host} resolves to {address}, a link-local or cloud "
                                                "metadata address; refused unless MP_CLOUDSTACK_ALLOW_LINK_LOCAL is set")
