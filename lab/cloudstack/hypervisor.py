"""The emulator's hypervisor host: a started VM whose root volume holds a bootable disk runs as QEMU.

Off unless the emulator is started with `--run-guests` (or LAB_RUN_GUESTS=1): then startVirtualMachine
(and deployVirtualMachine with startvm) launches `qemu-system-x86_64` over the VM's volume files, as
CloudStack's KVM agent would launch it through libvirt, and stop/destroy end the process. A VM
whose root volume is not a bootable disk (the control plane's own VM, the marker-disk VMs of the
tests) stays a record, as before.

What the process is made of follows the VM: the disk bus from the `rootDiskController` detail
(`dataDiskController` for data volumes), the NIC model from `nicAdapter`, the NICs' MACs, OVMF for
boot type UEFI. Each NIC has user-mode networking; the default NIC forwards a port of 127.0.0.1
to the guest's SSH, so the control plane can reach the guest. The serial console is appended to a
log kept with the VM (`<state>/guests/<vm id>/serial.log`), read through `GET /lab/guests`.

The accelerator is chosen by a probe that boots a kernel under KVM (where nested virtualization
hangs a Linux guest, /dev/kvm existing proves nothing) and falls back to TCG; docs/lab-guest.md.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lab.cloudstack.errors import internal
from lab.guest import cache_root

log = logging.getLogger("lab.cloudstack.hypervisor")

QEMU = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
MAX_MEMORY_MB = int(os.environ.get("LAB_GUEST_MAX_MEMORY_MB", "1024"))  # a shared 2-core host
MAX_CPUS = 2
STOP_TIMEOUT = 10.0
ENDPOINT_DETAIL = "bootCheckEndpoint"  # the VM detail apps/failover/bootcheck.py reads
PROBE_TIMEOUT = float(os.environ.get("LAB_GUEST_PROBE_TIMEOUT", "20"))

# rootDiskController values -> (controller device or None, disk device). CloudStack's KVM values
# (virtio, scsi = virtio-scsi, ide, sata) and vSphere's (pvscsi, lsilogic, lsisas1068), as far as
# QEMU emulates them: vSphere's "lsilogic" (LSI 53C1030) is not emulated, QEMU's LSI is the 53C895A.
DISK_BUSES: dict[str, tuple[str | None, str]] = {
    "virtio": (None, "virtio-blk-pci"),
    "scsi": ("virtio-scsi-pci", "scsi-hd"),
    "virtio-scsi": ("virtio-scsi-pci", "scsi-hd"),
    "pvscsi": ("pvscsi", "scsi-hd"),
    "lsi": ("lsi53c895a", "scsi-hd"),
    "lsilogic": ("lsi53c895a", "scsi-hd"),
    "lsisas1068": ("mptsas1068", "scsi-hd"),
    "ide": (None, "ide-hd"),  # q35's own AHCI controller: bus ide.N
    "sata": (None, "ide-hd"),
}
NIC_MODELS = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
              "vmxnet3": "vmxnet3", "rtl8139": "rtl8139"}
# vSphere puts NICs behind PCIe root ports numbered 192, 224, ...; udev names them ens192, ... A
# guest configured on vSphere finds its NIC by that name. A KVM host (CloudStack's, through libvirt)
# puts a virtio NIC behind a root port with no slot number: udev names it by its bus, enp1s0, ...,
# so a guest configured on vSphere does not find its NIC unless the conversion kept the name.
NIC_SLOT_BASE, NIC_SLOT_STEP = 192, 32
VSPHERE_NICS = ("vmxnet3", "e1000", "e1000e")  # the adapters a VMware host offers: placed as vSphere does


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    run_guests: bool = field(default_factory=lambda: truthy(os.environ.get("LAB_RUN_GUESTS")))
    accel: str = field(default_factory=lambda: os.environ.get("LAB_GUEST_ACCEL", "auto"))


settings = Settings()


def configure(*, run_guests: bool | None = None, accel: str | None = None) -> None:
    if run_guests is not None:
        settings.run_guests = run_guests
    if accel:
        if accel not in ("auto", "kvm", "tcg"):
            raise ValueError(f"accelerator must be auto, kvm or tcg, not {accel!r}")
        settings.accel = accel


# -- which VMs boot -------------------------------------------------------------------------------

def is_bootable(path: Path) -> bool:
    """A disk a firmware would boot: GPT, or an MBR with boot code and a partition."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    if len(head) < 1024:
        return False
    if head[512:520] == b"EFI PART":
        return True
    has_code = any(head[:440])
    has_partition = any(head[446 + 16 * i + 4] for i in range(4))
    return head[510:512] == b"\x55\xaa" and has_code and has_partition


# -- the accelerator ------------------------------------------------------------------------------

def _qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def probe_kvm(kernel: Path, workdir: Path, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Boot `kernel` under KVM with no root: a working KVM panics on the missing root in seconds."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not accessible"
    workdir.mkdir(parents=True, exist_ok=True)
    serial = workdir / "kvm-probe.log"
    serial.unlink(missing_ok=True)
    args = [QEMU, "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "256", "-nodefaults",
            "-display", "none", "-monitor", "none", "-no-reboot", "-serial", f"file:{serial}",
            "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1"]
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        tail = serial.read_text(errors="replace").strip().splitlines()[-1:] if serial.exists() else []
        return False, f"the kernel did not reach its root mount in {timeout:.0f} s under KVM " \
                      f"(last line: {tail[0] if tail else 'none'!r})"
    text = serial.read_text(errors="replace") if serial.exists() else ""
    if "Unable to mount root" in text or "Kernel panic" in text:
        return True, f"a kernel booted to its root mount under KVM in {time.monotonic() - started:.1f} s"
    return False, f"KVM run ended without the kernel booting: {err.decode(errors='replace')[-300:]!r}"


_accel_lock = threading.Lock()
_accel: dict | None = None


def accelerator(kernel: Path | None, cache_dir: Path) -> dict:
    """{"accel": "kvm"|"tcg", "reason": ...}: forced by LAB_GUEST_ACCEL, else probed once and cached."""
    global _accel
    with _accel_lock:
        if settings.accel in ("kvm", "tcg"):
            return {"accel": settings.accel, "reason": "set by LAB_GUEST_ACCEL/--guest-accel"}
        if _accel is not None:
            return _accel
        key = f"{platform.release()} | {_qemu_version()}"
        cached = cache_dir / "accel-probe.json"
        try:
            known = json.loads(cached.read_text())
            if known.get("key") == key:
                _accel = known
                return _accel
        except (OSError, ValueError):
            pass
        if kernel is None or not kernel.exists():
            return {"accel": "tcg", "reason": "no kernel to probe KVM with: TCG"}
        works, reason = probe_kvm(kernel, cache_dir)
        _accel = {"accel": "kvm" if works else "tcg", "reason": reason, "key": key,
                  "probed": datetime.now(UTC).isoformat(timespec="seconds")}
        cache_dir.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(_accel, indent=1))
        log.info("guest accelerator %s: %s", _accel["accel"], reason)
        return _accel


def _probe_kernel() -> tuple[Path | None, Path]:
    """The lab guest's kernel, if built (lab.guest caches it beside the images)."""
    root = cache_root()
    kernels = sorted(root.glob("*/vmlinuz"), key=lambda p: p.stat().st_mtime)
    return (kernels[-1] if kernels else None), root


# -- the processes --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _detail(vm: dict, name: str) -> str | None:
    """A VM detail, wherever the record keeps it (details map or a top-level field), any case."""
    for source in (vm.get("details") or {}, vm):
        for key, value in source.items():
            if key.lower() == name.lower() and value not in (None, ""):
                return str(value)
    return None


def guest_dir(lab, vm_id: str) -> Path:
    return lab.state_dir / "guests" / vm_id


def qemu_command(lab, vm: dict, volumes: list[dict], accel: str, ssh_port: int) -> list[str]:
    directory = guest_dir(lab, vm["id"])
    uefi = (_detail(vm, "boottype") or "").upper() == "UEFI"
    memory = max(256, min(int(vm.get("memory") or 512), MAX_MEMORY_MB))
    cpus = max(1, min(int(vm.get("cpunumber") or 1), MAX_CPUS))
    args = [QEMU, "-name", vm.get("instancename") or vm["id"], "-nodefaults", "-no-user-config",
            "-machine", f"q35,accel={accel}", "-cpu", "host" if accel == "kvm" else "max",
            "-m", str(memory), "-smp", str(cpus), "-display", "none", "-monitor", "none",
            # native PCIe hotplug, as on vSphere: the root ports' slot numbers name the NICs
            "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
            "-chardev", f"file,id=serial0,path={directory / 'serial.log'},append=on",
            "-serial", "chardev:serial0"]
    if uefi:
        vars_file = directory / "OVMF_VARS.fd"
        if not vars_file.exists():
            shutil.copyfile(OVMF_VARS, vars_file)
        args += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={vars_file}"]
    controllers: dict[str, str] = {}
    ide_unit = 0
    for volume in volumes:
        index = volume["deviceid"]
        wanted = _detail(vm, "rootDiskController" if index == 0 else "dataDiskController") \
            or _detail(vm, "rootDiskController") or "virtio"
        bus = wanted.lower() if wanted.lower() in DISK_BUSES else "virtio"
        controller, disk = DISK_BUSES[bus]
        drive = f"disk{index}"
        args += ["-drive", f"file={lab.volume_file(volume['id'])},format=raw,if=none,id={drive},"
                           "cache=writeback,discard=unmap"]
        device = f"{disk},drive={drive},serial={volume['id'].replace('-', '')[:20]}"
        if controller is not None:
            if controller not in controllers:
                controllers[controller] = f"ctl{len(controllers)}"
                args += ["-device", f"{controller},id={controllers[controller]}"]
            device += f",bus={controllers[controller]}.0,scsi-id={index}" if controller != "virtio-scsi-pci" \
                else f",bus={controllers[controller]}.0,channel=0,scsi-id=0,lun={index}"
        elif disk == "ide-hd":
            device += f",bus=ide.{ide_unit}"
            ide_unit += 1
        if index == 0:
            device += ",bootindex=0"
        args += ["-device", device]
    adapter = (_detail(vm, "nicAdapter") or "virtio").lower()
    model = NIC_MODELS.get(adapter, "virtio-net-pci")
    nics = vm.get("nics") or []
    reachable = next((i for i, nic in enumerate(nics) if nic.get("isdefault")), 0)
    for index, nic in enumerate(nics):
        port = f"rp{index}"
        slot = f",slot={NIC_SLOT_BASE + NIC_SLOT_STEP * index}" if adapter in VSPHERE_NICS else ""
        args += ["-device", f"pcie-root-port,id={port},bus=pcie.0,chassis={index + 1}{slot}"]
        netdev = f"user,id=net{index}"
        if index == reachable:
            netdev += f",hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
        args += ["-netdev", netdev, "-device", f"{model},netdev=net{index},bus={port},"
                                               f"mac={nic['macaddress']}"]
    return args


class Guests:
    """The QEMU processes of one emulator, by VM id; what each is is kept in guest.json beside it."""

    def __init__(self):
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def power_on(self, lab, vm: dict) -> dict | None:
        if not settings.run_guests:
            return None
        volumes = sorted((v for v in lab.volumes.values() if v.get("virtualmachineid") == vm["id"]
                          and v.get("deviceid") is not None), key=lambda v: v["deviceid"])
        root = next((v for v in volumes if v["deviceid"] == 0), None)
        if root is None or not is_bootable(lab.volume_file(root["id"])):
            return None
        if shutil.which(QEMU) is None:
            raise internal(f"Unable to start VM {vm['id']}: {QEMU} is not installed on the host")
        with self._lock:
            self._end(vm["id"])
            kernel, cache = _probe_kernel()
            chosen = accelerator(kernel, cache)
            directory = guest_dir(lab, vm["id"])
            directory.mkdir(parents=True, exist_ok=True)
            ssh_port = _free_port()
            args = qemu_command(lab, vm, volumes, chosen["accel"], ssh_port)
            started = datetime.now(UTC).isoformat(timespec="seconds")
            with open(directory / "serial.log", "ab") as serial:
                serial.write(f"\n=== lab: power on {started}, accelerator {chosen['accel']} ===\n".encode())
            with open(directory / "qemu.log", "ab") as err:
                process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                           start_new_session=True)
            time.sleep(0.3)
            if process.poll() is not None:
                tail = (directory / "qemu.log").read_text(errors="replace")[-800:]
                raise internal(f"Unable to start VM {vm['id']}: QEMU exited at once: {tail}")
            self._processes[vm["id"]] = process
            info = {"vm_id": vm["id"], "name": vm.get("name"), "pid": process.pid,
                    "accel": chosen["accel"], "accel_reason": chosen["reason"],
                    "ssh": {"host": "127.0.0.1", "port": ssh_port}, "started": started,
                    "serial_log": str(directory / "serial.log"), "command": args}
            (directory / "guest.json").write_text(json.dumps(info, indent=1))
            # Where the host reaches the guest's SSH: the control plane's boot verification reads it from the VM's
            # details (the product knows only "a detail holding host:port", never the lab).
            vm.setdefault("details", {})[ENDPOINT_DETAIL] = f"127.0.0.1:{ssh_port}"
            log.info("vm=%s guest started pid=%s accel=%s ssh=127.0.0.1:%s", vm["id"], process.pid,
                     chosen["accel"], ssh_port)
            return info

    def power_off(self, lab, vm: dict) -> None:
        (vm.get("details") or {}).pop(ENDPOINT_DETAIL, None)
        with self._lock:
            self._end(vm["id"])
            info = self._info(lab, vm["id"])
            if info is not None and info.get("pid"):
                _end_pid(info["pid"])  # a guest left by an earlier emulator process

    def _end(self, vm_id: str) -> None:
        process = self._processes.pop(vm_id, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # QEMU's answer: power off at once
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def resume(self, lab) -> None:
        """At emulator start: guests left by an earlier process end; running VMs boot again."""
        for info in self.list(lab):
            if info.get("pid"):
                _end_pid(info["pid"])
            vm = lab.vms.get(info["vm_id"])
            if vm is not None and vm["state"] == "Running":
                try:
                    self.power_on(lab, vm)
                except Exception:  # one broken guest must not keep the emulator from serving
                    log.exception("vm=%s guest did not start again", info["vm_id"])

    def shutdown(self) -> None:
        with self._lock:
            for vm_id in list(self._processes):
                self._end(vm_id)

    def _info(self, lab, vm_id: str) -> dict | None:
        try:
            return json.loads((guest_dir(lab, vm_id) / "guest.json").read_text())
        except (OSError, ValueError):
            return None

    def pid(self, vm_id: str) -> int | None:
        """The live QEMU process of a VM this emulator started (for its statistics), else None."""
        process = self._processes.get(vm_id)
        return process.pid if process is not None and process.poll() is None else None

    def describe(self, lab, vm_id: str) -> dict | None:
        info = self._info(lab, vm_id)
        if info is None:
            return None
        process = self._processes.get(vm_id)
        info["running"] = process is not None and process.poll() is None
        info["returncode"] = process.poll() if process is not None else None
        return info

    def list(self, lab) -> list[dict]:
        root = lab.state_dir / "guests"
        ids = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        return [info for info in (self.describe(lab, vm_id) for vm_id in ids) if info]

    def serial(self, lab, vm_id: str, tail: int | None = None) -> str | None:
        path = guest_dir(lab, vm_id) / "serial.log"
        if not path.exists():
            return None
        text = path.read_text(errors="replace")
        return text[-tail:] if tail else text


def _end_pid(pid: int) -> None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if QEMU.encode() not in cmdline:  # the pid was reused by something else
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


guests = Guests()


def power_on(lab, vm: dict) -> dict | None:
    return guests.power_on(lab, vm)


def power_off(lab, vm: dict) -> None:
    guests.power_off(lab, vm)
