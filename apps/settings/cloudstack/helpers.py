"""Pure helpers of the CloudStack client: volume names and sizes, guest device paths, local MACs.

None of them calls CloudStack: they name what the client creates, say where an attached
volume shows up on the control plane's VM and whether it has (dis)appeared, and list this
host's MAC addresses (to find the control plane's own VM).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

GiB = 1024**3
PRODUCTION_DEV_ROOT = Path("/dev")


def virtio_serial(volume_id: str) -> str:
    """The serial KVM gives a CloudStack volume's disk: UUID without dashes, first 20 chars."""
    return volume_id.replace("-", "")[:20]


def volume_device_path(volume_id: str, dev_root: str | Path = PRODUCTION_DEV_ROOT) -> Path:
    """Where the control plane sees an attached volume: <dev_root>/disk/by-id/virtio-<serial>."""
    return Path(dev_root) / "disk" / "by-id" / f"virtio-{virtio_serial(volume_id)}"


def size_bytes_to_gb(size_bytes: int) -> int:
    """CloudStack sizes custom volumes in whole GB (GiB); round up so the source always fits."""
    return max(1, math.ceil(size_bytes / GiB))


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
