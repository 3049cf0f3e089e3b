"""Disk sources: serve one snapshot disk read-only over NBD for `datamover.copy` to read.

- `FileDiskSource` (`file`, lab): nbdkit's file plugin over the disk's `-flat.vmdk` in a local
  datastore directory (`file.py`);
- `VddkDiskSource` (`vddk`, production with VMware's VDDK): nbdkit's vddk plugin (`vddk.py`);
- `HttpsDiskSource` (`https`, production without VDDK): nbdkit's curl plugin over vCenter's
  datastore file service, for VMs whose disks qualify (`https.py`);
- `make_disk_source` picks one per job (`choose.py`); `base.py` holds what they share.
"""

from .base import DiskSource, DiskSourceError, NeedsVddk
from .choose import make_disk_source
from .file import FileDiskSource, flat_path
from .https import HttpsDiskSource, folder_url
from .vddk import VddkDiskSource, vddk_problem

__all__ = [
    "DiskSource",
    "DiskSourceError",
    "FileDiskSource",
    "HttpsDiskSource",
    "NeedsVddk",
    "VddkDiskSource",
    "flat_path",
    "folder_url",
    "make_disk_source",
    "vddk_problem",
]
