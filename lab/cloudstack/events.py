"""CloudStack's event log: what each action recorded, and `listEvents`.

As the management server does, an async command records a `Scheduled` event when it is submitted, `Started` when
its job runs and `Completed` at the end (`parentid` the Started event), level `ERROR` and "Error while ..." when the
job fails; a sync action records one `Completed` event. The event belongs to the account that owns the resource
(the entity owner); `username` is who called. The user key acts as its own account (`USER_ACCOUNT` in ROOT), so
`listEvents` by the user key answers only that account's events; the admin's keys see every event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from lab.cloudstack import responses
from lab.cloudstack.errors import invalid
from lab.cloudstack.registry import Params, command, list_response
from lab.cloudstack.state import ADMIN, ROOT_DOMAIN_ID, LabState, new_id, now

USER_ACCOUNT = "lab-user"
COMPLETED, SCHEDULED, STARTED = "Completed", "Scheduled", "Started"
INFO, ERROR = "INFO", "ERROR"


@dataclass(frozen=True)
class Action:
    type: str
    describe: str  # with {id}: the resource's id
    resource_type: str
    table: str


_VM, _VOL, _SNAP = ("VirtualMachine", "vms"), ("Volume", "volumes"), ("Snapshot", "snapshots")
ACTIONS = {
    "deployVirtualMachine": Action("VM.CREATE", "starting Vm. Vm Id: {id}", *_VM),
    "startVirtualMachine": Action("VM.START", "starting Vm. Vm Id: {id}", *_VM),
    "stopVirtualMachine": Action("VM.STOP", "stopping Vm. Vm Id: {id}", *_VM),
    "destroyVirtualMachine": Action("VM.DESTROY", "destroying Vm. Vm Id: {id}", *_VM),
    "updateVirtualMachine": Action("VM.UPDATE", "updating Vm. Vm Id: {id}", *_VM),
    "changeServiceForVirtualMachine": Action("VM.UPGRADE", "upgrading Vm. Vm Id: {id}", *_VM),
    "createVolume": Action("VOLUME.CREATE", "creating volume. Volume Id: {id}", *_VOL),
    "attachVolume": Action("VOLUME.ATTACH", "attaching volume. Volume Id: {id}", *_VOL),
    "detachVolume": Action("VOLUME.DETACH", "detaching volume. Volume Id: {id}", *_VOL),
    "resizeVolume": Action("VOLUME.RESIZE", "resizing volume. Volume Id: {id}", *_VOL),
    "deleteVolume": Action("VOLUME.DELETE", "deleting volume. Volume Id: {id}", *_VOL),
    "createSnapshot": Action("SNAPSHOT.CREATE", "creating snapshot. Snapshot Id: {id}", *_SNAP),
    "deleteSnapshot": Action("SNAPSHOT.DELETE", "deleting snapshot. Snapshot Id: {id}", *_SNAP),
    "revertSnapshot": Action("SNAPSHOT.REVERT", "reverting snapshot. Snapshot Id: {id}", *_SNAP),
    "createVMSnapshot": Action("VMSNAPSHOT.CREATE", "creating snapshot for VM. Snapshot Id: {id}",
                               "VmSnapshot", "vm_snapshots"),
    "deleteVMSnapshot": Action("VMSNAPSHOT.DELETE", "deleting vm snapshot. Snapshot Id: {id}",
                               "VmSnapshot", "vm_snapshots"),
    "createNetwork": Action("NETWORK.CREATE", "creating network. Network Id: {id}", "Network", "networks"),
    "deleteNetwork": Action("NETWORK.DELETE", "deleting network. Network Id: {id}", "Network", "networks"),
    "createSecurityGroup": Action("SG.CREATE", "creating security group. Security Group Id: {id}",
                                  "SecurityGroup", "security_groups"),
    "deleteSecurityGroup": Action("SG.DELETE", "deleting security group. Security Group Id: {id}",
                                  "SecurityGroup", "security_groups"),
    "authorizeSecurityGroupIngress": Action("SG.AUTH.INGRESS", "Adding Ingress Rule to Security Group. Id: {id}",
                                            "SecurityGroup", "security_groups"),
    "revokeSecurityGroupIngress": Action("SG.REVOKE.INGRESS", "revoking ingress rule. Id: {id}",
                                         "SecurityGroup", "security_groups"),
    "createServiceOffering": Action("SERVICE.OFFERING.CREATE", "creating service offering. Id: {id}",
                                    "ServiceOffering", "service_offerings"),
    "deleteServiceOffering": Action("SERVICE.OFFERING.DELETE", "deleting service offering. Id: {id}",
                                    "ServiceOffering", "service_offerings"),
    "associateIpAddress": Action("NET.IPASSIGN", "associating ip to network. Id: {id}", "PublicIpAddress",
                                 "public_ips"),
    "disassociateIpAddress": Action("NET.IPRELEASE", "disassociating ip address. Id: {id}", "PublicIpAddress",
                                    "public_ips"),
    "enableStaticNat": Action("STATICNAT.ENABLE", "enabling static nat. Id: {id}", "PublicIpAddress", "public_ips"),
    "disableStaticNat": Action("STATICNAT.DISABLE", "disabling static nat. Id: {id}", "PublicIpAddress",
                               "public_ips"),
    "createProject": Action("PROJECT.CREATE", "creating project. Project Id: {id}", "Project", "projects"),
}
# destroyVirtualMachine expunge=true: the expunge is an action of its own once the destroy succeeded.
EXPUNGE = Action("VM.EXPUNGE", "expunging Vm. Vm Id: {id}", *_VM)


@dataclass(frozen=True)
class Context:
    """What the events of one action share: its kind, resource, owner and caller."""

    action: Action
    resource_id: str
    owner: dict
    username: str
    # A second action recorded as completed when this one succeeds (VM.EXPUNGE after VM.DESTROY expunge=true).
    then: Action | None = None

    @property
    def description(self) -> str:
        return self.action.describe.format(id=self.resource_id)


def context(lab: LabState, command_name: str, resource_id: str | None, params: Params | None = None
            ) -> Context | None:
    """The event context of an action on `resource_id` by the current caller; None for a command without events."""
    action = ACTIONS.get(command_name)
    if action is None or not resource_id:
        return None
    record = (lab.data.get(action.table, {}).get(resource_id)
              or lab.data["removed"].get(action.table, {}).get(resource_id) or {})
    if lab.caller == ADMIN:
        owner, username = responses.owner_of(record), "admin"
    else:  # a user acts on its own account's resources
        owner, username = {"account": USER_ACCOUNT, "domain": "ROOT", "domainid": ROOT_DOMAIN_ID}, USER_ACCOUNT
    then = EXPUNGE if command_name == "destroyVirtualMachine" and params and params.flag("expunge") else None
    return Context(action, resource_id, owner, username, then)


def sync_resource_id(params: Params, result: dict) -> str | None:
    """The resource a sync action acted on: the `id` it was given, else the id of the object it answers."""
    for name in ("id", "ipaddressid"):
        if params.get(name):
            return params.get(name)
    for value in (result or {}).values():
        if isinstance(value, dict) and value.get("id"):
            return value["id"]
    return None


def record(lab: LabState, ctx: Context, state: str, *, level: str = INFO, description: str | None = None,
           parent_id: str | None = None) -> dict:
    """Append one event (under the lab's lock)."""
    event = {"id": new_id(), "seq": lab.next_seq(), "type": ctx.action.type, "level": level, "state": state,
             "description": description or ctx.description, "username": ctx.username,
             "account": ctx.owner["account"], "domainid": ctx.owner["domainid"], "domain": ctx.owner["domain"],
             "created": now(), "resourceid": ctx.resource_id, "resourcetype": ctx.action.resource_type}
    if ctx.owner.get("projectid"):
        event.update(projectid=ctx.owner["projectid"], project=ctx.owner.get("project", ""))
    if parent_id:
        event["parentid"] = parent_id
    lab.data.setdefault("events", {})[event["id"]] = event
    return event


def completed(lab: LabState, ctx: Context, *, error: str | None = None, parent_id: str | None = None) -> dict:
    if error is not None:
        return record(lab, ctx, COMPLETED, level=ERROR, parent_id=parent_id,
                      description=f"Error while {ctx.description}: {error}")
    event = record(lab, ctx, COMPLETED, parent_id=parent_id, description=f"Successfully completed {ctx.description}")
    if ctx.then is not None:
        completed(lab, replace(ctx, action=ctx.then, then=None))
    return event


def _date(p: Params, name: str) -> datetime | None:
    value = p.get(name)
    if value is None:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise invalid(f"Unable to parse date {value} for parameter {name}, use yyyy-MM-dd or yyyy-MM-dd HH:mm:ss")


def _created(event: dict) -> datetime:
    return datetime.strptime(event["created"][:19], "%Y-%m-%dT%H:%M:%S")


@command("listEvents")
def list_events(lab: LabState, p: Params) -> dict:
    """Newest first, as ListEventsCmd answers; startdate/enddate compare with `created` (server time)."""
    start, end = _date(p, "startdate"), _date(p, "enddate")
    if end is not None and len(p.get("enddate")) == 10:
        end = end.replace(hour=23, minute=59, second=59)  # a day given alone takes the whole day
    wanted = {name: p.get(name) for name in ("id", "type", "level", "account", "domainid", "projectid",
                                             "resourceid", "resourcetype")}
    if lab.caller != ADMIN:
        wanted.update(account=USER_ACCOUNT, domainid=ROOT_DOMAIN_ID)
    keyword = (p.get("keyword") or "").lower()
    items = []
    for event in lab.data.get("events", {}).values():
        if any(value is not None and str(event.get(name, "")).lower() != value.lower()
               for name, value in wanted.items()):
            continue
        if keyword and keyword not in f"{event['type']} {event['description']}".lower():
            continue
        if (start and _created(event) < start) or (end and _created(event) > end):
            continue
        items.append(event)
    items.sort(key=lambda e: e["seq"], reverse=True)
    return list_response("event", items, p, render=responses.public)
