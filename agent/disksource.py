"""Disk sources: serve one snapshot disk read-only over NBD for `datamover.copy` to read.

- `FileDiskSource` (lab): nbdkit's file plugin over the disk's `-flat.vmdk`, found from the
  snapshot's backing file name through the datastore-name -> directory map (vcsim keeps each
  datastore in a directory).
- `VddkDiskSource` (production): nbdkit's vddk plugin, which reads the snapshot's disk through
  VMware's VDDK (needs an nbdkit built with the vddk plugin and VDDK itself, see docs/agent.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from agent.config import AgentConfig
from agent.errors import OperationFailed
from agent.vsphere import DiskInfo, VCenterEndpoint, datastore_of

log = logging.getLogger("agent.disksource")


class DiskSourceError(OperationFailed):
    """The disk of the snapshot cannot be served (file missing, nbdkit failed to start)."""


class DiskSource(Protocol):
    def open(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str,
             endpoint: VCenterEndpoint) -> contextlib.AbstractContextManager[str]:
        """Serve the disk as frozen in the snapshot; the context yields an NBD URI."""


def flat_path(file_name: str, datastore_map: dict[str, str]) -> Path:
    """Local path of a disk's flat extent: "[ds] dir/vm.vmdk" -> <map[ds]>/dir/vm-flat.vmdk."""
    datastore, relative = datastore_of(file_name)
    if not datastore:
        raise DiskSourceError(f"disk file {file_name!r} names no datastore")
    root = datastore_map.get(datastore)
    if root is None:
        known = ", ".join(sorted(datastore_map)) or "none"
        raise DiskSourceError(f"datastore {datastore!r} has no local directory in replication.datastore_map "
                              f"(VMA_DATASTORE_MAP); mapped: {known}")
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise DiskSourceError(f"disk file {file_name!r} is outside its datastore")
    flat_name = rel.name[:-5] + "-flat.vmdk" if rel.name.endswith(".vmdk") else rel.name
    return Path(root).joinpath(*rel.parent.parts, flat_name)


class FileDiskSource:
    """Lab source: nbdkit file plugin, read-only, over the flat file."""

    def __init__(self, datastore_map: dict[str, str], nbdkit: str = "nbdkit"):
        self.datastore_map = datastore_map
        self.nbdkit = nbdkit

    @contextlib.contextmanager
    def open(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str, endpoint: VCenterEndpoint) -> Iterator[str]:
        path = flat_path(disk.path, self.datastore_map)
        if not path.is_file():
            raise DiskSourceError(f"flat file of {disk.path} not found at {path}")
        from datamover.nbdkit import (
            file_server,  # libnbd/nbdkit are needed only when copying
        )

        with _running(file_server(str(path), readonly=True, nbdkit=self.nbdkit), "file") as uri:
            log.info("disk source ready plugin=file vm=%s disk=%s path=%s", vm_id, disk.key, path)
            yield uri


class VddkDiskSource:
    """Production source: nbdkit vddk plugin reading the snapshot's disk through VDDK.

    The password goes to nbdkit through a private 0600 file (`password=+FILE`), never on its
    command line where `ps` would show it.
    """

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
            password_file = os.path.join(tmp, "password")
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(endpoint.password)
            server = self.server(disk=disk, snapshot_id=snapshot_id, vm_id=vm_id, endpoint=endpoint,
                                 password_file=password_file)
            with _running(server, "vddk") as uri:
                log.info("disk source ready plugin=vddk vm=%s snapshot=%s disk=%s", vm_id, snapshot_id, disk.key)
                yield uri


@contextlib.contextmanager
def _running(server: Any, plugin: str) -> Iterator[str]:
    from datamover.nbdkit import NbdkitError

    try:
        server.start()
    except NbdkitError as exc:
        raise DiskSourceError(f"nbdkit {plugin} could not start: {exc}") from exc
    try:
        yield server.uri
    finally:
        server.stop()


def make_disk_source(config: AgentConfig) -> Any:
    rep = config.replication
    if rep.disk_source == "vddk":
        return VddkDiskSource(config.vddk.libdir, config.vddk.transports, config.vddk.config_file, rep.nbdkit)
    return FileDiskSource(rep.datastore_map, rep.nbdkit)
