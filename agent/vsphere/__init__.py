"""The vCenter provider: the only package of the agent that touches pyvmomi.

`VSphereSource` opens one session, keeps it alive and logs in again when vCenter says
`NotAuthenticated` (replication jobs outlive idle sessions). Inventory is read with property
collectors (a container view traversal, paged with ContinueRetrievePropertiesEx), never one
round trip per property, so 1,000 VMs take seconds.

The package's rooms: `endpoint` (where to log in, TLS pinning), `records` (the typed answers
and the device/snapshot parsing that builds them), `session` (login, keep-alive, re-login,
fault mapping, property reads), `source` (inventory, tasks, CBT, snapshots, power) and
`backing` (whether a VM's disks can be read as base flat files, and where those files are).
Callers import from `agent.vsphere`, which re-exports the public names.
"""

from __future__ import annotations

from .backing import (
    DatastoreLocation,
    check_flat_read,
    flat_extent,
    snapshot_allocated_areas,
    snapshot_disk_file,
)
from .endpoint import (
    PinnedTLSContext,
    ThumbprintMismatch,
    VCenterEndpoint,
    normalize_thumbprint,
    pinned_certificate_pem,
)
from .records import (
    SNAPSHOT_PREFIX,
    ChangedArea,
    DiskInfo,
    NicInfo,
    SnapshotInfo,
    VmInfo,
    datastore_of,
    disk_id_for,
    flatten_snapshots,
    parse_devices,
    snapshot_name,
)
from .session import PAGE_SIZE, VCenterSession
from .source import VM_PROPERTIES, VSphereSource

__all__ = [
    "DatastoreLocation",
    "check_flat_read",
    "flat_extent",
    "pinned_certificate_pem",
    "snapshot_allocated_areas",
    "snapshot_disk_file",
    "PAGE_SIZE",
    "SNAPSHOT_PREFIX",
    "VM_PROPERTIES",
    "ChangedArea",
    "DiskInfo",
    "NicInfo",
    "PinnedTLSContext",
    "SnapshotInfo",
    "ThumbprintMismatch",
    "VCenterEndpoint",
    "VCenterSession",
    "VSphereSource",
    "VmInfo",
    "datastore_of",
    "disk_id_for",
    "flatten_snapshots",
    "normalize_thumbprint",
    "parse_devices",
    "snapshot_name",
]
