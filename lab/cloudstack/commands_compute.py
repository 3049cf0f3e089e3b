"""Zones, networks, offerings, templates, VMs, NICs, VM snapshots and async job queries."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from lab.cloudstack import hypervisor, identity, responses, stats, storage, tenancy
from lab.cloudstack.commands_account import EXPUNGE_DENIED, FORCE_STOP_DENIED, denied, may_expunge, may_force_stop
from lab.cloudstack.errors import internal, invalid
from lab.cloudstack.registry import (
    ASYNC,
    CREATE,
    SYNC,
    AsyncSpec,
    Params,
    command,
    list_response,
)
from lab.cloudstack.state import ADMIN, GiB, LabState, new_id, now, random_mac

# CloudStack's hostname rule for VM names (UserVmManagerImpl / NetUtils.verifyDomainNameLabel).
_HOSTNAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_INT_MAX = 2**31 - 1
_HOSTNAME_TEXT = (
    "Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', "
    "and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with "
    "\"-\" and can't start with digit"
)


# States a VM passes through during a job; one a lost job leaves behind stays until a forced stop.
TRANSITIONAL = ("Starting", "Stopping", "Migrating")


def _matches(record: dict, p: Params, *, name_key: str = "name") -> bool:
    keyword = p.get("keyword")
    return keyword is None or keyword.lower() in str(record.get(name_key, "")).lower()


def _by_created(records) -> list[dict]:
    return sorted(records, key=lambda r: (r.get("created", ""), r.get("seq", 0)))


@command("listZones")
def list_zones(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.zones)
    name = p.get("name")
    items = [responses.zone(lab, z) for z in lab.zones.values()
             if (wanted is None or z is wanted) and (name is None or z["name"] == name)
             and _matches(z, p)]
    return list_response("zone", items, p)


@command("listNetworks")
def list_networks(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.networks)
    zone = p.entity("zoneid", lab.zones)
    items = [responses.network(lab, n) for n in _by_created(lab.networks.values())
             if (wanted is None or n is wanted) and (zone is None or n["zoneid"] == zone["id"])
             and _matches(n, p)]
    return list_response("network", items, p)


def _list_offerings(lab: LabState, p: Params, offerings: dict, kind: str) -> dict:
    """listServiceOfferings and listDiskOfferings: the same filters (id, name) over their own table."""
    wanted = p.entity("id", offerings)
    name = p.get("name")
    items = [responses.offering(lab, o) for o in _by_created(offerings.values())
             if (wanted is None or o is wanted) and (name is None or o["name"] == name)
             and _matches(o, p)]
    return list_response(kind, items, p)


@command("listServiceOfferings")
def list_service_offerings(lab: LabState, p: Params) -> dict:
    return _list_offerings(lab, p, lab.service_offerings, "serviceoffering")


@command("listDiskOfferings")
def list_disk_offerings(lab: LabState, p: Params) -> dict:
    return _list_offerings(lab, p, lab.disk_offerings, "diskoffering")


@command("listTemplates")
def list_templates(lab: LabState, p: Params) -> dict:
    p.require("templatefilter")
    wanted = p.entity("id", lab.templates)
    zone = p.entity("zoneid", lab.zones)
    name = p.get("name")
    items = [responses.template(lab, t) for t in lab.templates.values()
             if (wanted is None or t is wanted) and (zone is None or t["zoneid"] == zone["id"])
             and (name is None or t["name"] == name) and _matches(t, p)]
    return list_response("template", items, p)


@command("listVirtualMachines")
def list_virtual_machines(lab: LabState, p: Params) -> dict:
    wanted, removed = lab.resolve(p, "id", "vms")
    if removed:
        return list_response("virtualmachine", [], p)  # an expunged VM's id finds nothing
    # allow.user.view.destroyed.vm (default false): a user does not see destroyed VMs.
    hidden = () if lab.caller == ADMIN else ("Destroyed", "Expunging")
    ids = {v["id"] for v in p.entities("ids", lab.vms)}
    zone = p.entity("zoneid", lab.zones)
    network = p.entity("networkid", lab.networks)
    name, state = p.get("name"), p.get("state")
    items = []
    for v in _by_created(lab.vms.values()):
        if ((wanted is not None and v is not wanted) or (ids and v["id"] not in ids)
                or (zone and v["zoneid"] != zone["id"])
                or (network and all(n["networkid"] != network["id"] for n in v["nics"]))
                or (name and name.lower() not in v["name"].lower())
                or (state and v["state"].lower() != state.lower()) or not _matches(v, p)
                or v["state"] in hidden):
            continue
        items.append(v)
    roots = responses.root_volumes(lab)
    return list_response("virtualmachine", items, p, lambda v: _vm(lab, v, roots))


@command("listNics")
def list_nics(lab: LabState, p: Params) -> dict:
    vm = p.entity("virtualmachineid", lab.vms, required=True)
    nic_id = p.get("nicid")
    items = [responses.nic(lab, n, vm) for n in vm["nics"] if nic_id in (None, n["id"])]
    return list_response("nic", items, p)


def _vm(lab: LabState, v: dict, roots: dict[str, dict] | None = None) -> dict:
    """The VM as CloudStack shows it: its details are every detail it was deployed or updated with, and its
    statistics where the hypervisor gives some (stats.py)."""
    out = responses.vm(lab, v, roots)
    if v.get("details") or out.get("details"):
        out["details"] = {**v.get("details", {}), **out.get("details", {})}
    out.update(stats.of(v))
    return out


def _start(lab: LabState, vm: dict) -> None:
    attached = [v for v in lab.volumes.values() if v.get("virtualmachineid") == vm["id"]]
    if not any(v.get("deviceid") == 0 for v in attached):
        raise internal(f"Unable to start VM {vm['id']}: it has no ROOT volume (device id 0)")
    for volume in attached:
        lab.materialize(volume)
    hypervisor.power_on(lab, vm)  # lab: a bootable root runs as QEMU (--run-guests)
    vm["state"] = "Running"
    vm["lastupdated"] = now()


def _custom_compute(offering: dict, details: dict[str, str]) -> tuple[int, int, int]:
    """cpu, memory, speed of a customized offering, refused as UserVmManagerImpl.validateCustomParameters does."""
    # DeployVMCmd reads the map with VmDetailConstants' exact keys: `cpunumber` is not `cpuNumber`.
    if "cpuNumber" not in details or "memory" not in details:
        raise invalid("Need to specify custom parameter values cpu, cpu speed and memory "
                      "when using custom offering")
    try:
        cpu, mem = int(details["cpuNumber"]), int(details["memory"])
    except ValueError:
        raise invalid("Custom parameter values cpuNumber, cpuSpeed and memory must be numbers") from None
    if cpu < 1:
        raise invalid(f"Invalid cpu cores value, specify a value between 1 and {_INT_MAX}")
    if offering.get("cpuspeed") is None:
        # The detail's key is read as CloudStack reads it: exactly `cpuSpeed`.
        speed = _parse_int(details.get("cpuSpeed"))
        if speed is None or speed <= 0:
            raise invalid(f"Invalid cpu speed value, specify a value between 1 and {_INT_MAX}")
    elif "cpuSpeed" in details:
        raise invalid(f"The cpu speed of this offering id:{offering['id']} is not customizable. "
                      "This is predefined in the template.")
    else:
        speed = offering["cpuspeed"]
    if mem < 32:
        raise invalid(f"Invalid memory value, specify a value between 32 and {_INT_MAX}")
    return cpu, mem, speed


def _parse_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@command("deployVirtualMachine", CREATE, "vm.DeployVMCmd")
def deploy_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    zone = p.entity("zoneid", lab.zones, required=True)
    offering = p.entity("serviceofferingid", lab.service_offerings, required=True)
    template = p.entity("templateid", lab.templates, required=True)
    networks, requested = identity.requested_nics(lab, p)
    if not networks:  # an advanced zone falls back to the account's default network
        networks = [n for n in lab.networks.values() if n["zoneid"] == zone["id"]][:1]
        requested = [identity.NicRequest() for _ in networks]
    boot = identity.boot(p)
    name = p.get("name") or f"VM-{new_id()}"
    if not _HOSTNAME.match(name):
        raise invalid(_HOSTNAME_TEXT)
    for other in lab.vms.values():
        shared = {n["networkid"] for n in other["nics"]} & {n["id"] for n in networks}
        if other["name"].lower() == name.lower() and shared and other["state"] != "Destroyed":
            net = lab.networks[shared.pop()]
            raise invalid(f"The vm with hostName {name} already exists in the network domain: "
                          f"{net['networkdomain']}; network={net['name']}")
    details = identity.map_param(p, "details")
    if offering["iscustomized"]:
        cpu, mem, speed = _custom_compute(offering, details)
    else:
        cpu, mem, speed = offering["cpunumber"], offering["memory"], offering["cpuspeed"]
    root_size = template["size"]
    rootdisksize = p.integer("rootdisksize")
    if rootdisksize is not None:
        if rootdisksize * GiB < template["size"]:
            raise invalid(f"Root disk size ({rootdisksize} GB) is smaller than the template "
                          f"size ({template['size'] // GiB} GB)")
        root_size = rootdisksize * GiB
    data_offering = p.entity("diskofferingid", lab.disk_offerings)
    data_gb = None
    if data_offering is not None:
        data_gb = p.integer("size") if data_offering["iscustomized"] else data_offering["disksize"]
        if not data_gb:
            raise invalid("This disk offering requires a custom size specified")
    start = p.flag("startvm", True)
    addresses = identity.allocate(lab, networks, requested)

    vm = lab.new_vm(name=name, zone=zone, offering=offering, template=template,
                    networks=networks, macs=[r.mac or random_mac() for r in requested],
                    addresses=addresses, cpunumber=cpu, cpuspeed=speed, memory=mem)
    vm["displayname"] = p.get("displayname") or name
    vm.update(tenancy.owner_fields(lab, p))
    vm.update(boot.fields())
    vm["details"] = {**details, **boot.details()}
    root = lab.new_volume(name=f"ROOT-{vm['seq']}", zone=zone, size=root_size, vtype="ROOT",
                          vm=vm, deviceid=0)
    root["templateid"] = template["id"]
    root.update(tenancy.owner_fields(lab, p))
    if data_offering is not None:
        data = lab.new_volume(name=f"DATA-{vm['seq']}", zone=zone, size=data_gb * GiB, vtype="DATADISK",
                              diskofferingid=data_offering["id"], vm=vm, deviceid=1)
        data.update(tenancy.owner_fields(lab, p))

    def run() -> dict:
        if start:
            _start(lab, vm)
        return {"virtualmachine": _vm(lab, vm)}

    def on_fail() -> None:
        vm["state"] = "Error"

    return AsyncSpec("VirtualMachine", vm["id"], run, on_fail)


@command("updateVirtualMachine", SYNC, "vm.UpdateVMCmd")
def update_virtual_machine(lab: LabState, p: Params) -> dict:
    vm = p.entity("id", lab.vms, required=True)
    os_type = p.entity("ostypeid", lab.os_types)
    if os_type is not None:
        vm.update(guestosid=os_type["id"], ostypeid=os_type["id"], osdisplayname=os_type["description"])
    if p.get("displayname") is not None:
        vm["displayname"] = p.get("displayname")
    details = identity.map_param(p, "details")
    if details:
        vm["details"] = {**vm.get("details", {}), **details}
    return {"virtualmachine": _vm(lab, vm)}


@command("listOsTypes")
def list_os_types(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.os_types)
    description = p.get("description")
    category = p.get("oscategoryid")
    items = [responses.offering(lab, o) for o in _by_created(lab.os_types.values())
             if (wanted is None or o is wanted) and description in (None, o["description"])
             and category in (None, o["oscategoryid"]) and _matches(o, p, name_key="description")]
    return list_response("ostype", items, p)


@command("startVirtualMachine", ASYNC, "vm.StartVMCmd")
def start_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    vm = p.entity("id", lab.vms, required=True)

    def run() -> dict:
        if vm["state"] == "Running":
            raise invalid(f"The virtual machine {vm['id']} ({vm['displayname']}) is already running")
        if vm["state"] != "Stopped":
            raise invalid(f"Unable to start VM {vm['id']} in state {vm['state']}")
        _start(lab, vm)
        return {"virtualmachine": _vm(lab, vm)}

    return AsyncSpec("VirtualMachine", vm["id"], run)


@command("stopVirtualMachine", ASYNC, "vm.StopVMCmd")
def stop_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    vm = p.entity("id", lab.vms, required=True)
    forced_denied = p.flag("forced") and not may_force_stop(lab)

    def run() -> dict:
        if forced_denied:
            raise denied(FORCE_STOP_DENIED)
        # VirtualMachineManagerImpl.advanceStop: a VM left Starting/Stopping/Migrating (its work item lost with a
        # management server) stops only when forced (cleanUpEvenIfUnableToStop); CloudStack then marks it Stopped.
        if vm["state"] not in ("Running", "Stopped") and not (p.flag("forced") and vm["state"] in TRANSITIONAL):
            raise invalid(f"Unable to stop VM {vm['id']} in state {vm['state']}")
        hypervisor.power_off(lab, vm)  # lab: its QEMU process, if any, ends
        vm["state"] = "Stopped"  # stopping a stopped VM succeeds, as it does on CloudStack
        vm["lastupdated"] = now()
        return {"virtualmachine": _vm(lab, vm)}

    return AsyncSpec("VirtualMachine", vm["id"], run)


@command("updateTemplate", SYNC, "template.UpdateTemplateCmd")
def update_template(lab: LabState, p: Params) -> dict:
    template = p.entity("id", lab.templates, required=True)
    if p.get("passwordenabled") is not None:
        template["passwordenabled"] = p.flag("passwordenabled")
    for key in ("name", "displaytext"):
        if p.get(key) is not None:
            template[key] = p.get(key)
    return {"template": responses.template(lab, template)}


@command("resetPasswordForVirtualMachine", ASYNC, "vm.ResetVMPasswordCmd")
def reset_password_for_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    vm = p.entity("id", lab.vms, required=True)
    given = p.get("password")

    def run() -> dict:
        # UserVmManagerImpl.resetVMPassword: the template must be password enabled, the VM Stopped.
        template = lab.templates.get(vm["templateid"])
        if template is None or not template.get("passwordenabled"):
            raise invalid("Fail to reset password for the virtual machine, the template is not password enabled")
        if vm["state"] in ("Error", "Expunging"):
            raise invalid(f"Vm with id {vm['id']} is not in the right state")
        if vm["state"] != "Stopped":
            raise invalid(f"Vm {vm['name']} should be stopped to do password reset")
        # ResetVMPasswordCmd: the caller's password, else one the management server generates.
        vm["password"] = given or secrets.token_urlsafe(9)
        vm["lastupdated"] = now()
        return {"virtualmachine": {**_vm(lab, vm), "password": vm["password"], "passwordenabled": True}}

    return AsyncSpec("VirtualMachine", vm["id"], run)


@command("rebootVirtualMachine", ASYNC, "vm.RebootVMCmd")
def reboot_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    vm = p.entity("id", lab.vms, required=True)

    def run() -> dict:
        # UserVmManagerImpl.rebootVirtualMachine: only a Running VM reboots.
        if vm["state"] != "Running":
            raise invalid(f"Unable to reboot VM {vm['id']} in state {vm['state']}: it is not Running")
        hypervisor.power_off(lab, vm)
        _start(lab, vm)
        return {"virtualmachine": _vm(lab, vm)}

    return AsyncSpec("VirtualMachine", vm["id"], run)


@command("destroyVirtualMachine", ASYNC, "vm.DestroyVMCmd")
def destroy_virtual_machine(lab: LabState, p: Params) -> AsyncSpec:
    vm, removed = lab.resolve(p, "id", "vms", required=True)
    expunge = p.flag("expunge")
    expunge_denied = expunge and not may_expunge(lab)
    doomed = {v["id"] for v in p.entities("volumeids", lab.volumes)}

    def run() -> dict:
        # UserVmManagerImpl.destroyVm: both checks run inside the job, before anything is destroyed.
        if removed:
            raise invalid("Unable to find a virtual machine with specified vmId")
        if expunge_denied:
            raise denied(EXPUNGE_DENIED)
        if vm["state"] in ("Destroyed", "Expunging") and not expunge:
            raise invalid(f"VM {vm['id']} is already destroyed")
        hypervisor.power_off(lab, vm)  # lab: its QEMU process, if any, ends
        for volume in [v for v in lab.volumes.values() if v.get("virtualmachineid") == vm["id"]]:
            if volume["type"] == "ROOT" and volume.get("deviceid") == 0:
                volume["state"] = "Destroy"  # kept with the VM until it is expunged
                if expunge:
                    storage.remove(lab.volume_file(volume["id"]))
                    lab.remove("volumes", volume["id"])
                continue
            if vm.get("oma"):
                storage.unlink_device(lab.lab_root, volume["id"])
            volume.update(virtualmachineid=None, deviceid=None, attached=None, type="DATADISK")
            if volume["id"] in doomed:
                storage.remove(lab.volume_file(volume["id"]))
                lab.remove("volumes", volume["id"])
        for snap in [s for s in lab.vm_snapshots.values() if s["virtualmachineid"] == vm["id"]]:
            del lab.vm_snapshots[snap["id"]]
        vm["state"] = "Expunging" if expunge else "Destroyed"
        rendered = _vm(lab, vm)
        if expunge:
            lab.remove("vms", vm["id"])
        return {"virtualmachine": rendered}

    return AsyncSpec("VirtualMachine", vm["id"], run)


@command("createVMSnapshot", CREATE, "vmsnapshot.CreateVMSnapshotCmd")
def create_vm_snapshot(lab: LabState, p: Params) -> AsyncSpec:
    vm = p.entity("virtualmachineid", lab.vms, required=True)
    memory = p.flag("snapshotmemory")
    if vm["state"] not in ("Running", "Stopped"):
        raise invalid(f"Creating VM snapshot failed due to VM:{vm['id']} is not in Running or "
                      "Stopped state")
    if memory and vm["state"] != "Running":
        raise invalid("Can not snapshot memory when VM is not in Running state")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    current = next((s for s in lab.vm_snapshots.values()
                    if s["virtualmachineid"] == vm["id"] and s.get("current")), None)
    snap = {
        "id": new_id(), "name": p.get("name") or f"{vm['instancename']}_VS_{stamp}",
        "description": p.get("description"), "state": "Allocated",
        "type": "DiskAndMemory" if memory else "Disk", "current": False,
        "virtualmachineid": vm["id"], "zoneid": vm["zoneid"], "created": now(),
        "parent": current["id"] if current else None,
        "parentName": current["name"] if current else None,
    }
    snap["displayname"] = p.get("name") or snap["name"]
    lab.vm_snapshots[snap["id"]] = snap

    def run() -> dict:
        for other in lab.vm_snapshots.values():
            if other["virtualmachineid"] == vm["id"]:
                other["current"] = False
        snap.update(state="Ready", current=True)
        return {"vmsnapshot": responses.vm_snapshot(lab, snap)}

    def on_fail() -> None:
        snap["state"] = "Error"

    return AsyncSpec("VMSnapshot", snap["id"], run, on_fail)


@command("listVMSnapshot")
def list_vm_snapshot(lab: LabState, p: Params) -> dict:
    wanted = p.entity("vmsnapshotid", lab.vm_snapshots)
    vm = p.entity("virtualmachineid", lab.vms)
    name, state = p.get("name"), p.get("state")
    items = [responses.vm_snapshot(lab, s) for s in _by_created(lab.vm_snapshots.values())
             if (wanted is None or s is wanted) and (vm is None or s["virtualmachineid"] == vm["id"])
             and name in (None, s["name"]) and (state is None or s["state"] == state)
             and _matches(s, p)]
    # ListVMSnapshotCmd names its items "vmSnapshot", camelCase, unlike every other list.
    return list_response("vmSnapshot", items, p)


@command("deleteVMSnapshot", ASYNC, "vmsnapshot.DeleteVMSnapshotCmd")
def delete_vm_snapshot(lab: LabState, p: Params) -> AsyncSpec:
    snap = p.entity("vmsnapshotid", lab.vm_snapshots, required=True)

    def run() -> dict:
        lab.vm_snapshots.pop(snap["id"], None)
        return {"success": True}

    return AsyncSpec("VMSnapshot", snap["id"], run)


@command("queryAsyncJobResult")
def query_async_job_result(lab: LabState, p: Params) -> dict:
    job = p.entity("jobid", lab.jobs, required=True)
    return responses.job(lab, job)


@command("listAsyncJobs")
def list_async_jobs(lab: LabState, p: Params) -> dict:
    items = [responses.job(lab, j) for j in sorted(lab.jobs.values(), key=lambda j: j["seq"])]
    return list_response("asyncjobs", items, p)
