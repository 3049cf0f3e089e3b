"""NBD exports of attached replica volumes: one nbdkit per VM disk, on 127.0.0.1, reused by every sync.

Exports outlive the Celery task that starts them (the agent writes through them afterwards), so nbdkit runs
as its own daemon with a pid file; the `vm_export_mappings` row is the source of truth for what runs where.

nbdkit asks no password, so what keeps an export to the agent of its VM is where it listens: on a port of that
agent's own block (`Appliance.tunnel_nbd_ports`), the only NBD ports its SSH key may open (docs/enrollment-tunnel.md).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.core.exceptions import ApplicationError
from apps.enrollment.conf import tunnel_conf
from apps.enrollment.models import Appliance
from apps.enrollment.selectors import appliance_nbd_ports
from apps.inventory.models import VM_ID_PATTERN

from .choices import ExportStatus
from .models import VMExportMapping

logger = logging.getLogger(__name__)


class ExportError(ApplicationError, status_code=500, error_code="EXPORT_FAILED"):
    """An NBD export could not be set up or torn down."""


@dataclass
class ExportInfo:
    mapping: VMExportMapping
    reused: bool


def export_name_for(vm_id: str, unit: int) -> str:
    # The name is also the pid and log file names under var/exports: the inventory validates ids on the way in,
    # and an id that got past it anyway never becomes a path.
    if not isinstance(vm_id, str) or not VM_ID_PATTERN.fullmatch(vm_id):
        raise ExportError(f"Refusing to export a disk of a VM whose id is not a plain identifier: {vm_id!r}",
                          error_code="INVALID_VM_ID")
    return f"migration-vm-{vm_id}-disk{int(unit)}"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process is not serving anything.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    except OSError:
        return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def export_is_up(mapping: VMExportMapping) -> bool:
    return (mapping.status == ExportStatus.ACTIVE and _pid_alive(mapping.pid) and mapping.port is not None
            and _port_open(settings.MP_NBD_BIND, mapping.port))


def export_ports(appliance: Appliance | None = None) -> list[int]:
    """Ports an export may use: MP_NBD_PORT_RANGE, and only those the agent's SSH key may open: for an agent with a
    tunnel key its own block, else all of MP_TUNNEL_NBD_PORTS (which defaults to the same range). An export
    elsewhere is unreachable through the agent's tunnel, or reachable by another agent's."""
    low, high = settings.MP_NBD_PORT_RANGE
    if appliance is not None and appliance.ssh_public_key:
        tunnel_ports = set(appliance_nbd_ports(appliance))
    else:
        tunnel_ports = set(tunnel_conf().nbd_ports)
    return [port for port in range(low, high + 1) if port in tunnel_ports]


def _usable_ports(appliance: Appliance | None = None) -> list[int]:
    ports = export_ports(appliance)
    if ports:
        return ports
    low, high = settings.MP_NBD_PORT_RANGE
    if appliance is not None and appliance.ssh_public_key:
        raise ExportError(f"No NBD port is both in MP_NBD_PORT_RANGE ({low}-{high}) and in the NBD ports of agent "
                          f"{appliance.appliance_id} ({appliance.tunnel_nbd_ports or 'none'}): it could reach no "
                          "export; make the two overlap, or enroll the agent again")
    raise ExportError(f"No NBD port is both in MP_NBD_PORT_RANGE ({low}-{high}) and in MP_TUNNEL_NBD_PORTS: "
                      "agents could reach no export; make the two overlap")


def _no_free_port(ports: list[int], appliance: Appliance | None) -> ExportError:
    return ExportError(f"No free NBD port among the {len(ports)} export ports (MP_NBD_PORT_RANGE within "
                       "MP_TUNNEL_NBD_PORTS" + (f", agent {appliance.appliance_id}'s own block" if appliance else "")
                       + "); widen both, or stop exports no VM needs (docs/operations.md, capacity)")


def agent_nbd_port_offset() -> int:
    """MP_AGENT_NBD_PORT_OFFSET: the agent's `vma tunnel --nbd-local-offset` (0 in production)."""
    value = settings.MP_AGENT_NBD_PORT_OFFSET
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ExportError(f"MP_AGENT_NBD_PORT_OFFSET must be a whole number, not {value!r}") from exc


def agent_target(mapping: VMExportMapping) -> dict:
    """The export as the agent reaches it: its tunnel's local forward of the export port, on MP_AGENT_NBD_HOST
    (the agent's loopback), at the export port plus the agent's local port offset."""
    port = mapping.port + agent_nbd_port_offset()
    if not 1 <= port <= 65535:
        raise ExportError(f"export port {mapping.port} plus MP_AGENT_NBD_PORT_OFFSET is not a TCP port ({port})")
    return {"host": settings.MP_AGENT_NBD_HOST, "port": port, "export_name": mapping.export_name}


def _run_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


class PortInUse(ExportError):
    """Something outside our records (another program) listens on the port: the caller takes the next one."""


def _pidfile(export_name: str) -> Path:
    return _run_dir() / f"{export_name}.pid"


def _start_nbdkit(*, export_name: str, device_path: str, port: int) -> int:
    pidfile = _pidfile(export_name)
    pidfile.unlink(missing_ok=True)
    log_path = _run_dir() / f"{export_name}.log"
    with open(log_path, "ab") as log:
        start = log.tell()
        # nbdkit forks into the background once it listens and writes the pid file: readiness without polling ports.
        cmd = ["nbdkit", "--ipaddr", settings.MP_NBD_BIND, "--port", str(port), "--pidfile", str(pidfile),
               "--exportname", export_name, "--threads", "16", "file", f"file={device_path}", "cache=none"]
        proc = subprocess.run(cmd, stdout=log, stderr=log, start_new_session=True, timeout=30)
    if proc.returncode != 0:
        with open(log_path, "rb") as log:
            log.seek(start)
            tail = log.read().decode(errors="replace")[-500:].strip()
        if "Address already in use" in tail:
            raise PortInUse(f"port {port} is taken outside the export records: {tail}")
        raise ExportError(f"nbdkit failed to export {device_path}: {tail}")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        if time.monotonic() > deadline:
            raise ExportError(f"nbdkit for {export_name} did not write its pid file")
        time.sleep(0.02)
    return int(pidfile.read_text().strip())


def _pid_from_file(export_name: str) -> int | None:
    """The pid nbdkit wrote for an export whose worker died before recording it; only while that pid is still this
    export's nbdkit (a pid file outlives a killed nbdkit, and its pid may belong to another process by now)."""
    try:
        text = _pidfile(export_name).read_text().strip()
        argv = Path(f"/proc/{int(text)}/cmdline").read_bytes().split(b"\0") if text.isdigit() else []
    except OSError:
        return None
    if not argv or not argv[0].endswith(b"nbdkit") or export_name.encode() not in argv:
        return None
    return int(text)


def recorded_pid(mapping: VMExportMapping) -> int | None:
    """The export's nbdkit: the recorded pid, else the one its pid file names (written before the row)."""
    return mapping.pid or _pid_from_file(mapping.export_name)


def stop_pid(pid: int | None) -> None:
    if not _pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def ensure_export(*, vm_id: str, vm_name: str, disk_unit: int, device_path: str,
                  appliance: Appliance | None = None) -> ExportInfo:
    """Reuse the VM disk's running export; start one only when none is up (never restart a live one that the
    serving agent ``appliance`` may reach). A new export takes a port of that agent's own block."""
    mapping = VMExportMapping.objects.filter(vm_id=vm_id, disk_unit_number=disk_unit).first()
    if mapping is not None and not mapping.pid and mapping.status == ExportStatus.ACTIVE:
        # A worker died between nbdkit's start and recording its pid: the pid file still names it.
        mapping.pid = _pid_from_file(mapping.export_name)
        if mapping.pid:
            VMExportMapping.objects.filter(pk=mapping.pk).update(pid=mapping.pid)
    if (mapping is not None and mapping.device_path == device_path and mapping.port in export_ports(appliance)
            and export_is_up(mapping)):
        return ExportInfo(mapping=mapping, reused=True)
    if mapping is not None:
        # Up but for another device (the volume was re-attached elsewhere), or in a block that is not the serving
        # agent's (another agent serves the VM now), or dead: that one is stale and gives its port back.
        stop_export(mapping)
    name = mapping.export_name if mapping else export_name_for(vm_id, disk_unit)
    ports = _usable_ports(appliance)
    taken = set(VMExportMapping.objects.filter(active_port__isnull=False).values_list("active_port", flat=True))
    for port in ports:
        if port in taken:
            continue
        # The port's lock first (the unique active_port), then nbdkit: a worker dying in between leaves a row
        # that names the port and the export, which the next sync of the disk finds and replaces.
        try:
            with transaction.atomic():
                mapping, _ = VMExportMapping.objects.update_or_create(
                    vm_id=vm_id, disk_unit_number=disk_unit,
                    defaults={"vm_name": vm_name, "export_name": name, "device_path": device_path, "port": port,
                              "active_port": port, "pid": None, "status": ExportStatus.ACTIVE})
        except IntegrityError:
            continue  # another worker locked this port first
        try:
            pid = _start_nbdkit(export_name=name, device_path=device_path, port=port)
        except PortInUse as exc:
            logger.warning("export port busy outside our records name=%s port=%s: %s", name, port, exc.message)
            _unlock(mapping)
            continue
        except BaseException:
            _unlock(mapping)
            raise
        VMExportMapping.objects.filter(pk=mapping.pk).update(pid=pid)
        mapping.pid = pid
        logger.info("export started name=%s port=%s device=%s pid=%s", name, port, device_path, pid)
        return ExportInfo(mapping=mapping, reused=False)
    raise _no_free_port(ports, appliance)


def _unlock(mapping: VMExportMapping) -> None:
    VMExportMapping.objects.filter(pk=mapping.pk).update(status=ExportStatus.INACTIVE, active_port=None, pid=None)
    mapping.status, mapping.active_port, mapping.pid = ExportStatus.INACTIVE, None, None


def stop_export(mapping: VMExportMapping) -> None:
    stop_pid(recorded_pid(mapping))
    _unlock(mapping)


def stop_exports_on_ports(ports: list[int]) -> int:
    """Stop the active exports listening on these ports (a revoked agent's block, before another agent gets it)."""
    mappings = list(VMExportMapping.objects.filter(status=ExportStatus.ACTIVE, port__in=ports))
    for mapping in mappings:
        stop_export(mapping)
    return len(mappings)


def stop_exports_for_vm(vm_id: str) -> int:
    mappings = list(VMExportMapping.objects.filter(vm_id=vm_id, status=ExportStatus.ACTIVE))
    for mapping in mappings:
        stop_export(mapping)
    return len(mappings)
