"""What every disk source is: the protocol the replication runner uses, its error, and the
nbdkit start/stop every source shares."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, Protocol

from agent.errors import OperationFailed
from agent.vsphere import DiskInfo, VCenterEndpoint, flat_extent


class DiskSourceError(OperationFailed):
    """The disk of the snapshot cannot be served (file missing, nbdkit failed to start)."""


class NeedsVddk(DiskSourceError):
    """The VM's disks cannot be read without VDDK, and VDDK is not installed: the reasons say why."""

    def __init__(self, reasons: list[str], *, vddk_problem: str):
        self.reasons = list(reasons)
        super().__init__(f"this VM needs VDDK ({vddk_problem}): the https disk source reads base flat "
                         f"disk files only, and {'; '.join(reasons)}")


class DiskSource(Protocol):
    # "file", "vddk" or "https": recorded per disk in the job's progress.
    name: str

    def open(self, *, disk: DiskInfo, snapshot_id: str, vm_id: str,
             endpoint: VCenterEndpoint) -> contextlib.AbstractContextManager[str]:
        """Serve the disk as frozen in the snapshot; the context yields an NBD URI."""


@contextlib.contextmanager
def running(server: Any, plugin: str) -> Iterator[str]:
    """Start an nbdkit server, yield its URI, always stop it."""
    from datamover.nbdkit import NbdkitError  # libnbd/nbdkit are needed only when copying

    try:
        server.start()
    except NbdkitError as exc:
        raise DiskSourceError(f"nbdkit {plugin} could not start: {exc}") from exc
    try:
        yield server.uri
    finally:
        server.stop()


def private_file(directory: str, name: str, text: str) -> str:
    """A 0600 file in a private directory, for what must not be on a command line."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def flat_file(file_name: str) -> tuple[str, PurePosixPath]:
    """(datastore, path in it) of a disk descriptor's `-flat.vmdk`; a bad name is a DiskSourceError."""
    try:
        return flat_extent(file_name)
    except ValueError as exc:
        raise DiskSourceError(str(exc)) from exc
