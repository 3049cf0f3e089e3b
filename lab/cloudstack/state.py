"""The emulated cloud's records, persisted as one JSON file in the state directory."""

from __future__ import annotations

import json
import os
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lab.cloudstack import pools, storage

GiB = 1024**3
STATE_FILE = "cloudstack-state.json"
TABLES = (
    "zones", "networks", "service_offerings", "disk_offerings", "templates",
    "vms", "volumes", "snapshots", "vm_snapshots", "jobs", "os_types", "storage_pools",
    "domains", "accounts", "projects", "hosts", "security_groups", "public_ips",
)
MAX_KEPT_JOBS = 2000
# Events kept (the oldest go first), as CloudStack purges them after event.purge.delay.
MAX_KEPT_EVENTS = 20000
# Tables whose deleted rows CloudStack keeps (with `removed` set): their ids still resolve, as in
# ParamProcessWorker's findByUuidIncludingRemoved, so a second delete fails the way CloudStack's does.
KEPT_WHEN_REMOVED = ("vms", "volumes", "snapshots")
ADMIN, USER = "admin", "user"
# The id every seeded record's owner (admin in ROOT) shows as `domainid` (responses._OWNER).
ROOT_DOMAIN_ID = "00000000-0000-0000-0000-000000000001"
# The global settings the emulator honours, with CloudStack's defaults (UserVmManager's ConfigKeys).
CONFIG_DEFAULTS = {"allow.user.expunge.recover.vm": "false", "allow.user.force.stop.vm": "true"}


def now() -> str:
    """CloudStack's date format: yyyy-MM-dd'T'HH:mm:ssZ."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def new_id() -> str:
    return str(uuid.uuid4())


def random_mac() -> str:
    # 02: a locally administered unicast prefix, as CloudStack's guest NICs use.
    return "02:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))


@dataclass
class LabOptions:
    state_dir: Path
    lab_root: Path | None = None
    api_key: str | None = None
    secret_key: str | None = None
    oma_vm_id: str | None = None
    oma_vm_macs: list[str] = field(default_factory=list)
    zone_name: str = "OSSEA-Zone"
    max_data_volumes: int = 6
    job_delay: float = 0.2
    # What listCapabilities answers; createVolume takes `storageid` from 4.23 (pools.STORAGE_ID_SINCE).
    cloudstack_version: str = "4.20.0.0"
    # A second zone (with its own pools) at first start, for what CloudStack refuses across zones.
    extra_zone: str | None = None


class LabState:
    """All records plus the lock every reader and writer holds; saved after each change."""

    def __init__(self, options: LabOptions):
        self.options = options
        self.state_dir = Path(options.state_dir).resolve()
        self.lab_root = Path(options.lab_root or options.state_dir).resolve()
        self.lock = threading.RLock()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / STATE_FILE
        if self.path.exists():
            self.data = json.loads(self.path.read_text())
            if not self.data.setdefault("os_types", {}):  # a state file older than the OS types
                self._seed_os_types()
            if not self.data.setdefault("storage_pools", {}):  # ... or than the storage pools
                for zone in list(self.zones.values()):
                    pools.seed(self, zone)
                for volume in self.volumes.values():
                    if volume["state"] != "Allocated" and not volume.get("storageid"):
                        volume["storageid"] = pools.place(self, volume)["id"]
        else:
            self.data = {"account": {}, "seq": 2}
            for table in TABLES:
                self.data[table] = {}
            self._seed()
        # State files written before removed rows, the user account, the settings and the tenancy tables existed.
        for table in TABLES:
            self.data.setdefault(table, {})
        if not self.domains:
            self._seed_tenancy()
        self.data.setdefault("removed", {table: {} for table in KEPT_WHEN_REMOVED})
        self.data.setdefault("user_account", _new_keys())
        self.data.setdefault("config", dict(CONFIG_DEFAULTS))
        # The role of the request being handled (set by the server under the lock): "admin" or "user".
        self.caller = ADMIN
        self._apply_options()
        self.reconcile_devices()
        self.save()

    # -- tables -------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> dict:
        if name in TABLES:
            return self.data[name]
        raise AttributeError(name)

    @property
    def api_key(self) -> str:
        return self.data["account"]["api_key"]

    @property
    def secret_key(self) -> str:
        return self.data["account"]["secret_key"]

    @property
    def user_api_key(self) -> str:
        return self.data["user_account"]["api_key"]

    @property
    def user_secret_key(self) -> str:
        return self.data["user_account"]["secret_key"]

    def account_for(self, api_key: str | None) -> tuple[str, str] | None:
        """(role, secret key) of the account an API key belongs to, None for an unknown key."""
        if api_key and api_key == self.api_key:
            return ADMIN, self.secret_key
        if api_key and api_key == self.user_api_key:
            return USER, self.user_secret_key
        return None

    def setting(self, name: str) -> bool:
        return str(self.data["config"].get(name, CONFIG_DEFAULTS.get(name, "false"))).lower() == "true"

    # -- removed rows -------------------------------------------------------------------------

    def remove(self, table: str, record_id: str) -> dict | None:
        """Delete a row as CloudStack does: gone from every list, its id still known (`removed` set)."""
        record = self.data[table].pop(record_id, None)
        if record is not None and table in KEPT_WHEN_REMOVED:
            self.data["removed"][table][record_id] = {**record, "removed": now()}
        return record

    def resolve(self, params, name: str, table: str, required: bool = False) -> tuple[dict | None, bool]:
        """The row a parameter names and whether it was removed; an id never seen is refused as before."""
        value = params.require(name) if required else params.get(name)
        if value is not None and value in self.data["removed"].get(table, {}):
            return self.data["removed"][table][value], True
        return params.entity(name, self.data[table], required), False

    def next_seq(self) -> int:
        self.data["seq"] += 1
        return self.data["seq"]

    def volume_file(self, volume_id: str) -> Path:
        return self.state_dir / "volumes" / f"{volume_id}.img"

    def snapshot_file(self, snapshot_id: str) -> Path:
        return self.state_dir / "snapshots" / f"{snapshot_id}.img"

    def oma_vm(self) -> dict:
        return next(vm for vm in self.vms.values() if vm.get("oma"))

    def save(self) -> None:
        with self.lock:
            jobs = self.data["jobs"]
            if len(jobs) > MAX_KEPT_JOBS:  # the oldest finished jobs go first
                done = [j for j in jobs.values() if j["jobstatus"] != 0]
                for job in sorted(done, key=lambda j: j["seq"])[: len(jobs) - MAX_KEPT_JOBS]:
                    del jobs[job["jobid"]]
            events = self.data.get("events", {})
            if len(events) > MAX_KEPT_EVENTS:
                for event in sorted(events.values(), key=lambda e: e["seq"])[: len(events) - MAX_KEPT_EVENTS]:
                    del events[event["id"]]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)  # a crash mid-write never leaves half a state file

    def reconcile_devices(self) -> None:
        oma = self.oma_vm()
        wanted = {
            vol["id"]: self.volume_file(vol["id"])
            for vol in self.volumes.values()
            if vol.get("virtualmachineid") == oma["id"] and vol["state"] == "Ready"
        }
        storage.reconcile_devices(self.lab_root, wanted)

    # -- first start --------------------------------------------------------------------------

    def _seed(self) -> None:
        o = self.options
        self.data["account"] = _new_keys()
        zone = self._add("zones", {
            "name": o.zone_name, "allocationstate": "Enabled", "networktype": "Advanced",
            "localstorageenabled": False, "securitygroupsenabled": False,
            "dns1": "8.8.8.8", "internaldns1": "10.0.0.2", "description": "lab zone",
        })
        pools.seed(self, zone)
        if o.extra_zone:
            other = {k: v for k, v in zone.items() if k not in ("id", "created")}
            pools.seed(self, self._add("zones", {**other, "name": o.extra_zone, "description": "second lab zone"}))
        nets = [
            self._network(zone, "oma-net", "10.1.1"),
            self._network(zone, "migration-net", "10.1.2"),
            self._network(zone, "test-failover-net", "10.1.3"),
        ]
        # A shared network with an address range (VMs may ask for their address) and an L2 network (no
        # addressing at all): where a failed-over VM can keep its source addresses.
        self._network(zone, "shared-net", "10.1.4", type="Shared", startip="10.1.4.100",
                      endip="10.1.4.199", networkofferingname="DefaultSharedNetworkOffering")
        self._add("networks", {
            "name": "l2-net", "displaytext": "l2-net", "zoneid": zone["id"], "state": "Implemented",
            "type": "L2", "traffictype": "Guest", "broadcastdomaintype": "Vlan", "canusefordeploy": True,
            "networkofferingname": "DefaultL2NetworkOffering", "account": "admin", "domain": "ROOT",
        })
        for name, cpu, speed, mem in (("Small Instance", 1, 1000, 1024),
                                      ("Medium Instance", 2, 1000, 4096),
                                      ("Large Instance", 4, 2000, 8192)):
            self._add("service_offerings", {
                "name": name, "displaytext": f"{name}, {cpu} vCPU, {mem} MB",
                "cpunumber": cpu, "cpuspeed": speed, "memory": mem, "iscustomized": False,
                **_OFFERING_COMMON,
            })
        # No speed: a deploy must name one (details[0].cpuSpeed), as UserVmManagerImpl's
        # validateCustomParameters requires.
        self._add("service_offerings", {
            "name": "Custom", "displaytext": "Custom: choose vCPUs and memory",
            "iscustomized": True, **_OFFERING_COMMON,
        })
        for name, gb in (("Small", 5), ("Medium", 20), ("Large", 100)):
            self._add("disk_offerings", {
                "name": name, "displaytext": f"{name} disk, {gb} GB", "disksize": gb,
                "iscustomized": False, **_DISK_OFFERING_COMMON,
            })
        self._add("disk_offerings", {
            "name": "Custom", "displaytext": "Custom disk size", "disksize": 0,
            "iscustomized": True, **_DISK_OFFERING_COMMON,
        })
        # Storage tags: its volumes go only to pools tagged "ssd" (the way to pick a pool before 4.23).
        self._add("disk_offerings", {
            "name": "Custom SSD", "displaytext": "Custom disk size on SSD", "disksize": 0,
            "iscustomized": True, **_DISK_OFFERING_COMMON, "tags": "ssd",
        })
        os_types = self._seed_os_types()
        template = self._add("templates", {
            "name": "lab-template", "displaytext": "Lab Linux template", "zoneid": zone["id"],
            "size": 2 * GiB, "format": "QCOW2", "hypervisor": "KVM", "ispublic": True,
            "isfeatured": True, "isready": True, "status": "Download Complete",
            "ostypename": "Ubuntu 22.04 LTS", "ostypeid": os_types["Ubuntu 22.04 LTS"]["id"],
            "templatetype": "USER", "passwordenabled": False,
            "account": "admin", "domain": "ROOT",
        })
        medium = next(s for s in self.service_offerings.values() if s["name"] == "Medium Instance")
        oma = self._seed_vm("oma", zone, medium, template, [nets[0]], [random_mac()], running=True)
        oma["oma"] = True
        self._seed_vm("web-01", zone, medium, template, [nets[1]], [random_mac()], running=True)

    def _seed_tenancy(self) -> None:
        """The ROOT domain and its admin account (what every record without an owner belongs to), two KVM hosts."""
        root = self._add("domains", {"name": "ROOT", "path": "ROOT", "level": 0, "parentdomainid": None,
                                     "haschild": False, "state": "Active"}, ROOT_DOMAIN_ID)
        self._add("accounts", {"name": "admin", "accounttype": 1, "roletype": "Admin", "domainid": root["id"],
                               "domain": "ROOT", "state": "enabled"})
        zone = next(iter(self.zones.values()))
        # Each isolated network's source NAT address (CloudStack gives one when the network is implemented).
        for index, net in enumerate(n for n in self.networks.values() if n["type"] == "Isolated"):
            self._add("public_ips", {"ipaddress": f"203.0.113.{10 + index}", "state": "Allocated",
                                     "associatednetworkid": net["id"], "issourcenat": True, "isstaticnat": False,
                                     "zoneid": zone["id"], "allocated": now()})
        for index in (1, 2):
            self._add("hosts", {"name": f"kvm-host-0{index}", "type": "Routing", "hypervisor": "KVM",
                                "state": "Up", "resourcestate": "Enabled", "zoneid": zone["id"],
                                "zonename": zone["name"], "ipaddress": f"10.0.0.{10 + index}",
                                "cpunumber": 32, "cpuspeed": 2400, "memorytotal": 128 * GiB,
                                "localstoragetotal": 2000 * GiB})

    def _seed_os_types(self) -> dict[str, dict]:
        """A slice of CloudStack's guest OS catalogue (listOsTypes), by description."""
        categories = {name: new_id() for name in ("Ubuntu", "Debian", "RedHat", "CentOS", "Windows", "Other")}
        out = {}
        for category, description in _OS_TYPES:
            out[description] = self._add("os_types", {
                "description": description, "name": description, "oscategoryid": categories[category],
                "oscategoryname": category, "isuserdefined": False, "fordisplay": True,
            })
        return out

    def _add(self, table: str, record: dict, record_id: str | None = None) -> dict:
        record = {"id": record_id or new_id(), "created": now(), **record}
        self.data[table][record["id"]] = record
        return record

    def _network(self, zone: dict, name: str, prefix: str, **extra) -> dict:
        return self._add("networks", {
            "name": name, "displaytext": name, "zoneid": zone["id"], "cidr": f"{prefix}.0/24",
            "gateway": f"{prefix}.1", "netmask": "255.255.255.0", "state": "Implemented",
            "type": "Isolated", "traffictype": "Guest", "broadcastdomaintype": "Vlan",
            "networkdomain": "cs2cloud.internal", "canusefordeploy": True,
            "networkofferingname": "DefaultIsolatedNetworkOfferingWithSourceNatService",
            "account": "admin", "domain": "ROOT", "next_host": 10, **extra,
        })

    def addresses_in_use(self, network_id: str) -> set[str]:
        """Guest addresses held in a network; a destroyed VM keeps its NICs until it is expunged."""
        return {nic["ipaddress"] for vm in self.vms.values() for nic in vm["nics"]
                if nic["networkid"] == network_id and nic.get("ipaddress")}

    def _free_address(self, net: dict) -> str:
        prefix = net["gateway"].rsplit(".", 1)[0]
        first = int(net["startip"].rsplit(".", 1)[1]) if net.get("startip") else 2
        taken = self.addresses_in_use(net["id"])
        host = max(net["next_host"], first)
        while f"{prefix}.{host}" in taken:
            host += 1
        net["next_host"] = host + 1
        return f"{prefix}.{host}"

    def make_nics(self, networks: list[dict], macs: list[str],
                  addresses: list[str | None] | None = None) -> list[dict]:
        """NICs in network order; an address of None is allocated, an L2 network has none."""
        addresses = addresses or [None] * len(networks)
        nics = []
        for index, (net, mac, address) in enumerate(zip(networks, macs, addresses, strict=False)):
            nic = {"id": new_id(), "networkid": net["id"], "macaddress": mac.lower(),
                   "isdefault": index == 0, "deviceid": str(index), "traffictype": "Guest",
                   "type": net["type"]}
            if net.get("gateway"):
                nic.update(ipaddress=address or self._free_address(net), netmask=net["netmask"],
                           gateway=net["gateway"])
            nics.append(nic)
        return nics

    def new_vm(self, *, name: str, zone: dict, offering: dict, template: dict,
               networks: list[dict], macs: list[str], cpunumber: int, cpuspeed: int,
               memory: int, vm_id: str | None = None,
               addresses: list[str | None] | None = None) -> dict:
        seq = self.next_seq()
        return self._add("vms", {
            "name": name, "displayname": name, "state": "Stopped", "zoneid": zone["id"],
            "serviceofferingid": offering["id"], "templateid": template["id"],
            "cpunumber": cpunumber, "cpuspeed": cpuspeed, "memory": memory,
            "hypervisor": "KVM", "instancename": f"i-2-{seq}-VM", "seq": seq,
            "nics": self.make_nics(networks, macs, addresses), "oma": False,
            "guestosid": template.get("ostypeid"), "ostypeid": template.get("ostypeid"),
            "osdisplayname": template.get("ostypename"),
        }, vm_id)

    def new_volume(self, *, name: str, zone: dict, size: int, vtype: str,
                   diskofferingid: str | None = None, vm: dict | None = None,
                   deviceid: int | None = None) -> dict:
        volume = self._add("volumes", {
            "name": name, "zoneid": zone["id"], "type": vtype, "size": size,
            "state": "Allocated", "diskofferingid": diskofferingid, "provisioningtype": "thin",
            "virtualmachineid": None, "deviceid": None, "attached": None,
        })
        if vm is not None:
            volume.update(virtualmachineid=vm["id"], deviceid=deviceid, attached=now())
        return volume

    def materialize(self, volume: dict, pool: dict | None = None) -> None:
        """Allocated -> Ready: created on a storage pool (`pool`, else one placement finds), backing file and all."""
        if volume["state"] == "Allocated":
            volume["storageid"] = (pool or pools.place(self, volume))["id"]
            storage.create_sparse(self.volume_file(volume["id"]), volume["size"])
            volume["state"] = "Ready"

    def _seed_vm(self, name, zone, offering, template, networks, macs, *, running) -> dict:
        vm = self.new_vm(name=name, zone=zone, offering=offering, template=template,
                         networks=networks, macs=macs, cpunumber=offering["cpunumber"],
                         cpuspeed=offering["cpuspeed"], memory=offering["memory"])
        root = self.new_volume(name=f"ROOT-{vm['seq']}", zone=zone, size=8 * GiB, vtype="ROOT",
                               vm=vm, deviceid=0)
        root["templateid"] = template["id"]
        if running:
            self.materialize(root)
            vm["state"] = "Running"
        return vm

    # -- every start --------------------------------------------------------------------------

    def _apply_options(self) -> None:
        o = self.options
        account = self.data["account"]
        if o.api_key:
            account["api_key"] = o.api_key
        if o.secret_key:
            account["secret_key"] = o.secret_key
        oma = self.oma_vm()
        if o.oma_vm_id and o.oma_vm_id != oma["id"]:
            self._rekey_vm(oma, o.oma_vm_id)
        if o.oma_vm_macs:
            old = {nic["networkid"]: nic for nic in oma["nics"]}
            nets = list(self.networks.values())
            first = self.networks[oma["nics"][0]["networkid"]] if oma["nics"] else nets[0]
            order = [first] + [n for n in nets if n["id"] != first["id"]]
            chosen = [order[i % len(order)] for i in range(len(o.oma_vm_macs))]
            nics = []
            for net, mac in zip(chosen, o.oma_vm_macs, strict=False):
                if net["id"] in old and old[net["id"]]["macaddress"] == mac.lower():
                    nics.append(old.pop(net["id"]))
                else:
                    nics.extend(self.make_nics([net], [mac]))
            for index, nic in enumerate(nics):
                nic.update(deviceid=str(index), isdefault=index == 0)
            oma["nics"] = nics

    def _rekey_vm(self, vm: dict, new_vm_id: str) -> None:
        old_id = vm["id"]
        del self.vms[old_id]
        vm["id"] = new_vm_id
        self.vms[new_vm_id] = vm
        for table in ("volumes", "vm_snapshots"):
            for record in self.data[table].values():
                if record.get("virtualmachineid") == old_id:
                    record["virtualmachineid"] = new_vm_id


_OS_TYPES = (
    ("Ubuntu", "Other Ubuntu (64-bit)"), ("Ubuntu", "Ubuntu 20.04 LTS"), ("Ubuntu", "Ubuntu 22.04 LTS"),
    ("Ubuntu", "Ubuntu 24.04 LTS"),
    ("Debian", "Debian GNU/Linux 11 (64-bit)"), ("Debian", "Debian GNU/Linux 12 (64-bit)"),
    ("RedHat", "Red Hat Enterprise Linux 8.0"), ("RedHat", "Red Hat Enterprise Linux 9.0"),
    ("CentOS", "CentOS 7"), ("Windows", "Windows Server 2016 (64-bit)"),
    ("Windows", "Windows Server 2019 (64-bit)"), ("Windows", "Windows Server 2022 (64-bit)"),
    ("Windows", "Windows 10 (64-bit)"), ("Other", "Other Linux (64-bit)"), ("Other", "Other (64-bit)"),
)


def _new_keys() -> dict:
    return {"api_key": secrets.token_urlsafe(64), "secret_key": secrets.token_urlsafe(64)}


_OFFERING_COMMON = {
    "storagetype": "shared", "provisioningtype": "thin", "offerha": False,
    "limitcpuuse": False, "issystem": False, "isvolatile": False, "defaultuse": False,
}
_DISK_OFFERING_COMMON = {
    "storagetype": "shared", "provisioningtype": "thin", "displayoffering": True,
    "cacheMode": "none",
}
