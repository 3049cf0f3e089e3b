"""Records -> the JSON objects CloudStack answers with (derived names filled in at render time)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from lab.cloudstack import pools, storage
from lab.cloudstack.state import ADMIN, LabState

_OWNER = {"account": "admin", "domain": "ROOT", "domainid": "00000000-0000-0000-0000-000000000001"}
_PRIVATE = ("seq", "oma", "next_host", "base_allocated", "limits", "password", "lab_workload")


def public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in _PRIVATE and v is not None}


_public = public


def zone(lab: LabState, z: dict) -> dict:
    return _public(z)


def network(lab: LabState, n: dict) -> dict:
    return {**_public(n), "zonename": lab.zones[n["zoneid"]]["name"]}


def offering(lab: LabState, o: dict) -> dict:
    return _public(o)


def template(lab: LabState, t: dict) -> dict:
    return {**_public(t), "zonename": lab.zones[t["zoneid"]]["name"]}


def nic(lab: LabState, n: dict, vm: dict | None = None) -> dict:
    out = {**n, "networkname": lab.networks[n["networkid"]]["name"]}
    if vm is not None:
        out["virtualmachineid"] = vm["id"]
    return out


def owner_of(record: dict) -> dict:
    """The record's owner: the account (and project) it was made for, else the root admin."""
    out = dict(_OWNER)
    out.update({k: record[k] for k in ("account", "domain", "domainid", "projectid", "project") if record.get(k)})
    return out


def host_of(lab: LabState, v: dict) -> dict | None:
    """The host a running VM is on: spread over the hosts by the VM's sequence number."""
    if v["state"] != "Running" or not lab.hosts:
        return None
    return sorted(lab.hosts.values(), key=lambda h: h["name"])[v.get("seq", 0) % len(lab.hosts)]


def root_volumes(lab: LabState) -> dict[str, dict]:
    """VM id -> its ROOT volume (device id 0), built once for a list call instead of a scan per VM."""
    return {vol["virtualmachineid"]: vol for vol in lab.volumes.values()
            if vol.get("virtualmachineid") and vol.get("deviceid") == 0}


def vm(lab: LabState, v: dict, roots: dict[str, dict] | None = None) -> dict:
    out = _public(v)
    out.update(owner_of(v))
    host = host_of(lab, v)
    if host is not None:
        out.update(hostid=host["id"], hostname=host["name"])
    out["nic"] = [nic(lab, n) for n in v["nics"]]
    out.pop("nics", None)
    out["zonename"] = lab.zones[v["zoneid"]]["name"]
    offering_ = lab.service_offerings.get(v["serviceofferingid"])
    out["serviceofferingname"] = offering_["name"] if offering_ else ""
    template_ = lab.templates.get(v["templateid"])
    out["templatename"] = template_["name"] if template_ else ""
    root = (roots if roots is not None else root_volumes(lab)).get(v["id"])
    if root is not None:
        out.update(rootdeviceid=0, rootdevicetype="ROOT")
    if offering_ and offering_["iscustomized"]:
        out["details"] = {"cpuNumber": str(v["cpunumber"]), "memory": str(v["memory"]),
                          "cpuSpeed": str(v["cpuspeed"])}
    out["haenable"] = False
    return out


def volume(lab: LabState, v: dict) -> dict:
    out = _public(v)
    out.update(owner_of(v))
    out["zonename"] = lab.zones[v["zoneid"]]["name"]
    out.update(storagetype="shared", hypervisor="KVM", destroyed=v["state"] == "Destroy", isextractable=True)
    pool = lab.storage_pools.get(v.get("storageid") or "")
    if pool is not None:  # an Allocated volume is on no pool yet: CloudStack shows no storage
        out["storage"] = pool["name"]
    if v["state"] != "Allocated":
        out["path"] = v["id"]
    offering_ = lab.disk_offerings.get(v.get("diskofferingid") or "")
    if offering_:
        out["diskofferingname"] = offering_["name"]
        out["diskofferingdisplaytext"] = offering_["displaytext"]
    if v.get("virtualmachineid"):
        owner = lab.vms[v["virtualmachineid"]]
        out.update(vmname=owner["name"], vmdisplayname=owner["displayname"],
                   vmstate=owner["state"])
        if v["type"] == "ROOT":
            out["serviceofferingid"] = owner["serviceofferingid"]
    out.update(volume_stats(lab, v))
    return out


def utilization_text(physical: int, virtual: int) -> str:
    """Java's DecimalFormat("0.0%") of physical/virtual: times 100 as a double, HALF_EVEN, one decimal always."""
    value = Decimal(physical / virtual * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return f"{value:f}%"


def volume_stats(lab: LabState, v: dict) -> dict:
    """The StatsCollector's figures for a volume, as ViewResponseHelper.createVolumeResponse adds them.

    CloudStack's VolumeStatsTask asks a KVM host about the volumes on each primary storage pool; the agent answers
    with the disk's allocation (qemu-img's "disk size": what the file holds on the pool) and its virtual size.
    Every volume response (listVolumes, createVolume, attach/detach, resize) then carries `utilization`
    (physical/virtual as DecimalFormat "0.0%"), and, in the root admin's (Full) view only, `physicalsize` and
    `virtualsize` in bytes. A volume on no pool yet (Allocated) has no statistics: no fields. The emulator's
    backing file is the disk: st_blocks*512 allocated, its length the virtual size, read at each answer (no
    collection interval, so a test sees what it wrote at once).
    """
    if v["state"] == "Allocated" or not v.get("storageid"):
        return {}
    path = lab.volume_file(v["id"])
    virtual = storage.virtual_bytes(path)
    if not virtual:  # no backing file (a record-only volume): nothing for a host to report
        return {}
    physical = storage.allocated_bytes(path)
    out = {"utilization": utilization_text(physical, virtual)}
    if lab.caller == ADMIN:
        out.update(physicalsize=physical, virtualsize=virtual)
    return out


def storage_pool(lab: LabState, pool: dict) -> dict:
    out = _public(pool)
    out.update(zonename=lab.zones[pool["zoneid"]]["name"], disksizeallocated=pools.allocated(lab, pool),
               disksizeused=sum(storage.allocated_bytes(lab.volume_file(v["id"])) for v in lab.volumes.values()
                                if v.get("storageid") == pool["id"]),
               istagarule=False)
    return out


def snapshot(lab: LabState, s: dict) -> dict:
    out = _public(s)
    out.update(owner_of(lab.volumes.get(s.get("volumeid") or "") or {}))
    out["zonename"] = lab.zones[s["zoneid"]]["name"]
    out["physicalsize"] = storage.allocated_bytes(lab.snapshot_file(s["id"]))
    return out


def vm_snapshot(lab: LabState, s: dict) -> dict:
    out = _public(s)
    out.update(_OWNER)
    owner = lab.vms.get(s["virtualmachineid"])
    if owner:
        out["virtualmachinename"] = owner["name"]
    return out


def job(lab: LabState, j: dict) -> dict:
    out = {k: v for k, v in j.items() if k not in ("seq", "command")}
    if j["jobstatus"] == 0:
        out.pop("jobresult", None)
        out.pop("completed", None)
    return out
