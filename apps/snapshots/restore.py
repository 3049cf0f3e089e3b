"""Restore a VM from its volume snapshots: the plan, and the job that carries it out step by step.

A restore point is a snapshot of the VM's boot (ROOT) volume; each data volume is restored from its snapshot taken
closest to that moment (within MP_RESTORE_MATCH_WINDOW seconds), else left out (NEW) or kept as it is (REPLACE).

NEW: volumes are created from the snapshots (createVolume snapshotid=), a VM is deployed stopped with the original's
offering and template on the original's networks (addresses per the IP strategy), its template root is swapped for
the restored root (device 0) and deleted, the restored data volumes attached, the VM started.
REPLACE: the original VM is stopped, its disks are swapped for the restored ones (the originals detached and kept
for `cleanup-storage`), and it is started again: it keeps its id, name, NICs, MACs and addresses.

Every resource is recorded before CloudStack's job is waited on (`apps.settings.volumes.write_ahead`, owner
`restore-<job id>`). A failure or a cancel rolls back: REPLACE puts the original disks back; the VM and (unless
MP_RESTORE_CLEANUP_VOLUMES is off, which keeps them for a retry) the volumes it created are removed.
"""
from __future__ import annotations

import ipaddress
import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.exceptions import Conflict, InvalidInput, NotFound
from apps.settings import cloudstack as cs
from apps.settings import volumes as cloud_volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource, OsseaConfig

from . import cloud
from .choices import RESTORE_ACTIVE, IpStrategy, RestoreMode, RestoreStatus, StepStatus
from .jobs import Cancelled, check_cancel, restore_event, set_step, transition
from .models import RestoreJob

logger = logging.getLogger(__name__)
_HOSTNAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
MAX_FREE_IPS = 200
# The VM details a restored VM keeps (VmDetailConstants the KVM agent builds the domain from).
VM_DETAILS = ("rootDiskController", "dataDiskController", "nicAdapter")

STEPS = {
    RestoreMode.NEW: (("VALIDATE", "Validate the plan"), ("CREATE_VOLUMES", "Create volumes from the snapshots"),
                      ("CREATE_VM", "Create the VM"), ("ATTACH_VOLUMES", "Attach the restored volumes"),
                      ("POWER_ON", "Start the VM"), ("FINALIZE", "Finalize")),
    RestoreMode.REPLACE: (("VALIDATE", "Validate the plan"), ("CREATE_VOLUMES", "Create volumes from the snapshots"),
                          ("STOP_VM", "Stop the original VM"), ("SWAP_VOLUMES", "Swap in the restored volumes"),
                          ("POWER_ON", "Start the VM"), ("FINALIZE", "Finalize")),
}


def _when(snapshot: dict) -> datetime:
    return datetime.fromisoformat(str(snapshot.get("created", "")).replace("Z", "+00:00").replace("+0000", "+00:00"))


def _ready(snapshot: dict) -> bool:
    return snapshot.get("state") == "BackedUp"


def _get_vm(client: cs.CloudStackClient, vm_id: str) -> dict:
    vm = cloud.find(client, "vm", vm_id)
    if vm is None:
        raise NotFound(f"CloudStack has no VM {vm_id}")
    return vm


def _snapshots(client: cs.CloudStackClient, **params) -> list[dict]:
    return cloud.list_everywhere(client, "listSnapshots", **params)


def _disks(client: cs.CloudStackClient, vm_id: str) -> list[dict]:
    return sorted(cloud.list_everywhere(client, "listVolumes", virtualmachineid=vm_id),
                  key=lambda v: v.get("deviceid") or 0)


def _check_tenant(vm: dict, project_id: str) -> None:
    if not (cloud.in_tenant(vm, project_id) or vm.get("domainid") == project_id):
        raise NotFound(f"VM {vm['id']} is not in project {project_id}")


def root_volume(client: cs.CloudStackClient, vm_id: str) -> dict:
    roots = [v for v in _disks(client, vm_id) if v.get("deviceid") == 0 or v.get("type") == "ROOT"]
    if not roots:
        raise Conflict(f"VM {vm_id} has no boot (ROOT) volume")
    return roots[0]


def restore_points(client: cs.CloudStackClient, *, vm_id: str, project_id: str) -> tuple[dict, list[dict]]:
    """The VM and the snapshots of its boot volume, newest first."""
    vm = _get_vm(client, vm_id)
    _check_tenant(vm, project_id)
    root = root_volume(client, vm_id)
    snaps = sorted(_snapshots(client, volumeid=root["id"]), key=_when, reverse=True)
    return vm, [{**s, "restorable": _ready(s)} for s in snaps]


def tenant_snapshots(client: cs.CloudStackClient, tenant_name: str) -> list[dict]:
    """The tenant's volume snapshots, newest first (matched by project or account name)."""
    return sorted((x for x in _snapshots(client) if cloud.tenant_name(x) == tenant_name), key=_when, reverse=True)


# -- addresses ----------------------------------------------------------------------------------


def _network(client: cs.CloudStackClient, network_id: str) -> dict:
    try:
        found = client.list_all("listNetworks", id=network_id, listall=True)
    except cs.CloudStackNotFoundError:
        found = []
    if not found:
        raise NotFound(f"CloudStack has no network {network_id}")
    return found[0]


def used_addresses(client: cs.CloudStackClient, network_id: str) -> dict[str, str]:
    """Address -> the VM holding it on this network (each VM's NICs as CloudStack lists them)."""
    used = {}
    for vm in cloud.list_everywhere(client, "listVirtualMachines"):
        for nic in vm.get("nic", []):
            if nic.get("networkid") == network_id and nic.get("ipaddress"):
                used[nic["ipaddress"]] = vm.get("name") or vm["id"]
    return used


def _pool(network: dict):
    """The network's assignable addresses (its CIDR's hosts, within startip-endip where set), gateway excluded."""
    cidr = network.get("cidr")
    if not cidr:
        return []
    net = ipaddress.IPv4Network(cidr, strict=False)
    lo = ipaddress.IPv4Address(network["startip"]) if network.get("startip") else None
    hi = ipaddress.IPv4Address(network["endip"]) if network.get("endip") else None
    return (str(a) for a in net.hosts() if str(a) != network.get("gateway")
            and (lo is None or a >= lo) and (hi is None or a <= hi))


def available_ips(client: cs.CloudStackClient, network_id: str) -> dict:
    """The seed's answer: per subnet (a CloudStack network has one), the free addresses (at most 200 listed)."""
    network = _network(client, network_id)
    if not network.get("cidr"):
        return {"network_id": network_id, "subnets": []}
    used = used_addresses(client, network_id)
    free = [a for a in _pool(network) if a not in used]
    return {"network_id": network_id, "subnets": [{
        "subnet_id": network["id"], "subnet_name": network.get("name", ""), "cidr": network["cidr"],
        "gateway_ip": network.get("gateway"), "available_ips": free[:MAX_FREE_IPS], "available_count": len(free)}]}


def _choose_ip(strategy: str, mode: str, nic: dict, network: dict, used: dict[str, str], manual: dict) -> tuple:
    """(address to ask CloudStack for or None, a warning or None); refuses what cannot be honoured."""
    original = nic.get("ipaddress")
    if mode == RestoreMode.REPLACE:
        return original, None  # the VM keeps its own NICs
    if strategy == IpStrategy.NEW_IPS or not network.get("cidr"):
        return None, None
    if strategy == IpStrategy.MANUAL_IP:
        wanted = manual.get(network["id"])
        if not wanted:
            return None, f"no manual address for network {network.get('name')}: CloudStack chooses one"
        if wanted not in set(_pool(network)):
            raise InvalidInput(f"Address {wanted} is not assignable on network {network.get('name')} "
                               f"({network['cidr']})")
        if wanted in used:
            raise Conflict(f"Address {wanted} on network {network.get('name')} is in use by VM {used[wanted]}")
        return wanted, None
    if original and original not in used and original in set(_pool(network)):
        return original, None
    why = (f"is in use by VM {used[original]}" if original in used
           else f"is not an address of network {network.get('name')} ({network['cidr']})")
    if strategy == IpStrategy.SAME_IPS_OR_FAIL:
        raise Conflict(f"Address {original} {why} (SAME_IPS_OR_FAIL): use REPLACE, another strategy, or free it")
    return None, f"address {original} {why}: a new one is used"


# -- the plan -----------------------------------------------------------------------------------


def make_plan(*, project_id: str, vm_id: str, restore_point_id: str, mode: str, new_vm_name: str,
              ip_strategy: str, manual_ips: dict, power_on: bool, network_map: dict | None = None) -> dict:
    """Decide everything before touching anything; refuses (4xx) what cannot work."""
    config, client = cloud.connect()
    vm = _get_vm(client, vm_id)
    _check_tenant(vm, project_id)
    disks = _disks(client, vm_id)
    root = next((v for v in disks if v.get("deviceid") == 0 or v.get("type") == "ROOT"), None)
    if root is None:
        raise Conflict(f"VM {vm_id} has no boot (ROOT) volume")
    snaps = _snapshots(client)
    point = next((s for s in snaps if s["id"] == restore_point_id), None)
    if point is None:
        raise NotFound(f"CloudStack has no snapshot {restore_point_id}")
    if point.get("volumeid") != root["id"]:
        raise InvalidInput(f"Snapshot {restore_point_id} is not a snapshot of VM {vm.get('name')}'s boot volume "
                           f"{root['id']}: list them at /restore/vm/{vm_id}/restore-points")
    if not _ready(point):
        raise Conflict(f"Snapshot {restore_point_id} is {point.get('state')}, not BackedUp: it cannot be restored yet")
    at, window = _when(point), settings.MP_RESTORE_MATCH_WINDOW
    planned = [_planned(root, point)]
    warnings, skipped = [], []
    for disk in disks:
        if disk["id"] == root["id"]:
            continue
        near = [s for s in snaps if s.get("volumeid") == disk["id"] and _ready(s)
                and abs((_when(s) - at).total_seconds()) <= window]
        if not near:
            skipped.append({"source_volume_id": disk["id"], "source_volume_name": disk.get("name", ""),
                            "device_id": disk.get("deviceid")})
            warnings.append(f"data volume {disk.get('name')} has no snapshot within {window} s of the restore point: "
                            + ("it is not restored" if mode == RestoreMode.NEW else "it is kept as it is"))
            continue
        planned.append(_planned(disk, min(near, key=lambda s: abs((_when(s) - at).total_seconds()))))
    networks, network_map = [], network_map or {}
    unknown = set(network_map) - {nic["networkid"] for nic in vm.get("nic", [])}
    if unknown:
        raise InvalidInput(f"network_map names network(s) VM {vm.get('name')} is not on: {', '.join(sorted(unknown))}")
    for nic in vm.get("nic", []):
        try:
            network = _network(client, network_map.get(nic["networkid"], nic["networkid"]))
        except NotFound as exc:
            raise InvalidInput(f"network_map: {exc.message}") from None
        used = used_addresses(client, network["id"])
        address, warning = _choose_ip(ip_strategy, mode, nic, network, used, manual_ips)
        if warning:
            warnings.append(warning)
        networks.append({"network_id": network["id"], "network_name": network.get("name", ""),
                         "original_network_id": nic["networkid"],
                         "original_ip": nic.get("ipaddress"), "requested_ip": address,
                         "mac_address": nic.get("macaddress")})
    name = ""
    if mode == RestoreMode.NEW:
        name = new_vm_name or f"{vm.get('name', 'vm')}-restore-{timezone.now():%m%d%H%M%S}"[:63]
        if not _HOSTNAME.match(name):
            raise InvalidInput(f"'{name}' cannot be a VM name: letters, digits and hyphens, at most 63, starting "
                               "with a letter")
        if any(v.get("name", "").lower() == name.lower() for v in cloud.list_everywhere(client, "listVirtualMachines")):
            raise Conflict(f"A VM named '{name}' already exists")
    quota, checks = quota_check(client, vm, planned)
    if checks[0]["check_status"] == "fail":
        warnings.append(checks[0]["notes"])
    offering = vm.get("serviceofferingid")
    details = vm.get("details") or {}
    boot = {"boot_type": "UEFI", "boot_mode": str(vm.get("bootmode") or "LEGACY").upper()} \
        if str(vm.get("boottype", "")).upper() == "UEFI" else {}
    return {
        "zone_id": vm.get("zoneid"), "config_id": config.pk,
        "vm": {"id": vm["id"], "name": vm.get("name"), "state": vm.get("state"), "project_id": project_id},
        # Who the restored volumes (and a NEW VM) belong to: the original's project or account, not the admin.
        "owner": cloud.owner_params(vm), "quota": quota, "checks": checks,
        "mode": mode, "restore_point": {"id": point["id"], "name": point.get("name"), "created": point.get("created"),
                                        "volume_id": root["id"]},
        "volumes": planned, "skipped_volumes": skipped, "networks": networks, "ip_strategy": ip_strategy,
        "new_vm_name": name, "service_offering_id": offering, "template_id": vm.get("templateid"),
        "cpu_number": int(details["cpuNumber"]) if details.get("cpuNumber") else None,
        "memory_mb": int(details["memory"]) if details.get("memory") else None,
        "cpu_speed": int(details["cpuSpeed"]) if details.get("cpuSpeed") else None,
        # What the hypervisor builds the VM from (disk bus, NIC model, firmware): the restored disks boot as before.
        "details": {k: str(v) for k, v in details.items() if k in VM_DETAILS}, **boot,
        "power_on": power_on, "warnings": warnings,
    }


def quota_check(client: cs.CloudStackClient, vm: dict, planned: list[dict]) -> tuple[dict, list[dict]]:
    """Whether the VM's owner has room for the restored volumes (both modes create them all; REPLACE keeps the
    originals detached until cleanup-storage): primary storage in GiB and the volume count, from CloudStack's own
    figures for the project or account. The check is `quota_sufficient`; figures CloudStack did not give pass
    with a note."""
    needed_gb = sum(int(p.get("size_gb") or 0) for p in planned)
    quota = cloud.owner_quota(client, vm)
    figures = {"tenant_name": cloud.tenant_name(vm), "quota_needed_gb": needed_gb, "volumes_needed": len(planned),
               "quota_limit_gb": None, "quota_used_gb": None, "volume_limit": None, "volumes_used": None}
    if quota is None:
        return figures, [{"check_name": "quota_sufficient", "check_status": "pass",
                          "notes": "CloudStack gave no resource figures for the owner: not checked"}]
    figures.update(quota_limit_gb=_whole(quota.primary_limit_gb), quota_used_gb=_whole(quota.primary_used_gb),
                   volume_limit=_whole(quota.volume_limit), volumes_used=_whole(quota.volume_used))
    problems = []
    if quota.primary_limit_gb is not None and quota.primary_used_gb + needed_gb > quota.primary_limit_gb:
        problems.append(f"primary storage: {needed_gb} GiB needed, {_whole(quota.primary_used_gb)} of "
                        f"{_whole(quota.primary_limit_gb)} GiB used "
                        f"({max(0, _whole(quota.primary_limit_gb - quota.primary_used_gb))} GiB left)")
    if quota.volume_limit is not None and quota.volume_used + len(planned) > quota.volume_limit:
        problems.append(f"volumes: {len(planned)} needed, {_whole(quota.volume_used)} of "
                        f"{_whole(quota.volume_limit)} used")
    if problems:
        return figures, [{"check_name": "quota_sufficient", "check_status": "fail",
                          "notes": f"Insufficient quota for tenant {figures['tenant_name']}: " + "; ".join(problems)
                                   + ". Raise its resource limit in CloudStack or free storage, then plan again"}]
    return figures, [{"check_name": "quota_sufficient", "check_status": "pass"}]


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def _planned(volume: dict, snap: dict) -> dict:
    return {"source_volume_id": volume["id"], "source_volume_name": volume.get("name", ""),
            "device_id": volume.get("deviceid"), "type": volume.get("type"), "snapshot_id": snap["id"],
            "snapshot_name": snap.get("name"), "snapshot_created": snap.get("created"), "size_gb": cloud.size_gb(snap)}


def steps_for(mode: str) -> list[dict]:
    return [{"key": key, "label": label, "status": StepStatus.PENDING} for key, label in STEPS[mode]]


# -- the job ------------------------------------------------------------------------------------


class Run:
    """One execution of a restore job: its client, and the steps as methods named after the seed's step keys."""

    def __init__(self, job: RestoreJob):
        self.job = job
        self.plan = job.plan_json
        config_id = self.plan.get("config_id")
        self.config = OsseaConfig.objects.filter(pk=config_id).first() or cloud.active_config()
        self.client = cloud_volumes.client_for(self.config)

    def _save(self, **fields) -> None:
        # Each record is also the job's sign of life (the stale-job reaper reads updated_at).
        RestoreJob.objects.filter(pk=self.job.pk).update(updated_at=timezone.now(), **fields)
        for key, value in fields.items():
            setattr(self.job, key, value)

    def _record(self, kind: str, name: str, **detail):
        return cloud_volumes.write_ahead(config=self.config, owner=self.job.owner, kind=kind, name=name, **detail)

    def VALIDATE(self) -> str:
        for planned in self.plan["volumes"]:
            snap = cloud.find(self.client, "snapshot", planned["snapshot_id"])
            if snap is None or not _ready(snap):
                raise Conflict(f"Snapshot {planned['snapshot_id']} is gone or no longer BackedUp")
        if self.job.mode == RestoreMode.REPLACE and cloud.find(self.client, "vm", self.job.vm_id) is None:
            raise Conflict(f"VM {self.job.vm_id} no longer exists: restore it with mode NEW")
        # Room again, now: the owner may have used storage since the plan. A retry taking up kept volumes already
        # holds them (CloudStack counts them as used), so it is not checked twice.
        if self.plan.get("owner") and not self.job.reused_resources and not self.job.created_volume_ids:
            tenant = (self.plan.get("quota") or {}).get("tenant_name", "")
            owner = dict(self.plan["owner"])
            if "projectid" in owner:
                owner["project"] = tenant  # the name the check's reason gives
            _, checks = quota_check(self.client, owner, self.plan["volumes"])
            if checks[0]["check_status"] == "fail":
                raise Conflict(checks[0]["notes"])
        return f"{len(self.plan['volumes'])} snapshot(s) ready"

    def CREATE_VOLUMES(self) -> str:
        made = list(self.job.created_volume_ids)
        done = {m["snapshot_id"] for m in made}
        reused = (self.job.reused_resources or {}).get("volumes", {})
        base = self.plan.get("new_vm_name") or self.plan["vm"]["name"]
        for planned in self.plan["volumes"]:
            check_cancel(self.job)
            if planned["snapshot_id"] in done:
                continue
            kept = reused.get(planned["snapshot_id"])
            if kept and cloud.find(self.client, "volume", kept) is not None:
                cloud_volumes.record(config=self.config, owner=self.job.owner, kind=CloudResourceKind.VOLUME,
                                     resource_id=kept, name="", reused=True)
                volume_id = kept
            else:
                name = f"{base}-restored-{planned['device_id']}"[:255]
                volume_id = self.client.create_volume_from_snapshot(
                    snapshot_id=planned["snapshot_id"], name=name, owner=self.plan.get("owner") or None,
                    on_submitted=self._record(CloudResourceKind.VOLUME, name,
                                              snapshot_id=planned["snapshot_id"]))["id"]
            made.append({"snapshot_id": planned["snapshot_id"], "volume_id": volume_id,
                         "device_id": planned["device_id"], "source_volume_id": planned["source_volume_id"]})
            self._save(created_volume_ids=made)
        return f"{len(made)} volume(s) from snapshots: " + ", ".join(m["volume_id"] for m in made)

    def _restored(self) -> tuple[dict, list[dict]]:
        made = sorted(self.job.created_volume_ids, key=lambda m: m["device_id"] or 0)
        return made[0], made[1:]

    def CREATE_VM(self) -> str:
        plan = self.plan
        nics = [cs.DeployNic(n["network_id"], ip=n["requested_ip"]) for n in plan["networks"]]

        def submitted(jobid: str, vm_id: str | None) -> None:
            if vm_id:
                cloud_volumes.record(config=self.config, owner=self.job.owner, kind=CloudResourceKind.VM,
                                     resource_id=vm_id, name=plan["new_vm_name"], cloudstack_job_id=jobid)
                self._save(result_vm_id=vm_id)

        templates = {t["id"] for t in self.client.list_templates(zone_id=plan["zone_id"])}
        template_id = plan["template_id"] if plan["template_id"] in templates else next(iter(templates), None)
        if template_id is None:
            raise Conflict("The zone has no ready template to create the VM from (its root disk is replaced)")
        vm = self.client.deploy_virtual_machine(
            zone_id=plan["zone_id"], service_offering_id=plan["service_offering_id"], template_id=template_id,
            nics=nics, network_ids=[n["network_id"] for n in plan["networks"]], name=plan["new_vm_name"],
            display_name=plan["new_vm_name"], start=False, cpu_number=plan.get("cpu_number"),
            memory_mb=plan.get("memory_mb"), cpu_speed=plan.get("cpu_speed"), details=plan.get("details") or None,
            boot_type=plan.get("boot_type"), boot_mode=plan.get("boot_mode"), owner=plan.get("owner") or None,
            on_submitted=submitted)
        if not self.job.result_vm_id:
            submitted("", vm["id"])
        return f"VM {vm['id']} ('{plan['new_vm_name']}') created, stopped, addresses " + ", ".join(
            str(n.get("ipaddress")) for n in vm.get("nic", []))

    def ATTACH_VOLUMES(self) -> str:
        vm_id = self.job.result_vm_id
        root, data = self._restored()
        on_vm = {v["id"]: v for v in _disks(self.client, vm_id)}
        if root["volume_id"] not in on_vm:
            old = [v for v in on_vm.values() if v.get("deviceid") == 0]
            for volume in old:
                cloud_volumes.record(config=self.config, owner=self.job.owner, kind=CloudResourceKind.VOLUME,
                                     resource_id=volume["id"], name=volume.get("name", ""), role="template root")
            self.client.replace_root_volume(vm_id, root["volume_id"], delete_old=False)
            for volume in old:
                res = CloudResource.objects.filter(owner=self.job.owner, resource_id=volume["id"]).first()
                cloud_volumes.remove(res, self.client)
        for made in data:
            check_cancel(self.job)
            if made["volume_id"] not in on_vm:
                self.client.attach_volume(made["volume_id"], vm_id)
        return f"root {root['volume_id']} and {len(data)} data volume(s) on VM {vm_id}"

    def STOP_VM(self) -> str:
        vm = _get_vm(self.client, self.job.vm_id)
        runtime = {**self.plan.get("runtime", {}), "was_running": vm.get("state") == "Running"}
        self.plan["runtime"] = runtime
        self._save(plan_json=self.plan)
        if vm.get("state") != "Stopped":
            self.client.stop_virtual_machine(vm["id"])
        return f"VM {vm.get('name')} stopped"

    def SWAP_VOLUMES(self) -> str:
        vm_id = self.job.vm_id
        root, data = self._restored()
        old = list(self.job.old_volume_ids)
        on_vm = {v["id"]: v for v in _disks(self.client, vm_id)}
        if root["volume_id"] not in on_vm:
            old.append({"volume_id": root["source_volume_id"], "device_id": 0})
            self._save(old_volume_ids=old)  # before the swap: a rollback puts it back
            self.client.replace_root_volume(vm_id, root["volume_id"], delete_old=False)
        for made in data:
            check_cancel(self.job)
            if made["volume_id"] in on_vm:
                continue
            if made["source_volume_id"] in on_vm:
                old.append({"volume_id": made["source_volume_id"], "device_id": made["device_id"]})
                self._save(old_volume_ids=old)
                self.client.detach_volume(made["source_volume_id"])
            self.client.attach_volume(made["volume_id"], vm_id, device_id=made["device_id"])
        self._save(result_vm_id=vm_id)
        return f"VM {vm_id} now boots from {root['volume_id']}; original disk(s) kept detached: " + ", ".join(
            o["volume_id"] for o in old)

    def POWER_ON(self) -> str:
        vm_id = self.job.result_vm_id
        if not self.plan.get("power_on", True):
            return "left stopped (power_on false)"
        self.client.start_virtual_machine(vm_id)
        return f"VM {vm_id} running"

    def FINALIZE(self) -> str:
        # What it created is the operator's now: no rollback or orphan sweep removes it.
        kept = cloud_volumes.release(self.job.owner)
        return f"{kept} resource(s) handed over"

    # -- rollback ---------------------------------------------------------------------------------

    def rollback(self) -> list[str]:
        lines: list[str] = []
        if self.job.mode == RestoreMode.REPLACE and self.job.old_volume_ids:
            lines += self._put_back_originals()
        keep = not settings.MP_RESTORE_CLEANUP_VOLUMES
        ours = [m["volume_id"] for m in self.job.created_volume_ids]
        if keep and ours:
            if self.job.mode == RestoreMode.NEW and self.job.result_vm_id:
                lines += self._detach(self.job.result_vm_id, ours)
            CloudResource.objects.filter(owner=self.job.owner, kind=CloudResourceKind.VOLUME,
                                         resource_id__in=ours, state=CloudResourceState.CREATED).update(
                state=CloudResourceState.RELEASED)
            lines.append(f"kept the restored volume(s) {', '.join(ours)} for a retry or cleanup "
                         "(MP_RESTORE_CLEANUP_VOLUMES is off)")
        lines += cloud_volumes.rollback(owner=self.job.owner, client=self.client)
        return lines

    def _detach(self, vm_id: str, volume_ids: list[str]) -> list[str]:
        lines = []
        try:
            vm = cloud.find(self.client, "vm", vm_id)
            if vm is None:
                return lines
            if vm.get("state") == "Running":
                self.client.stop_for_teardown(vm_id)
            for volume in sorted(_disks(self.client, vm_id), key=lambda v: -(v.get("deviceid") or 0)):
                if volume["id"] in volume_ids:
                    self.client.detach_volume(volume["id"])
                    lines.append(f"detached volume {volume['id']} from VM {vm_id}")
        except cs.CloudStackError as exc:
            lines.append(f"NOT detached from VM {vm_id}: {exc}")
        return lines

    def _put_back_originals(self) -> list[str]:
        vm_id, lines = self.job.vm_id, []
        ours = {m["volume_id"] for m in self.job.created_volume_ids}
        try:
            vm = _get_vm(self.client, vm_id)
            if vm.get("state") == "Running":
                self.client.stop_virtual_machine(vm_id)
            on_vm = {v["id"]: v for v in _disks(self.client, vm_id)}
            for volume in sorted(on_vm.values(), key=lambda v: -(v.get("deviceid") or 0)):
                if volume["id"] in ours:
                    self.client.detach_volume(volume["id"])
                    lines.append(f"detached restored volume {volume['id']} from VM {vm_id}")
            for old in sorted(self.job.old_volume_ids, key=lambda o: o["device_id"] or 0):
                if old["volume_id"] not in on_vm:
                    self.client.attach_volume(old["volume_id"], vm_id, device_id=old["device_id"])
                    lines.append(f"put original volume {old['volume_id']} back on VM {vm_id} as device "
                                 f"{old['device_id']}")
            self._save(old_volume_ids=[])
            if self.plan.get("runtime", {}).get("was_running"):
                self.client.start_virtual_machine(vm_id)
                lines.append(f"started VM {vm_id} again")
        except cs.CloudStackError as exc:
            lines.append(f"NOT put back on VM {vm_id}: {exc}")
        return lines


def execute(job: RestoreJob) -> RestoreJob:
    """Run the job's steps (a retry skips the completed ones); on failure or cancel, roll back and say what was done."""
    job = transition(job, RestoreStatus.RUNNING, started_at=timezone.now())
    try:
        work = Run(job)
    except Exception as exc:  # noqa: BLE001 -- no configuration or client: the job fails, saying so
        return transition(job, RestoreStatus.FAILED, error=str(exc), finished_at=timezone.now())
    for step in list(job.steps):
        if step["status"] in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            continue
        try:
            check_cancel(job)
            set_step(job, step["key"], StepStatus.RUNNING)
            message = getattr(work, step["key"])()
        except Cancelled as exc:
            set_step(job, step["key"], StepStatus.SKIPPED, "cancelled before it ran")
            return _end(work, RestoreStatus.CANCELED, f"cancelled: {exc}")
        except Exception as exc:  # noqa: BLE001 -- any failure of a step fails the job and rolls back
            logger.warning("restore job=%s step=%s failed: %s", job.job_id, step["key"], exc)
            set_step(job, step["key"], StepStatus.FAILED, str(getattr(exc, "message", exc)))
            return _end(work, RestoreStatus.FAILED, f"{step['label']} failed: {getattr(exc, 'message', exc)}")
        set_step(job, step["key"], StepStatus.COMPLETED, message)
        restore_event(job, step["key"].lower(), message)
        if settings.MP_RESTORE_DRY_RUN and step["key"] == "VALIDATE":
            # RESTORE_DRY_RUN: the plan is checked against CloudStack again, nothing is created.
            for later in job.steps:
                if later["status"] == StepStatus.PENDING:
                    set_step(job, later["key"], StepStatus.SKIPPED, "dry run (RESTORE_DRY_RUN): not done")
            break
    return transition(job, RestoreStatus.COMPLETED, finished_at=timezone.now(), progress_pct=100.0)


def reap_stale() -> int:
    """Restore jobs whose worker stopped (no step news for MP_SNAPSHOT_RUN_STALE seconds): failed, rolled back."""
    cutoff = timezone.now() - timedelta(seconds=settings.MP_SNAPSHOT_RUN_STALE)
    count = 0
    for job in RestoreJob.objects.filter(status__in=RESTORE_ACTIVE, updated_at__lt=cutoff):
        count += 1
        if job.status == RestoreStatus.PENDING:
            transition(job, RestoreStatus.FAILED, error="interrupted: no worker took it up", finished_at=timezone.now())
            continue
        try:
            work = Run(job)
        except Exception as exc:  # noqa: BLE001 -- no configuration left: fail it, saying what could not be undone
            transition(job, RestoreStatus.FAILED, error=f"interrupted; not rolled back: {exc}",
                       finished_at=timezone.now())
            continue
        _end(work, RestoreStatus.FAILED, "interrupted: the worker running it stopped reporting")
    return count


def _end(work: Run, status: str, error: str) -> RestoreJob:
    job = work.job
    try:
        lines = work.rollback()
    except Exception as exc:  # noqa: BLE001 -- the rollback's own failure is reported, never hidden
        lines = [f"NOT rolled back: {exc}"]
    for line in lines:
        restore_event(job, "rollback", line, level="warning" if line.startswith("NOT") else "info")
    return transition(job, status, error=error, rollback=lines, finished_at=timezone.now())
