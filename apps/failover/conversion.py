"""Guest conversion: virt-v2v-in-place makes a guest built on VMware bootable on KVM, on the replica volumes.

What it does to a Linux guest: virtio drivers into the initramfs (a host-only initramfs built on vSphere has only
PVSCSI/LSI drivers and panics on a virtio disk), the boot loader and fstab fixed for the new disk names, VMware
tools removed; Windows guests get the virtio-win drivers (`conf.virtio_win()`), which must be configured.

The guest is described to virt-v2v-in-place as libvirt XML (`-i libvirtxml`: several disks, the firmware, the NICs
with their MACs) over the volumes as this host sees them (block devices on a real control plane, files in the lab).
libguestfs runs its appliance with `LIBGUESTFS_BACKEND` (direct by default) and `LIBGUESTFS_BACKEND_SETTINGS`
(`force_tcg` where KVM cannot run nested).
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from . import conf

SKIP_KEY = "skip_conversion"  # custom_config key: a guest known to boot on KVM is not converted
LOG_KEEP = 64 * 1024  # the tail of the conversion's output kept on the job
POLL_SECONDS = 5.0


class ConversionFailed(Exception):
    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.message = message
        self.log = log


@dataclass(frozen=True)
class Guest:
    """What virt-v2v-in-place is told about the guest: its name, size, firmware, disks (boot disk first), NICs."""

    name: str
    disks: tuple[str, ...]
    memory_mb: int = 1024
    cpus: int = 1
    firmware: str = "bios"  # "efi" for a UEFI guest
    macs: tuple[str, ...] = ()
    windows: bool = False


@dataclass(frozen=True)
class Result:
    seconds: float
    log: str
    command: list[str]


def truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def skip_reason(custom_config: dict) -> str:
    """Why a failover with this custom_config does not convert its guest ("" when it does)."""
    if truthy(custom_config.get(SKIP_KEY)):
        return f"skipped by the request (custom_config.{SKIP_KEY})"
    if not conf.convert_guests():
        return "guest conversion is turned off on this platform (MP_FAILOVER_CONVERT)"
    return ""


def is_windows(guest_os_id: str) -> bool:
    """vSphere's guestId of a Windows guest (`windows2019srv_64Guest`, `win10_64Guest`, `winNetStandardGuest`)."""
    return guest_os_id.lower().startswith("win")


def domain_xml(guest: Guest) -> str:
    """Minimal libvirt XML (virt-v2v(1), "Minimal XML for -i libvirtxml option") with every disk and NIC."""
    domain = ET.Element("domain", type="kvm")
    ET.SubElement(domain, "name").text = guest.name
    ET.SubElement(domain, "memory", unit="MiB").text = str(guest.memory_mb)
    ET.SubElement(domain, "vcpu").text = str(guest.cpus)
    os_element = ET.SubElement(domain, "os", **({"firmware": "efi"} if guest.firmware == "efi" else {}))
    ET.SubElement(os_element, "type").text = "hvm"
    ET.SubElement(os_element, "boot", dev="hd")
    features = ET.SubElement(domain, "features")
    for name in ("acpi", "apic"):
        ET.SubElement(features, name)
    devices = ET.SubElement(domain, "devices")
    for index, path in enumerate(guest.disks):
        block = _is_block(path)
        disk = ET.SubElement(devices, "disk", type="block" if block else "file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="raw")
        ET.SubElement(disk, "source", **({"dev": path} if block else {"file": path}))
        ET.SubElement(disk, "target", dev=f"sd{chr(ord('a') + index)}", bus="scsi")
    for mac in guest.macs:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "mac", address=mac)
        ET.SubElement(nic, "source", network="default")
        ET.SubElement(nic, "model", type="vmxnet3")
    return ET.tostring(domain, encoding="unicode")


def _is_block(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def environment(guest: Guest) -> dict[str, str]:
    env = {**os.environ, "LIBGUESTFS_BACKEND": conf.libguestfs_backend()}
    if conf.libguestfs_backend_settings():
        env["LIBGUESTFS_BACKEND_SETTINGS"] = conf.libguestfs_backend_settings()
    if guest.windows:
        env["VIRTIO_WIN"] = conf.virtio_win()
    return env


def tail(text: str, lines: int = 15) -> str:
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def preflight(guest: Guest) -> str:
    """The tool's path, or ConversionFailed when it is missing or a Windows guest has no virtio-win drivers."""
    command_name = conf.virt_v2v_command()
    binary = shutil.which(command_name)
    if binary is None:
        raise ConversionFailed(f"{command_name} is not installed on the control plane (Debian package virt-v2v); "
                               "install it, or skip the conversion (custom_config.skip_conversion) for a guest that "
                               "already boots on KVM")
    if guest.windows and not conf.virtio_win():
        raise ConversionFailed("A Windows guest needs the virtio-win drivers to boot on KVM: set MP_VIRTIO_WIN to "
                               "the virtio-win ISO or directory on the control plane")
    return binary


def convert(guest: Guest, workdir: Path, *, heartbeat: Callable[[str], None] | None = None) -> Result:
    """Run virt-v2v-in-place over the guest's disks; its output goes to `workdir/convert.log` as it runs.

    Raises ConversionFailed (with the log) when the tool is missing, a Windows guest has no virtio-win, the tool
    fails, or it runs past `conf.convert_timeout()` (its process group is ended).
    """
    binary = preflight(guest)
    workdir.mkdir(parents=True, exist_ok=True)
    xml = workdir / "guest.xml"
    xml.write_text(domain_xml(guest))
    log_path = workdir / "convert.log"
    command = [binary, "-i", "libvirtxml", "--root", "first", str(xml)]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=environment(guest), cwd=workdir, start_new_session=True)
        try:
            while True:
                try:
                    process.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - started > conf.convert_timeout():
                    _end(process)
                    text = read_log(log_path)
                    raise ConversionFailed(f"The conversion did not finish within {conf.convert_timeout()} s "
                                           f"and was stopped; last lines:\n{tail(text)}", text)
                if heartbeat is not None:
                    heartbeat(tail(read_log(log_path), 1))
        except BaseException:
            _end(process)  # a worker stopping (or a bug) must not leave the tool writing the volumes
            raise
    text = read_log(log_path)
    if process.returncode != 0:
        raise ConversionFailed(f"{Path(binary).name} exited with status {process.returncode}; last lines:\n"
                               f"{tail(text)}", text)
    return Result(round(time.monotonic() - started, 1), text, command)


def read_log(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - LOG_KEEP))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _end(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
