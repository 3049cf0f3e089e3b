"""The typed records the vCenter provider answers with, and the parsing that builds them.

`DiskInfo`, `NicInfo`, `SnapshotInfo`, `VmInfo` and `ChangedArea` are plain dataclasses the
agent sends to the control plane; `parse_devices` and `flatten_snapshots` build them from a
VM's (or snapshot's) pyvmomi device list and snapshot tree, without a vCenter round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyVmomi import vim

# Every snapshot the agent makes is named SNAPSHOT_PREFIX + job id, so cleanup finds exactly its own.
SNAPSHOT_PREFIX = "vma-"

_CONTROLLER_TYPES = {
    "ParaVirtualSCSIController": "pvscsi",
    "VirtualLsiLogicController": "lsilogic",
    "VirtualLsiLogicSASController": "lsilogic-sas",
    "VirtualBusLogicController": "buslogic",
    "VirtualAHCIController": "sata",
    "VirtualIDEController": "ide",
    "VirtualNVMEController": "nvme",
}


def snapshot_name(job_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{job_id}"


@dataclass
class DiskInfo:
    key: int
    id: str
    label: str
    controller_key: int | None
    controller_type: str
    bus_number: int | None
    unit_number: int | None
    capacity_bytes: int
    size_gb: float
    datastore: str
    path: str
    thin_provisioned: bool | None
    cbt_enabled: bool
    change_id: str | None = None


@dataclass
class NicInfo:
    key: int
    label: str
    network: str
    mac_address: str
    adapter_type: str
    connected: bool | None
    # The guest's addresses on this NIC as VMware Tools report them (guest.net), when it runs.
    ip_addresses: list[str] = field(default_factory=list)


@dataclass
class SnapshotInfo:
    id: str
    name: str
    description: str
    created_at: str | None
    power_state: str | None
    quiesced: bool


@dataclass
class VmInfo:
    id: str
    name: str
    path: str
    uuid: str | None
    bios_uuid: str | None
    power_state: str | None
    guest_os: str | None
    guest_os_name: str | None
    num_cpu: int | None
    memory_mb: int | None
    firmware: str | None
    cbt_enabled: bool
    disks: list[DiskInfo]
    nics: list[NicInfo]
    snapshots: list[SnapshotInfo]
    secure_boot: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChangedArea:
    start: int
    length: int


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _escape_name(name: str) -> str:
    # Inventory paths escape '/', '\' and '%' inside names the way vSphere does.
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def _type_name(obj: Any) -> str:
    return type(obj).__name__.rsplit(".", 1)[-1]


def datastore_of(file_name: str) -> tuple[str, str]:
    """Split "[datastore1] dir/vm.vmdk" into ("datastore1", "dir/vm.vmdk")."""
    text = file_name.strip()
    if text.startswith("["):
        end = text.find("]")
        if end > 0:
            return text[1:end], text[end + 1:].strip()
    return "", text


def disk_id_for(unit_number: int | None, key: int) -> str:
    return f"disk-{unit_number}" if unit_number is not None else f"disk-key{key}"


def parse_devices(devices: Iterable[Any], cbt_enabled: bool, networks: dict[str, str],
                  portgroups: dict[str, str],
                  guest_nics: Iterable[Any] = ()) -> tuple[list[DiskInfo], list[NicInfo]]:
    """Disks and NICs from a VM's (or snapshot's) device list; `guest_nics` (guest.net) add the guest's addresses."""
    addresses = {int(g.deviceConfigId): [ip for ip in (g.ipAddress or []) if ip]
                 for g in guest_nics if getattr(g, "deviceConfigId", None) is not None}
    devices = list(devices)
    controllers = {d.key: d for d in devices if isinstance(d, vim.vm.device.VirtualController)}
    disks: list[DiskInfo] = []
    nics: list[NicInfo] = []
    for dev in devices:
        label = dev.deviceInfo.label if dev.deviceInfo else ""
        if isinstance(dev, vim.vm.device.VirtualDisk):
            backing = dev.backing
            file_name = getattr(backing, "fileName", "") or ""
            datastore, _ = datastore_of(file_name)
            capacity = int(dev.capacityInBytes or 0) or int(dev.capacityInKB or 0) * 1024
            controller = controllers.get(dev.controllerKey)
            ctype = _type_name(controller) if controller is not None else ""
            disks.append(DiskInfo(
                key=int(dev.key),
                id=disk_id_for(dev.unitNumber, int(dev.key)),
                label=label,
                controller_key=dev.controllerKey,
                controller_type=_CONTROLLER_TYPES.get(ctype, ctype.lower()),
                bus_number=getattr(controller, "busNumber", None),
                unit_number=dev.unitNumber,
                capacity_bytes=capacity,
                size_gb=round(capacity / 2**30, 3),
                datastore=datastore,
                path=file_name,
                thin_provisioned=getattr(backing, "thinProvisioned", None),
                cbt_enabled=cbt_enabled,
                change_id=getattr(backing, "changeId", None) or None,
            ))
        elif isinstance(dev, vim.vm.device.VirtualEthernetCard):
            nics.append(NicInfo(
                key=int(dev.key),
                label=label,
                network=_nic_network(dev.backing, networks, portgroups),
                mac_address=dev.macAddress or "",
                adapter_type=_type_name(dev).removeprefix("Virtual").lower(),
                connected=dev.connectable.connected if dev.connectable else None,
                ip_addresses=addresses.get(int(dev.key), []),
            ))
    disks.sort(key=lambda d: (d.bus_number or 0, d.controller_key or 0, d.unit_number or 0))
    units = [d.unit_number for d in disks]
    for disk in disks:
        if units.count(disk.unit_number) > 1:
            # Two controllers use the same unit number: qualify the id so it stays unique per VM.
            disk.id = f"disk-{disk.controller_key}-{disk.unit_number}"
    return disks, nics


def _nic_network(backing: Any, networks: dict[str, str], portgroups: dict[str, str]) -> str:
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        key = backing.port.portgroupKey if backing.port else ""
        return portgroups.get(key, key or "")
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        if backing.network is not None and backing.network._moId in networks:
            return networks[backing.network._moId]
        return backing.deviceName or ""
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        return backing.opaqueNetworkId or ""
    return ""


def _snapshot_nodes(info: Any) -> list[tuple[Any, SnapshotInfo]]:
    nodes: list[tuple[Any, SnapshotInfo]] = []
    stack = list(info.rootSnapshotList or []) if info is not None else []
    while stack:
        node = stack.pop(0)
        nodes.append((node.snapshot, SnapshotInfo(
            id=node.snapshot._moId,
            name=node.name,
            description=node.description or "",
            created_at=_iso(node.createTime),
            power_state=node.state,
            quiesced=bool(node.quiesced),
        )))
        stack.extend(node.childSnapshotList or [])
    return nodes


def flatten_snapshots(info: Any) -> list[SnapshotInfo]:
    return [snap for _, snap in _snapshot_nodes(info)]
