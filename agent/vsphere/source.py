"""The vCenter provider: the operations discovery and replication need, on one session.

`VSphereSource` adds to its `VCenterSession` the inventory reads (datacenters, VMs with their
disks and NICs, 1,000 VMs in seconds), vCenter tasks, Changed Block Tracking, snapshots and
power operations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from pyVmomi import vim

from agent.errors import VCenterError, VCenterNotFound

from .records import (
    SNAPSHOT_PREFIX,
    ChangedArea,
    DiskInfo,
    SnapshotInfo,
    VmInfo,
    _escape_name,
    _snapshot_nodes,
    flatten_snapshots,
    parse_devices,
    snapshot_name,
)
from .session import VCenterSession, _fault_text, log

VM_PROPERTIES = [
    "name",
    "parent",
    "parentVApp",
    "config.template",
    "config.instanceUuid",
    "config.uuid",
    "config.guestId",
    "config.guestFullName",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.firmware",
    "config.bootOptions",
    "guest.net",
    "config.changeTrackingEnabled",
    "runtime.powerState",
    "snapshot",
]


class VSphereSource(VCenterSession):
    """A logged-in vCenter session with the operations discovery and replication need."""

    # -- inventory -----------------------------------------------------------------------

    def datacenters(self) -> list[tuple[Any, str]]:
        rows = self._retrieve(self.content.rootFolder, [vim.Datacenter], {vim.Datacenter: ["name"]})
        return [(obj, props.get("name", "")) for obj, props in rows]

    def find_datacenter(self, name: str | None) -> tuple[Any, str]:
        """The datacenter called `name`; with no name, the only one (or an error if several)."""
        found = self.datacenters()
        if name:
            for obj, dc_name in found:
                if dc_name == name:
                    return obj, dc_name
            known = ", ".join(sorted(n for _, n in found)) or "none"
            raise VCenterNotFound(f"datacenter {name!r} not found in vCenter {self.endpoint.display} "
                                  f"(known: {known})")
        if len(found) == 1:
            return found[0]
        raise VCenterNotFound("datacenter is required: vCenter has "
                              f"{len(found)} datacenters ({', '.join(sorted(n for _, n in found))})")

    def _folder_paths(self, datacenter: Any, dc_name: str) -> tuple[dict[str, str], Any]:
        """moref -> inventory path for every folder and vApp under the datacenter's VM folder."""
        vm_folder = self.call(lambda: datacenter.vmFolder, "Datacenter.vmFolder")
        rows = self._retrieve(vm_folder, [vim.Folder, vim.VirtualApp],
                              {vim.Folder: ["name", "parent"], vim.VirtualApp: ["name", "parent", "parentVApp"]})
        nodes = {obj._moId: props for obj, props in rows}
        paths: dict[str, str] = {vm_folder._moId: f"/{_escape_name(dc_name)}/vm"}

        def resolve(moid: str, depth: int = 0) -> str:
            if moid in paths:
                return paths[moid]
            props = nodes.get(moid)
            if props is None or depth > 64:
                return f"/{_escape_name(dc_name)}/vm"
            parent = props.get("parent") or props.get("parentVApp")
            base = resolve(parent._moId, depth + 1) if parent is not None else f"/{_escape_name(dc_name)}/vm"
            paths[moid] = f"{base}/{_escape_name(props.get('name', moid))}"
            return paths[moid]

        for moid in nodes:
            resolve(moid)
        return paths, vm_folder

    def _network_names(self, datacenter: Any) -> tuple[dict[str, str], dict[str, str]]:
        """(network moref -> name, distributed port group key -> name) for one datacenter."""
        net_folder = self.call(lambda: datacenter.networkFolder, "Datacenter.networkFolder")
        rows = self._retrieve(net_folder, [vim.Network],
                              {vim.Network: ["name"], vim.dvs.DistributedVirtualPortgroup: ["name", "key"]})
        by_moref = {obj._moId: props.get("name", "") for obj, props in rows}
        by_key = {props["key"]: props.get("name", "") for _, props in rows if "key" in props}
        return by_moref, by_key

    def list_vms(self, datacenter_name: str | None = None, name_filter: str | None = None) -> tuple[str, list[VmInfo]]:
        """Every VM (templates excluded) of one datacenter, optionally filtered by name.

        The filter is a case-insensitive substring, or a glob when it holds `*`, `?` or `[`.
        """
        datacenter, dc_name = self.find_datacenter(datacenter_name)
        folder_paths, vm_folder = self._folder_paths(datacenter, dc_name)
        networks, portgroups = self._network_names(datacenter)
        rows = self._retrieve(vm_folder, [vim.VirtualMachine], {vim.VirtualMachine: VM_PROPERTIES})
        match = _name_matcher(name_filter)
        vms = []
        for obj, props in rows:
            if props.get("config.template"):
                continue
            name = props.get("name", obj._moId)
            if not match(name):
                continue
            vms.append(self._vm_info(obj, props, dc_name, folder_paths, networks, portgroups))
        vms.sort(key=lambda v: v.path)
        return dc_name, vms

    def vm_info(self, vm: Any, datacenter_name: str | None = None) -> VmInfo:
        """The same rich record discovery returns, for one VM."""
        datacenter, dc_name = self.find_datacenter(datacenter_name)
        folder_paths, _ = self._folder_paths(datacenter, dc_name)
        networks, portgroups = self._network_names(datacenter)
        props = self._properties(vm, VM_PROPERTIES)
        return self._vm_info(vm, props, dc_name, folder_paths, networks, portgroups)

    def _vm_info(self, obj: Any, props: dict[str, Any], dc_name: str, folder_paths: dict[str, str],
                 networks: dict[str, str], portgroups: dict[str, str]) -> VmInfo:
        name = props.get("name", obj._moId)
        parent = props.get("parent") or props.get("parentVApp")
        base = folder_paths.get(parent._moId) if parent is not None else None
        path = f"{base or '/' + _escape_name(dc_name) + '/vm'}/{_escape_name(name)}"
        devices = props.get("config.hardware.device") or []
        cbt = bool(props.get("config.changeTrackingEnabled"))
        disks, nics = parse_devices(devices, cbt, networks, portgroups, props.get("guest.net") or [])
        boot_options = props.get("config.bootOptions")
        return VmInfo(
            id=obj._moId,
            name=name,
            path=path,
            uuid=props.get("config.instanceUuid"),
            bios_uuid=props.get("config.uuid"),
            power_state=props.get("runtime.powerState"),
            guest_os=props.get("config.guestId"),
            guest_os_name=props.get("config.guestFullName"),
            num_cpu=props.get("config.hardware.numCPU"),
            memory_mb=props.get("config.hardware.memoryMB"),
            firmware=props.get("config.firmware"),
            cbt_enabled=cbt,
            disks=disks,
            nics=nics,
            snapshots=flatten_snapshots(props.get("snapshot")),
            secure_boot=bool(getattr(boot_options, "efiSecureBootEnabled", False)),
        )

    def find_vm(self, *, path: str | None = None, moref: str | None = None,
                datacenter_name: str | None = None) -> Any:
        """A VM by inventory path ("/DC/vm/folder/name") or by moref id ("vm-123")."""
        content = self.content
        if moref:
            vm = vim.VirtualMachine(moref, self._si._stub)
            try:
                self.call(lambda: vm.name, "VirtualMachine.name")
            except VCenterError as exc:
                raise VCenterNotFound(f"VM {moref!r} not found in vCenter {self.endpoint.display}") from exc
            return vm
        if not path:
            raise VCenterNotFound("a VM path or moref id is required")
        inventory_path = path.strip("/")
        vm = self.call(lambda: content.searchIndex.FindByInventoryPath(inventory_path), "FindByInventoryPath")
        if vm is None and datacenter_name and not inventory_path.startswith(f"{datacenter_name}/"):
            # Accept a path relative to the datacenter's VM folder too ("folder/name").
            candidate = f"{datacenter_name}/vm/{inventory_path}"
            vm = self.call(lambda: content.searchIndex.FindByInventoryPath(candidate), "FindByInventoryPath")
        if not isinstance(vm, vim.VirtualMachine):
            raise VCenterNotFound(f"VM {path!r} not found in vCenter {self.endpoint.display}")
        return vm

    # -- tasks, CBT and snapshots --------------------------------------------------------

    def wait_task(self, task: Any, what: str, timeout: float = 3600.0) -> Any:
        """Poll a vCenter task until it ends; its error becomes a VCenterError."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            # Only the fields we need: some servers put a non-entity in info.entity, which
            # pyvmomi refuses to deserialize.
            info = self._properties(task, ["info.state", "info.error", "info.result"])
            state = info.get("info.state")
            if state == vim.TaskInfo.State.success:
                return info.get("info.result")
            if state == vim.TaskInfo.State.error:
                error = info.get("info.error")
                raise VCenterError(f"{what} failed: {_fault_text(error) if error else 'unknown error'}")
            if time.monotonic() > deadline:
                raise VCenterError(f"{what} did not finish within {timeout:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def cbt_enabled(self, vm: Any) -> bool:
        return bool(self._properties(vm, ["config.changeTrackingEnabled"]).get("config.changeTrackingEnabled"))

    def enable_cbt(self, vm: Any) -> bool:
        """Turn on Changed Block Tracking; returns True when it was off.

        On real vSphere the setting takes effect at the VM's next stun/unstun cycle: the snapshot
        the replication creates right after is that cycle, so its change ids are usable.
        """
        if self.cbt_enabled(vm):
            return False
        spec = vim.vm.ConfigSpec(changeTrackingEnabled=True)
        task = self.call(lambda: vm.ReconfigVM_Task(spec=spec), "ReconfigVM_Task")
        self.wait_task(task, "enable CBT")
        log.info("cbt enabled vm=%s", vm._moId)
        return True

    def create_snapshot(self, vm: Any, name: str, description: str = "", quiesce: bool = True) -> tuple[Any, bool]:
        """Create a disk-only snapshot; quiesced when asked and possible. Returns (snapshot, quiesced)."""
        if quiesce:
            try:
                task = self.call(lambda: vm.CreateSnapshot_Task(name=name, description=description,
                                                                memory=False, quiesce=True),
                                 "CreateSnapshot_Task")
                return self.wait_task(task, "create quiesced snapshot"), True
            except VCenterError as exc:
                # No VMware Tools or a failing VSS writer: a crash-consistent snapshot still replicates.
                log.warning("quiesced snapshot failed, retrying without quiesce vm=%s error=%s", vm._moId, exc)
        task = self.call(lambda: vm.CreateSnapshot_Task(name=name, description=description,
                                                        memory=False, quiesce=False),
                         "CreateSnapshot_Task")
        return self.wait_task(task, "create snapshot"), False

    def snapshot_disks(self, snapshot: Any) -> list[DiskInfo]:
        """The VM's disks as frozen in the snapshot, each with its changeId and backing file."""
        props = self._properties(snapshot, ["config.hardware.device", "config.changeTrackingEnabled"])
        disks, _ = parse_devices(props.get("config.hardware.device") or [],
                                 bool(props.get("config.changeTrackingEnabled")), {}, {})
        return disks

    def query_changed_areas(self, vm: Any, snapshot: Any, device_key: int, capacity_bytes: int,
                            change_id: str = "*") -> list[ChangedArea]:
        """QueryChangedDiskAreas from offset 0 until the disk's capacity is covered.

        change_id "*" lists every allocated area (a full copy); a change id lists what changed since.
        """
        areas: list[ChangedArea] = []
        offset = 0
        while offset < capacity_bytes:
            info = self.call(lambda offset=offset: vm.QueryChangedDiskAreas(
                                 snapshot=snapshot, deviceKey=device_key, startOffset=offset, changeId=change_id),
                             "QueryChangedDiskAreas")
            for extent in info.changedArea or []:
                areas.append(ChangedArea(int(extent.start), int(extent.length)))
            next_offset = int(info.startOffset) + int(info.length)
            if next_offset <= offset:
                # A reply that does not advance would loop forever; vSphere always advances.
                break
            offset = next_offset
        return areas

    def remove_snapshot(self, snapshot: Any) -> None:
        task = self.call(lambda: snapshot.RemoveSnapshot_Task(removeChildren=False), "RemoveSnapshot_Task")
        self.wait_task(task, "remove snapshot")

    def snapshots_of(self, vm: Any) -> list[tuple[Any, SnapshotInfo]]:
        tree = self._properties(vm, ["snapshot"]).get("snapshot")
        return _snapshot_nodes(tree)

    def find_snapshots(self, job_id: str | None, vm: Any | None = None) -> list[tuple[Any, Any, SnapshotInfo]]:
        """Snapshots this agent made for `job_id` (every snapshot it made when None): on one VM,
        or on every VM of the vCenter. Returns (vm, snapshot, info) tuples."""
        if job_id is None:
            def wanted(name: str) -> bool:
                return name.startswith(SNAPSHOT_PREFIX)
        else:
            def wanted(name: str) -> bool:
                return name == snapshot_name(job_id)
        if vm is not None:
            return [(vm, snap, info) for snap, info in self.snapshots_of(vm) if wanted(info.name)]
        rows = self._retrieve(self.content.rootFolder, [vim.VirtualMachine], {vim.VirtualMachine: ["snapshot"]})
        found = []
        for obj, props in rows:
            for snap, info in _snapshot_nodes(props.get("snapshot")):
                if wanted(info.name):
                    found.append((obj, snap, info))
        return found

    def power_state(self, vm: Any) -> str:
        return str(self._properties(vm, ["runtime.powerState"]).get("runtime.powerState"))

    def power_off(self, vm: Any, timeout: float = 300.0) -> str:
        """Shut the guest down cleanly, powering off hard after `timeout` seconds.

        Returns "already_off", "guest_shutdown" or "powered_off".
        """
        if self.power_state(vm) == "poweredOff":
            return "already_off"
        try:
            self.call(vm.ShutdownGuest, "ShutdownGuest")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.power_state(vm) == "poweredOff":
                    log.info("guest shut down vm=%s", vm._moId)
                    return "guest_shutdown"
                time.sleep(min(2.0, max(0.05, timeout / 20)))
            log.warning("guest shutdown timed out, powering off vm=%s timeout=%s", vm._moId, timeout)
        except VCenterError as exc:
            log.warning("guest shutdown refused, powering off vm=%s error=%s", vm._moId, exc)
        if self.power_state(vm) == "poweredOff":
            return "guest_shutdown"
        task = self.call(vm.PowerOffVM_Task, "PowerOffVM_Task")
        self.wait_task(task, "power off")
        return "powered_off"

    def power_on(self, vm: Any) -> str:
        """Power the VM on (a suspended VM resumes). Returns "already_on" or "powered_on"."""
        if self.power_state(vm) == "poweredOn":
            return "already_on"
        task = self.call(vm.PowerOnVM_Task, "PowerOnVM_Task")
        self.wait_task(task, "power on")
        return "powered_on"


def _name_matcher(name_filter: str | None) -> Callable[[str], bool]:
    if not name_filter:
        return lambda name: True
    needle = name_filter.lower()
    if any(ch in needle for ch in "*?["):
        return lambda name: fnmatchcase(name.lower(), needle)
    return lambda name: needle in name.lower()
