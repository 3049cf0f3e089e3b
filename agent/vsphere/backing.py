"""Whether a VM's disks can be read as plain files, and where those files are.

A disk source that reads the base `-flat.vmdk` (the `https` source over vCenter's datastore
file service, the lab's `file` source) sees the snapshot's state only when that file is what
the snapshot froze: a flat (FlatVer2) backing with no parent, on a datastore that keeps
VMDKs as files (VMFS, NFS; not vSAN or vVol objects), and no snapshot older than the sync's,
since after an older snapshot the base file holds that snapshot's state and the newer data
lives in delta files. VDDK reads any of these; `flat_read_refusals` says why a VM needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from pyVmomi import vim

from .records import ChangedArea, DiskInfo, _snapshot_nodes, _type_name, datastore_of
from .session import VCenterSession
from .source import VSphereSource

# Datastore types whose disks are objects, not files the datastore browser can serve.
OBJECT_DATASTORES = {"vsan": "vSAN", "VVOL": "vVol", "PMEM": "persistent memory"}


@dataclass(frozen=True)
class DatastoreLocation:
    """Where `/folder` finds a datastore: its type and its datacenter's inventory path (dcPath)."""

    name: str
    type: str
    dc_path: str


def flat_extent(file_name: str) -> tuple[str, PurePosixPath]:
    """"[ds] dir/vm.vmdk" -> ("ds", dir/vm-flat.vmdk): the raw extent of a flat disk's descriptor.

    Raises ValueError for a name with no datastore or one that leaves its datastore.
    """
    datastore, relative = datastore_of(file_name)
    if not datastore:
        raise ValueError(f"disk file {file_name!r} names no datastore")
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"disk file {file_name!r} is outside its datastore")
    flat_name = rel.name[:-5] + "-flat.vmdk" if rel.name.endswith(".vmdk") else rel.name
    return datastore, rel.parent / flat_name


def disk_refusals(device: Any, label: str, datastore_types: dict[str, str]) -> list[str]:
    """Why one disk's snapshot state is not its base flat file (empty: it is)."""
    backing = device.backing
    if not isinstance(backing, vim.vm.device.VirtualDisk.FlatVer2BackingInfo):
        kind = _type_name(backing).removesuffix("BackingInfo") if backing is not None else "no"
        return [f"{label} has a {kind} backing, not a flat VMDK"]
    if backing.parent is not None:
        return [f"{label} is a delta disk on {backing.parent.fileName} (a linked clone or an older snapshot)"]
    datastore, _ = datastore_of(backing.fileName or "")
    kind = datastore_types.get(datastore, "")
    if kind in OBJECT_DATASTORES:
        return [f"{label} is on {OBJECT_DATASTORES[kind]} datastore {datastore}, which keeps no flat file"]
    return []


def flat_read_refusals(devices: Iterable[Any], snapshot_names: Iterable[str], disk_keys: Iterable[int],
                       datastore_types: dict[str, str], own_snapshot: str) -> list[str]:
    """Every reason the VM's disks `disk_keys` cannot be read from their base flat files.

    `own_snapshot` is the name of this sync's snapshot: an interrupted attempt of the same job
    may have left it, and it is the one snapshot allowed.
    """
    reasons = [f"the VM has snapshot {name!r}, older than the sync's: its base disks hold that snapshot's "
               "state, not the current one" for name in snapshot_names if name != own_snapshot]
    wanted = set(disk_keys)
    own_present = own_snapshot in set(snapshot_names)
    for device in devices:
        if not isinstance(device, vim.vm.device.VirtualDisk) or device.key not in wanted:
            continue
        label = device.deviceInfo.label if device.deviceInfo else f"disk {device.key}"
        backing = device.backing
        if own_present and isinstance(backing, vim.vm.device.VirtualDisk.FlatVer2BackingInfo) and backing.parent:
            # The sync's own snapshot from an interrupted attempt: the VM writes to its delta,
            # the snapshot's state is the parent.
            device = vim.vm.device.VirtualDisk(key=device.key, backing=backing.parent)
        reasons.extend(disk_refusals(device, label, datastore_types))
    return reasons


def _dc_path(session: VCenterSession, obj: Any) -> str:
    """Inventory path of the datacenter holding `obj` ("DC0", or "folder/DC0" when nested)."""
    names: list[str] = []
    datacenter_seen = False
    current = obj
    for _ in range(64):
        props = session._properties(current, ["name", "parent"])
        if isinstance(current, vim.Datacenter):
            datacenter_seen = True
        if datacenter_seen:
            names.append(props.get("name", ""))
        parent = props.get("parent")
        if parent is None or parent._moId == session.content.rootFolder._moId:
            break
        current = parent
    return "/".join(reversed(names))


def datastore_locations(session: VCenterSession, vm: Any) -> dict[str, DatastoreLocation]:
    """The VM's datastores by name, with their type and their datacenter's path."""
    stores = session._properties(vm, ["datastore"]).get("datastore") or []
    found = {}
    for store in stores:
        props = session._properties(store, ["name", "summary.type"])
        name = props.get("name", store._moId)
        found[name] = DatastoreLocation(name=name, type=str(props.get("summary.type") or ""),
                                        dc_path=_dc_path(session, store))
    return found


def check_flat_read(session: VCenterSession, vm: Any, disks: list[DiskInfo],
                    own_snapshot: str) -> tuple[list[str], dict[str, DatastoreLocation]]:
    """(refusals, datastores) for reading `disks` of `vm` from their base flat files."""
    props = session._properties(vm, ["config.hardware.device", "snapshot"])
    snapshots = [info.name for _, info in _snapshot_nodes(props.get("snapshot"))]
    locations = datastore_locations(session, vm)
    refusals = flat_read_refusals(props.get("config.hardware.device") or [], snapshots, [d.key for d in disks],
                                  {name: loc.type for name, loc in locations.items()}, own_snapshot)
    return refusals, locations


def snapshot_disk_file(session: VCenterSession, snapshot_id: str, device_key: int) -> str:
    """The file that holds disk `device_key` as frozen in snapshot `snapshot_id` (its descriptor).

    Raises ValueError when that file is not a flat extent without parent (see `disk_refusals`).
    """
    snapshot = vim.vm.Snapshot(snapshot_id, session._si._stub)
    devices = session._properties(snapshot, ["config.hardware.device"]).get("config.hardware.device") or []
    for device in devices:
        if isinstance(device, vim.vm.device.VirtualDisk) and device.key == device_key:
            refusals = disk_refusals(device, f"disk {device_key} of snapshot {snapshot_id}", {})
            if refusals:
                raise ValueError(refusals[0])
            return str(device.backing.fileName)
    raise ValueError(f"snapshot {snapshot_id} has no disk {device_key}")


def snapshot_allocated_areas(source: VSphereSource, vm_id: str, snapshot_id: str, device_key: int,
                             capacity_bytes: int) -> list[ChangedArea]:
    """What QueryChangedDiskAreas('*') reports allocated in the snapshot's disk: the rest reads as zeros."""
    stub = source._si._stub
    return source.query_changed_areas(vim.VirtualMachine(vm_id, stub), vim.vm.Snapshot(snapshot_id, stub),
                                      device_key, capacity_bytes, "*")
