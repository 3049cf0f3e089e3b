"""Failover settings.

Each is a Django setting read with ``getattr`` (tests and deployments override it in settings), falling back to an
``MP_*`` environment variable of the same name, then to a default. ``docs/failover.md`` lists them.
"""
from __future__ import annotations

import os

from django.conf import settings


def _number(name: str, default: float) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    return float(os.environ.get(name, default))


def sync_warn_age() -> int:
    """A last sync older than this (seconds) is a readiness warning."""
    return int(_number("MP_FAILOVER_SYNC_WARN_AGE", 24 * 3600))


def stale_seconds() -> int:
    """A running failover step that has not reported for this long is failed and rolled back by the reaper."""
    return int(_number("MP_FAILOVER_STALE_SECONDS", 3600))


def final_sync_poll_seconds() -> float:
    """How often the waiting live failover re-checks its final sync (besides the sync's own finish signal)."""
    return _number("MP_FAILOVER_SYNC_POLL_SECONDS", 30)


def final_sync_timeout() -> int:
    """A live failover gives up on its final sync after this many seconds."""
    return int(_number("MP_FAILOVER_FINAL_SYNC_TIMEOUT", 12 * 3600))


def webhook_timeout() -> float:
    return _number("MP_FAILOVER_WEBHOOK_TIMEOUT", 10)


def custom_cpu_speed() -> int:
    """The cpuSpeed (MHz) a deploy on a customized compute offering without a speed of its own sends."""
    return int(_number("MP_FAILOVER_CPU_SPEED_MHZ", 2000))


def _flag(name: str, default: bool) -> bool:
    if hasattr(settings, name):
        return bool(getattr(settings, name))
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


def _text(name: str, default: str) -> str:
    if hasattr(settings, name):
        return str(getattr(settings, name) or "")
    return os.environ.get(name, default)


def convert_guests() -> bool:
    """Whether failovers convert the guest with virt-v2v-in-place (a request's custom_config.skip_conversion skips
    one failover's)."""
    return _flag("MP_FAILOVER_CONVERT", True)


def keep_nic_names() -> bool:
    """Whether the conversion gives the guest's NICs on KVM the names its configuration uses (nicnames.py)."""
    return _flag("MP_FAILOVER_KEEP_NIC_NAMES", True)


def virt_v2v_command() -> str:
    return _text("MP_VIRT_V2V_IN_PLACE", "virt-v2v-in-place")


def convert_timeout() -> int:
    """A conversion still running after this many seconds is ended and the failover fails (and rolls back)."""
    return int(_number("MP_FAILOVER_CONVERT_TIMEOUT", 3600))


def libguestfs_backend() -> str:
    return _text("MP_LIBGUESTFS_BACKEND", "direct")


def libguestfs_backend_settings() -> str:
    """`force_tcg` where the control plane's KVM cannot run libguestfs's appliance (nested virtualization)."""
    return _text("MP_LIBGUESTFS_BACKEND_SETTINGS", "")


def virtio_win() -> str:
    """Where the virtio-win drivers are (the ISO or its unpacked directory): a Windows guest cannot be converted
    without them. `VIRTIO_WIN`, the name virt-v2v itself reads, is accepted too."""
    return _text("MP_VIRTIO_WIN", "") or _text("VIRTIO_WIN", "")


def boot_check_timeout() -> int:
    """How long the platform waits for the started VM's guest to answer; 0 turns the boot verification off."""
    return int(_number("MP_FAILOVER_BOOT_CHECK_TIMEOUT", 600))


def boot_check_port() -> int:
    """The TCP port of the guest that proves it booted (SSH by default; 3389 for Windows guests is typical)."""
    return int(_number("MP_FAILOVER_BOOT_CHECK_PORT", 22))
