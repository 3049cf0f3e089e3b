"""The production disk source with VMware's VDDK: nbdkit's vddk plugin reads the snapshot's disk
(any backing: flat, delta chains, vSAN, vVol). Needs an nbdkit built with the vddk plugin and
VDDK itself (see docs/agent.md)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.vsphere import DiskInfo, VCenterEndpoint

from .base import DiskSourceError, private_file, running

log = logging.getLogger("agent.disksource")


def vddk_problem(libdir: str, nbdkit: str = "nbdkit") -> str | None:
    """Why the vddk source cannot run here (None: it can): VDDK's library under `libdir`, and
    an nbdkit that has the vddk plugin."""
    if not any(Path(libdir, "lib64").glob("libvixDiskLib.so*")):
        return f"VDDK is not installed: no lib64/libvixDiskLib.so in vddk.libdir {libdir}"
    try:
        probe = subprocess.run([nbdkit, "vddk", "--dump-plugin"], capture_output=True, text=True, timeout=30,
                               check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{nbdkit} cannot run: {exc}"
    if probe.returncode != 0:
        return f"{nbdkit} has no vddk plugin (Debian's nbdkit does not ship it)"
    return None


class VddkDiskSource:
    """Production source: nbdkit vddk plugin reading the snapshot's disk through VDDK.

    The password goes to nbdkit through a private 0600 file (`password=+FILE`), never on its
    command line where `ps` would show it.
    """

    name = "vddk"

    def __init__(self, libdir: str, transports: str = "nbdssl:nbd", config_file: str = "",
                 nbdkit: str = "nbdkit"):
        self.libdir = libdir
        self.transports = transports
        self.config_file = config_file
        self.nbdkit = nbdkit

    def server(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str, endpoint: VCenterEndpoint,
               password_file: str) -> Any:
        """The (not yet started) nbdkit vddk server for one snapshot disk."""
        from datamover.nbdkit import vddk_server

        if not endpoint.thumbprint:
            raise DiskSourceError("the vddk disk source needs vcenter.thumbprint (VDDK pins vCenter's certificate)")
        pin = endpoint.thumbprint.replace(":", "").upper()
        if len(pin) != 40:
            raise DiskSourceError("VDDK needs vCenter's SHA-1 thumbprint (40 hex digits)")
        return vddk_server(
            server=endpoint.host,
            port=endpoint.port if endpoint.port != 443 else None,
            thumbprint=":".join(pin[i:i + 2] for i in range(0, 40, 2)),
            user=endpoint.username,
            password_file=password_file,
            vm_moref=vm_id,
            snapshot_moref=snapshot_id,
            disk_path=disk.path,
            libdir=self.libdir,
            transports=self.transports,
            config=self.config_file or None,
            nbdkit=self.nbdkit,
        )

    @contextlib.contextmanager
    def open(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str, endpoint: VCenterEndpoint) -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix="vma-vddk-") as tmp:
            password_file = private_file(tmp, "password", endpoint.password)
            server = self.server(disk=disk, snapshot_id=snapshot_id, vm_id=vm_id, endpoint=endpoint,
                                 password_file=password_file)
            with running(server, "vddk") as uri:
                log.info("disk source ready plugin=vddk vm=%s snapshot=%s disk=%s", vm_id, snapshot_id, disk.key)
                yield uri

