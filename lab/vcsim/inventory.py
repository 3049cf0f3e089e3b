"""Create and inspect VMs in the simulator through the vSphere API (pyVmomi), as a provider would.

Device keys follow vCenter's conventions so code written against the lab does not learn vcsim
quirks: SCSI controllers 1000+, disks 2000+, NICs 4000+. Disks are thin, on a datastore,
with one ``-flat.vmdk`` each that vcsim sizes to the disk's capacity (sparse).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pyVim.task import WaitForTask
from pyVmomi import vim

if TYPE_CHECKING:
    from .simulator import Vcsim

SCSI_CONTROLLER_KEY = 1000
DISK_KEY = 2000
NIC_KEY = 4000
_UNITS_PER_SCSI_BUS = 16
_SCSI_RESERVED_UNIT = 7  # the controller's own unit number
MIB = 1024 * 1024


def _view(si, container, vimtype) -> list:
    view = si.content.viewManager.CreateContainerView(container, [vimtype], True)
    try:
        return list(view.view)
    finally:
        view.DestroyView()


def find_datacenter(si, name: str | None = None) -> vim.Datacenter:
    datacenters = _view(si, si.content.rootFolder, vim.Datacenter)
    for dc in datacenters:
        if name is None or dc.name == name:
            return dc
    raise LookupError(f"datacenter {name!r} not found (have {[dc.name for dc in datacenters]})")


def find_vm(si, name: str, datacenter: str | None = None) -> vim.VirtualMachine:
    root = find_datacenter(si, datacenter).vmFolder if datacenter else si.content.rootFolder
    for vm in _view(si, root, vim.VirtualMachine):
        if vm.name == name:
            return vm
    raise LookupError(f"VM {name!r} not found")


def _pick_datastore(dc: vim.Datacenter, name: str | None) -> vim.Datastore:
    for ds in dc.datastore:
        if name is None or ds.name == name:
            return ds
    raise LookupError(f"datastore {name!r} not found in {dc.name}")


def _pick_host(si, dc: vim.Datacenter, name: str | None) -> vim.HostSystem:
    for host in _view(si, dc.hostFolder, vim.HostSystem):
        if name is None or host.name == name:
            return host
    raise LookupError(f"host {name!r} not found in {dc.name}")


def ensure_network(si, dc: vim.Datacenter, host: vim.HostSystem, name: str) -> vim.Network:
    """The network (standard port group or distributed port group) called ``name``.

    A missing one is created as a standard port group on the host's first vSwitch, which is
    how vcsim adds a Network entity to the datacenter.
    """
    for net in dc.network:
        if net.name == name:
            return net
    netsys = host.configManager.networkSystem
    vswitch = netsys.networkInfo.vswitch[0].name
    netsys.AddPortGroup(
        portgrp=vim.host.PortGroup.Specification(
            name=name, vlanId=0, vswitchName=vswitch, policy=vim.host.NetworkPolicy()
        )
    )
    for net in dc.network:
        if net.name == name:
            return net
    raise LookupError(f"port group {name!r} was added but no network of that name appeared")


def _nic_backing(net: vim.Network):
    if isinstance(net, vim.dvs.DistributedVirtualPortgroup):
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(
                switchUuid=net.config.distributedVirtualSwitch.uuid, portgroupKey=net.key
            )
        )
    if isinstance(net, vim.OpaqueNetwork):
        raise TypeError(f"{net.name} is an opaque (NSX) network; create_vm supports port groups only")
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=net.name, network=net)


def create_vm(
    si,
    name: str,
    *,
    disks_mb: Sequence[int] = (1024,),
    networks: Sequence[str] = ("VM Network",),
    cpus: int = 2,
    memory_mb: int = 2048,
    guest_id: str = "otherLinux64Guest",
    cbt: bool = False,
    datacenter: str | None = None,
    datastore: str | None = None,
    host: str | None = None,
    power_on: bool = False,
    firmware: str = "bios",
    secure_boot: bool = False,
    guest_ips: Sequence[str | None] = (),
) -> vim.VirtualMachine:
    """Create a VM through CreateVM_Task with thin disks of ``disks_mb`` MiB and one vmxnet3 NIC
    per name in ``networks`` (created as port groups when missing).

    Disk ``i`` gets key ``2000 + i`` and sits on SCSI controller ``1000 + i // 15``; NIC ``i``
    gets key ``4000 + i``. ``cbt`` sets ``changeTrackingEnabled`` at creation. ``firmware``
    (``bios``/``efi``) and ``secure_boot`` set the boot options; ``guest_ips`` (one per NIC, None
    for none) are what the guest reports on each NIC (``guest.net``) once powered on, set through
    a guest customization as a provider's tooling would.
    """
    dc = find_datacenter(si, datacenter)
    ds = _pick_datastore(dc, datastore)
    esx = _pick_host(si, dc, host)
    pool = esx.parent.resourcePool

    changes: list[vim.vm.device.VirtualDeviceSpec] = []
    add = vim.vm.device.VirtualDeviceSpec.Operation.add
    usable_units = [u for u in range(_UNITS_PER_SCSI_BUS) if u != _SCSI_RESERVED_UNIT]
    controllers = max(1, -(-len(disks_mb) // len(usable_units)))
    for bus in range(controllers):
        changes.append(
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.ParaVirtualSCSIController(
                    key=SCSI_CONTROLLER_KEY + bus, busNumber=bus, sharedBus="noSharing"
                ),
            )
        )
    for i, size_mb in enumerate(disks_mb):
        bus, slot = divmod(i, len(usable_units))
        changes.append(
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
                device=vim.vm.device.VirtualDisk(
                    key=DISK_KEY + i,
                    controllerKey=SCSI_CONTROLLER_KEY + bus,
                    unitNumber=usable_units[slot],
                    capacityInKB=size_mb * 1024,
                    capacityInBytes=size_mb * MIB,
                    backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                        # An empty path makes vCenter (and vcsim) name the file <vm>/<vm>[_N].vmdk.
                        fileName=f"[{ds.name}]",
                        diskMode="persistent",
                        thinProvisioned=True,
                    ),
                ),
            )
        )
    for i, net_name in enumerate(networks):
        net = ensure_network(si, dc, esx, net_name)
        changes.append(
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.VirtualVmxnet3(
                    key=NIC_KEY + i,
                    backing=_nic_backing(net),
                    addressType="generated",
                    connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                        startConnected=True, connected=True, allowGuestControl=True
                    ),
                ),
            )
        )

    spec = vim.vm.ConfigSpec(
        name=name,
        guestId=guest_id,
        numCPUs=cpus,
        memoryMB=memory_mb,
        files=vim.vm.FileInfo(vmPathName=f"[{ds.name}]"),
        changeTrackingEnabled=cbt,
        deviceChange=changes,
        firmware=firmware,
        bootOptions=vim.vm.BootOptions(efiSecureBootEnabled=secure_boot),
    )
    task = dc.vmFolder.CreateVM_Task(config=spec, pool=pool, host=esx)
    WaitForTask(task)
    vm = task.info.result
    if any(guest_ips):
        _customize_addresses(vm, name, [guest_ips[i] if i < len(guest_ips) else None
                                        for i in range(len(networks))])
    if power_on:
        WaitForTask(vm.PowerOnVM_Task())
    return vm


def _customize_addresses(vm: vim.VirtualMachine, name: str, addresses: Sequence[str | None]) -> None:
    """A fixed address per NIC (DHCP where None); vcsim applies it to guest.net at the next power-on."""
    adapters = []
    for address in addresses:
        ip = (vim.vm.customization.FixedIp(ipAddress=address) if address
              else vim.vm.customization.DhcpIpGenerator())
        adapters.append(vim.vm.customization.AdapterMapping(
            adapter=vim.vm.customization.IPSettings(ip=ip, subnetMask="255.255.255.0")))
    spec = vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name=name), domain="lab"),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(),
        nicSettingMap=adapters,
    )
    WaitForTask(vm.CustomizeVM_Task(spec=spec))


def disks(vm: vim.VirtualMachine) -> list[vim.vm.device.VirtualDisk]:
    """The VM's disks in device-list order."""
    return [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]


def _resolve_disk(vm: vim.VirtualMachine, disk) -> vim.vm.device.VirtualDisk:
    if isinstance(disk, vim.vm.device.VirtualDisk):
        return disk
    all_disks = disks(vm)
    for d in all_disks:
        if d.key == disk:
            return d
    if 0 <= disk < len(all_disks):
        return all_disks[disk]
    raise LookupError(f"{vm.name} has no disk with key or index {disk} (keys {[d.key for d in all_disks]})")


def flat_file_path(sim: Vcsim, vm: vim.VirtualMachine, disk_index_or_key) -> Path:
    """The ``-flat.vmdk`` on the host's file system holding a VM disk's bytes.

    ``disk_index_or_key`` is a device key (e.g. 2000), an index into the VM's disks, or the
    VirtualDisk itself. The datastore path ``[ds] dir/name.vmdk`` is resolved through the
    datastore's ``info.url``, which in vcsim is the local directory.
    """
    disk = _resolve_disk(vm, disk_index_or_key)
    file_name = disk.backing.fileName
    if not file_name.startswith("[") or "] " not in file_name:
        raise ValueError(f"unexpected datastore path {file_name!r}")
    ds_name, rel = file_name[1:].split("] ", 1)
    for ds in vm.datastore:
        if ds.name == ds_name:
            root = Path(ds.info.url)
            break
    else:
        raise LookupError(f"datastore {ds_name!r} of {file_name!r} is not one of {vm.name}'s datastores")
    if not rel.endswith(".vmdk"):
        raise ValueError(f"not a vmdk: {file_name!r}")
    flat = (root / (rel[: -len(".vmdk")] + "-flat.vmdk")).resolve()
    if sim.datastore_dir is not None and not flat.is_relative_to(Path(sim.datastore_dir).resolve()):
        raise ValueError(f"{flat} is outside this simulator's datastore directory {sim.datastore_dir}")
    if not flat.is_file():
        raise FileNotFoundError(flat)
    return flat
