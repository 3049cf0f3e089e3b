"""The CloudStack client's resource operations: what the platform asks of CloudStack.

`CloudStackClient` lists zones, networks, offerings and templates; deploys, starts, stops and
destroys VMs; creates, attaches, detaches, resizes and snapshots volumes; and does the steps
replication and failover need (attach to the control plane's VM and wait for the device, swap a
VM's root volume, discover everything the settings screen offers). `detect_oma_vm` finds the
control plane's own VM; `test_connection` answers the settings screen's test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CloudStackDeviceError, CloudStackError, CloudStackJobError, CloudStackNotFoundError, OmaVmDetectionError
from .helpers import PRODUCTION_DEV_ROOT, _wait_for_path, local_macs, size_bytes_to_gb, volume_device_path, volume_name_for_disk
from .storage import StorageOperations
from .tenancy import TenancyOperations
from .transport import Submitted

# One logger name for the whole client, as when it was one module.
log = logging.getLogger("apps.settings.cloudstack")

DEFAULT_DEVICE_TIMEOUT = 60.0
STORAGE_ID_SINCE = (4, 23)
_NOT_ATTACHED = "The specified volume is not attached to a VM."


@dataclass(frozen=True)
class DeployNic:
    """One NIC of a VM to deploy: its network, and the address and MAC it keeps (None: CloudStack's)."""

    network_id: str
    ip: str | None = None
    mac: str | None = None


def nic_parameters(nics: Sequence[DeployNic], network_ids: Iterable[str] = ()) -> dict:
    """deployVirtualMachine's NIC parameters.

    `networkids` and `iptonetworklist` exclude each other (BaseDeployVMCmd.getNetworkIds): with
    anything to keep beyond the default NIC's MAC, every NIC goes in the list. `macaddress` is the
    default NIC's MAC; CloudStack lets it replace the list's entry for that NIC, so a default NIC
    that keeps its address has its MAC in the list instead.
    """
    if not nics:
        return {"networkids": list(network_ids)}
    first, rest = nics[0], nics[1:]
    params: dict = {}
    if first.ip is None and not any(n.ip or n.mac for n in rest):
        return {"networkids": [n.network_id for n in nics], "macaddress": first.mac}
    entries = []
    for index, nic in enumerate(nics):
        entry = {"networkid": nic.network_id}
        if nic.ip:
            entry["ip"] = nic.ip
        if nic.mac and (index > 0 or first.ip):
            entry["mac"] = nic.mac
        entries.append(entry)
    if first.mac and not first.ip:
        params["macaddress"] = first.mac
    params["iptonetworklist"] = entries
    return params


@dataclass(frozen=True)
class AttachedVolume:
    volume: dict
    device_id: int
    device_path: Path


_LIST_BY_KIND = {"vm": "listVirtualMachines", "volume": "listVolumes", "snapshot": "listSnapshots"}


class CloudStackClient(StorageOperations, TenancyOperations):
    """A signed-request client for one CloudStack endpoint.

    Lists are fetched whole (paged) and retried on connection errors; async commands are polled
    until their job ends or `job_timeout` passes. Methods return CloudStack's own JSON objects.
    """

    _capabilities: dict | None = None


    # -- inventory ----------------------------------------------------------------------------

    def list_zones(self, *, name: str | None = None) -> list[dict]:
        return self.list_all("listZones", name=name)

    def find_zone(self, zone: str) -> dict:
        """A zone by name or id."""
        zones = self.list_zones()
        for z in zones:
            if zone in (z["id"], z["name"]):
                return z
        names = ", ".join(z["name"] for z in zones) or "none"
        raise CloudStackNotFoundError("listZones", 431, f"zone {zone} not found",
                                      message=f"CloudStack has no zone {zone!r} (zones: {names})")

    def list_networks(self, *, zone_id: str | None = None) -> list[dict]:
        return self.list_all("listNetworks", zoneid=zone_id, listall=True)

    def list_service_offerings(self) -> list[dict]:
        return self.list_all("listServiceOfferings")

    def list_templates(self, *, zone_id: str | None = None,
                       template_filter: str = "executable") -> list[dict]:
        return self.list_all("listTemplates", templatefilter=template_filter, zoneid=zone_id)

    # -- virtual machines ---------------------------------------------------------------------

    def list_virtual_machines(self, *, zone_id: str | None = None, name: str | None = None,
                              state: str | None = None) -> list[dict]:
        return self.list_all("listVirtualMachines", zoneid=zone_id, name=name, state=state,
                         listall=True)

    def get_vm(self, vm_id: str) -> dict:
        return self._get_one("listVirtualMachines", "VM", vm_id, id=vm_id, listall=True)

    def list_nics(self, vm_id: str) -> list[dict]:
        return self.list_all("listNics", virtualmachineid=vm_id)

    def deploy_virtual_machine(self, *, zone_id: str, service_offering_id: str,
                               template_id: str, network_ids: Iterable[str] = (),
                               name: str | None = None, display_name: str | None = None,
                               start: bool = False, cpu_number: int | None = None,
                               memory_mb: int | None = None, cpu_speed: int | None = None,
                               root_disk_size_gb: int | None = None,
                               nics: Sequence[DeployNic] = (), boot_type: str | None = None,
                               boot_mode: str | None = None,
                               details: dict[str, str] | None = None,
                               owner: dict[str, str] | None = None,
                               on_submitted: Submitted | None = None) -> dict:
        """Deploy a VM (stopped by default).

        cpu_number/memory_mb/cpu_speed are for a customized offering (cpuSpeed only where the
        offering has no speed: CloudStack refuses it otherwise). `nics` (instead of `network_ids`)
        keeps a NIC's MAC or address; `details` are VM details such as rootDiskController.
        `owner` ({"projectid"} or {"account", "domainid"}) deploys it for a project or an account instead of
        the caller (the admin whose keys these are). `on_submitted(jobid, vm_id)` runs before the wait
        (write-ahead, `run_job`).
        """
        extra = {k: v for k, v in (("cpuNumber", cpu_number), ("memory", memory_mb),
                                   ("cpuSpeed", cpu_speed)) if v is not None}
        extra.update(details or {})
        return self.run_job("deployVirtualMachine", "virtualmachine", on_submitted=on_submitted, zoneid=zone_id,
                            serviceofferingid=service_offering_id, templateid=template_id,
                            name=name, displayname=display_name, startvm=start,
                            details=extra or None, rootdisksize=root_disk_size_gb,
                            boottype=boot_type, bootmode=boot_mode, **(owner or {}),
                            **nic_parameters(nics, network_ids))

    def update_virtual_machine(self, vm_id: str, *, os_type_id: str | None = None) -> dict:
        """Synchronous; CloudStack applies it at the VM's next start."""
        return self.call("updateVirtualMachine", id=vm_id, ostypeid=os_type_id)["virtualmachine"]

    def list_os_types(self) -> list[dict]:
        return self.list_all("listOsTypes")

    def start_virtual_machine(self, vm_id: str) -> dict:
        return self.run_job("startVirtualMachine", "virtualmachine", id=vm_id)

    def stop_virtual_machine(self, vm_id: str, *, forced: bool = False) -> dict:
        return self.run_job("stopVirtualMachine", "virtualmachine", id=vm_id, forced=forced)

    def reset_vm_password(self, vm_id: str, password: str | None = None) -> str:
        """The VM's new password (CloudStack generates one when none is given); the VM must be Stopped and its
        template password enabled. The password is the caller's to show once: it is never logged here."""
        vm = self.run_job("resetPasswordForVirtualMachine", "virtualmachine", id=vm_id, password=password or None)
        return str(vm.get("password") or "")

    def destroy_virtual_machine(self, vm_id: str, *, expunge: bool = True) -> None:
        """Destroy (and by default expunge) a VM; its data volumes are detached, not deleted."""
        self.run_job("destroyVirtualMachine", None, id=vm_id, expunge=expunge)

    def create_vm_snapshot(self, vm_id: str, *, name: str | None = None,
                           memory: bool = False) -> dict:
        return self.run_job("createVMSnapshot", "vmsnapshot", virtualmachineid=vm_id, name=name,
                            snapshotmemory=memory)

    def list_vm_snapshots(self, *, vm_id: str | None = None) -> list[dict]:
        return self.list_all("listVMSnapshot", virtualmachineid=vm_id, listall=True)

    def delete_vm_snapshot(self, vm_snapshot_id: str) -> None:
        self.run_job("deleteVMSnapshot", None, vmsnapshotid=vm_snapshot_id)

    def create_volume_for_disk(self, *, vm_name: str, disk_unit: int | str, size_bytes: int,
                               zone_id: str, name: str | None = None, disk_offering_id: str | None = None,
                               storage_id: str | None = None, on_submitted: Submitted | None = None) -> dict:
        """A replication target of at least `size_bytes`: on `disk_offering_id` (else the customized offering),
        sized to whole GB where the offering takes a size; on pool `storage_id` where this CloudStack's
        createVolume takes `storageid` (4.23+; before that the pool is chosen when the volume is attached)."""
        offering = self.disk_offering(disk_offering_id) if disk_offering_id else self.custom_disk_offering()
        size_gb = size_bytes_to_gb(size_bytes)
        if not offering.get("iscustomized") and int(offering.get("disksize") or 0) < size_gb:
            raise CloudStackError(f"Disk offering '{offering.get('name')}' ({offering['id']}) has a fixed "
                                  f"{offering.get('disksize')} GB, smaller than the {size_gb} GB disk: map a "
                                  "customized or larger offering")
        return self.create_volume(name=name or volume_name_for_disk(vm_name, disk_unit), zone_id=zone_id,
                                  disk_offering_id=offering["id"],
                                  size_gb=size_gb if offering.get("iscustomized") else None,
                                  storage_id=storage_id if self.supports_storage_id() else None,
                                  on_submitted=on_submitted)

    def list_async_jobs(self) -> list[dict]:
        return self.list_all("listAsyncJobs", listall=True)

    # -- existence and teardown ---------------------------------------------------------------

    def find(self, kind: str, resource_id: str) -> dict | None:
        """A VM, volume or snapshot as CloudStack lists it by id; None when the list is empty.

        This is how "already gone" is decided: CloudStack keeps removed rows, so a second delete
        answers an ordinary refusal (e.g. "Unable to find volume with ID"), never a text that
        says the thing is gone; a list by the id is empty once it is removed.
        """
        command = _LIST_BY_KIND[kind]
        try:
            items = self.list_all(command, id=resource_id, listall=True)
        except CloudStackNotFoundError:
            return None  # an id this CloudStack never had
        return items[0] if items else None

    def capabilities(self) -> dict:
        """listCapabilities for this key (asked once): what its account may do."""
        if self._capabilities is None:
            answer = self.call("listCapabilities")
            self._capabilities = (answer or {}).get("capability") or {}
        return self._capabilities

    def version(self) -> tuple[int, ...]:
        """This CloudStack's version (listCapabilities `cloudstackversion`), e.g. (4, 20, 0, 0)."""
        text = str(self.capabilities().get("cloudstackversion") or "")
        return tuple(int(part) for part in text.split("-")[0].split(".") if part.isdigit())

    def supports_storage_id(self) -> bool:
        """createVolume takes `storageid` from 4.23 (CreateVolumeCmd); before, it is an ignored parameter."""
        return self.version()[:2] >= STORAGE_ID_SINCE

    def can_expunge(self) -> bool:
        return bool(self.capabilities().get("allowuserexpungerecovervm"))

    def can_force_stop(self) -> bool:
        return bool(self.capabilities().get("allowuserforcestopvm", True))

    def teardown_permissions_missing(self) -> list[str]:
        """What this key may not do in a teardown, in the operator's words (empty: everything)."""
        missing = []
        if not self.can_expunge():
            missing.append("expunge VMs (allow.user.expunge.recover.vm is false for this account): a torn-down "
                           "failover VM is destroyed and left to CloudStack's expunge delay")
        if not self.can_force_stop():
            missing.append("force-stop VMs (allow.user.force.stop.vm is false for this account): a running "
                           "failover VM is stopped gracefully, which a hung guest can refuse")
        return missing

    def stop_for_teardown(self, vm_id: str) -> dict:
        """Stop a VM about to be torn down: forced where the key may force it."""
        return self.stop_virtual_machine(vm_id, forced=self.can_force_stop())

    def remove_vm(self, vm_id: str) -> bool:
        """Destroy a VM, expunging it where this key may; True when expunged, False when
        CloudStack keeps it Destroyed until its expunge delay runs out."""
        expunge = self.can_expunge()
        self.destroy_virtual_machine(vm_id, expunge=expunge)
        return expunge

    # -- what replication and failover do -----------------------------------------------------

    def attach_to_oma(self, volume_id: str, oma_vm_id: str, *,
                      dev_root: str | Path = PRODUCTION_DEV_ROOT,
                      device_timeout: float = DEFAULT_DEVICE_TIMEOUT) -> AttachedVolume:
        """Attach to the control plane's VM; return once the job succeeded and the device exists.

        If the device never appears the volume is detached again, so nothing is left half-done.
        """
        volume = self.attach_volume(volume_id, oma_vm_id)
        path = volume_device_path(volume_id, dev_root)
        if not _wait_for_path(path, present=True, timeout=device_timeout):
            try:
                self.detach_volume(volume_id)
                undone = "it was detached again"
            except CloudStackError as exc:
                log.warning("cloudstack.detach_after_missing_device volume=%s error=%s",
                            volume_id, exc)
                undone = f"detaching it again failed too: {exc}"
            raise CloudStackDeviceError(
                f"Volume {volume_id} was attached to VM {oma_vm_id} (device id "
                f"{volume.get('deviceid')}) but {path} did not appear within {device_timeout:g} s"
                f" ({undone}); is that VM really this host?", volume_id=volume_id, device_path=path)
        return AttachedVolume(volume, int(volume["deviceid"]), path)

    def detach_from_oma(self, volume_id: str, *, dev_root: str | Path = PRODUCTION_DEV_ROOT,
                        device_timeout: float = DEFAULT_DEVICE_TIMEOUT) -> dict:
        """Detach from the control plane's VM; return once the device is gone.

        Idempotent, for rollbacks: a volume that is already detached only has its device waited on.
        """
        try:
            volume = self.detach_volume(volume_id)
        except CloudStackJobError as exc:
            if exc.errortext != _NOT_ATTACHED:
                raise
            volume = self.get_volume(volume_id)
        path = volume_device_path(volume_id, dev_root)
        if not _wait_for_path(path, present=False, timeout=device_timeout):
            raise CloudStackDeviceError(
                f"Volume {volume_id} is detached in CloudStack but {path} is still present "
                f"after {device_timeout:g} s", volume_id=volume_id, device_path=path)
        return volume

    def replace_root_volume(self, vm_id: str, volume_id: str, *, delete_old: bool = True) -> dict:
        """Give a stopped VM `volume_id` as its root disk (device id 0).

        CloudStack (KVM, VMware, XenServer) allows detaching a stopped VM's ROOT volume and
        attaching another volume at device id 0, which makes it the VM's ROOT. If attaching the
        new root fails, the old one is put back before the error is raised.
        """
        roots = [v for v in self.list_volumes(vm_id=vm_id) if v.get("deviceid") == 0]
        old = roots[0] if roots else None
        if old is not None:
            self.detach_volume(old["id"])
        try:
            new_root = self.attach_volume(volume_id, vm_id, device_id=0)
        except CloudStackError:
            if old is not None:
                self.attach_volume(old["id"], vm_id, device_id=0)
            raise
        if old is not None and delete_old:
            self.delete_volume(old["id"])
        return new_root

    def discover_all(self, *, zone: str | None = None, oma_macs: Iterable[str] | None = None,
                     oma_vm_id: str | None = None) -> dict:
        """Everything the settings screen offers: zones, networks, offerings, templates, OMA VM."""
        zones = self.list_zones()
        zone_id = self.find_zone(zone)["id"] if zone else None
        try:
            oma_vm, oma_error = detect_oma_vm(self, macs=oma_macs, vm_id=oma_vm_id), None
        except OmaVmDetectionError as exc:
            oma_vm, oma_error = None, str(exc)
        return {
            "zones": zones,
            "networks": self.list_networks(zone_id=zone_id),
            "service_offerings": self.list_service_offerings(),
            "disk_offerings": self.list_disk_offerings(),
            "templates": self.list_templates(zone_id=zone_id),
            "oma_vm": oma_vm,
            "oma_vm_error": oma_error,
        }


def detect_oma_vm(client: CloudStackClient, macs: Iterable[str] | None = None,
                  vm_id: str | None = None) -> dict:
    """The control plane's own VM: the configured id, else the VM whose NIC MACs are this host's."""
    if vm_id:
        try:
            return client.get_vm(vm_id)
        except CloudStackNotFoundError:
            raise OmaVmDetectionError(f"The configured control-plane VM {vm_id} does not exist "
                                      "in CloudStack") from None
    wanted = {m.lower() for m in (local_macs() if macs is None else macs)}
    if not wanted:
        raise OmaVmDetectionError("This host has no network interface MAC address to match")
    # A destroyed VM may still list the MACs it had; only a live one can be this host.
    found = [vm for vm in client.list_virtual_machines()
             if vm.get("state") not in ("Destroyed", "Expunging", "Error")
             and wanted & {nic.get("macaddress", "").lower() for nic in vm.get("nic", [])}]
    if not found:
        raise OmaVmDetectionError("No CloudStack VM has a NIC with this host's MAC addresses ("
                                  + ", ".join(sorted(wanted)) + "); set the control-plane VM id")
    if len(found) > 1:
        raise OmaVmDetectionError("Several CloudStack VMs share this host's MAC addresses ("
                                  + ", ".join(vm["name"] for vm in found)
                                  + "); set the control-plane VM id")
    return found[0]


def test_connection(api_url: str, api_key: str, secret_key: str, zone: str | None = None, *,
                    timeout: float = 10) -> dict:
    """The `test` action of /ossea/config (seed 001's `details`).

    A CloudStackError (auth, unreachable, bad response, ...) when the API cannot be used;
    `zone_verified` is the zone's name when `zone` (a name or id) exists, else None.
    """
    client = CloudStackClient(api_url, api_key, secret_key, timeout=timeout, retries=0)
    zones = client.list_zones()
    match = next((z for z in zones if zone in (z["id"], z["name"])), None) if zone else None
    return {"zones_found": len(zones), "zone_verified": match["name"] if match else None,
            "api_accessible": True}


test_connection.__test__ = False  # a product function, not a pytest test, despite its name
