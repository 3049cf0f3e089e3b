"""The lab's disk source: nbdkit's file plugin over the disk's `-flat.vmdk`, found from the
snapshot's backing file name through the datastore-name -> directory map (vcsim keeps each
datastore in a directory)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from agent.vsphere import DiskInfo, VCenterEndpoint

from .base import DiskSourceError, flat_file, running

log = logging.getLogger("agent.disksource")


def flat_path(file_name: str, datastore_map: dict[str, str]) -> Path:
    """Local path of a disk's flat extent: "[ds] dir/vm.vmdk" -> <map[ds]>/dir/vm-flat.vmdk."""
    datastore, relative = flat_file(file_name)
    root = datastore_map.get(datastore)
    if root is None:
        known = ", ".join(sorted(datastore_map)) or "none"
        raise DiskSourceError(f"datastore {datastore!r} has no local directory in replication.datastore_map "
                              f"(VMA_DATASTORE_MAP); mapped: {known}")
    return Path(root).joinpath(*relative.parts)


class FileDiskSource:
    """Lab source: nbdkit file plugin, read-only, over the flat file."""

    name = "file"

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

        with running(file_server(str(path), readonly=True, nbdkit=self.nbdkit), "file") as uri:
            log.info("disk source ready plugin=file vm=%s disk=%s path=%s", vm_id, disk.key, path)
            yield uri
