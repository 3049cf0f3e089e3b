"""Who owns what, and the cloud around the VMs: domains, accounts, projects, hosts, security groups, resource limits,
public IP addresses.

Enough of CloudStack's tenancy for the operations portal to read a cloud with several tenants: an admin deploys
a VM or creates a volume for an account (`account` + `domainid`) or a project (`projectid`), and lists show that
owner. Public IP addresses: each isolated network's source NAT, and addresses associated to a network and bound to
a VM by static NAT. Also what the portal changes through CloudStack: networks, service offerings, security groups
and their ingress rules, a VM's offering (changeServiceForVirtualMachine, only when the VM is stopped, as
CloudStack insists).
"""

from __future__ import annotations

from lab.cloudstack import responses
from lab.cloudstack.commands_account import admin_only
from lab.cloudstack.errors import invalid
from lab.cloudstack.registry import ASYNC, SYNC, AsyncSpec, Params, command, list_response
from lab.cloudstack.state import LabState, new_id, now

# Resource.ResourceType ordinals listResourceLimits answers with, and a new account's defaults
# (max.account.* global settings); the root admin is unlimited (-1).
RESOURCE_TYPES = {0: ("user_vm", 20), 1: ("public_ip", 20), 2: ("volume", 20), 3: ("snapshot", 20),
                  4: ("template", 20), 8: ("cpu", 40), 9: ("memory", 40960), 10: ("primary_storage", 200),
                  11: ("secondary_storage", 400)}
GiB = 1024 ** 3
_GONE = ("Destroy", "Expunging", "Expunged", "Error")


def owner_fields(lab: LabState, p: Params) -> dict:
    """The owner a create names: a project, or an account in a domain (both or neither, as CloudStack wants)."""
    project = p.entity("projectid", lab.projects)
    if project is not None:
        return {"projectid": project["id"], "project": project["name"], "domain": project["domain"],
                "domainid": project["domainid"], "account": project["account"]}
    name, domain = p.get("account"), p.entity("domainid", lab.domains)
    if name is None and domain is None:
        return {}
    if name is None or domain is None:
        raise invalid("Account and domainId are needed for resource creation")
    account = next((a for a in lab.accounts.values() if a["name"] == name and a["domainid"] == domain["id"]), None)
    if account is None:
        raise invalid(f"Unable to find account {name} in domain id={domain['id']}")
    return {"account": account["name"], "domain": domain["name"], "domainid": domain["id"]}


def _owned_by(record: dict, p: Params, lab: LabState) -> bool:
    shown = responses.owner_of(record)
    domain = p.get("domainid")
    return (domain in (None, shown["domainid"]) and p.get("account") in (None, shown["account"])
            and p.get("projectid") in (None, shown.get("projectid")))


# -- domains, accounts, projects -----------------------------------------------------------------

@command("listDomains")
def list_domains(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.domains)
    items = [responses.public(d) for d in lab.domains.values() if wanted in (None, d)]
    return list_response("domain", items, p)


@command("createDomain")
def create_domain(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    name = p.require("name")
    parent = p.entity("parentdomainid", lab.domains) or lab.domains[next(iter(lab.domains))]
    if any(d["name"] == name and d["parentdomainid"] == parent["id"] for d in lab.domains.values()):
        raise invalid(f"Domain with name {name} already exists for the parent id={parent['id']}")
    parent["haschild"] = True
    domain = lab._add("domains", {"name": name, "path": f"{parent['path']}/{name}", "level": parent["level"] + 1,
                                  "parentdomainid": parent["id"], "parentdomainname": parent["name"],
                                  "haschild": False, "state": "Active"})
    return {"domain": responses.public(domain)}


@command("listAccounts")
def list_accounts(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.accounts)
    domain = p.entity("domainid", lab.domains)
    items = [{**responses.public(a), **limits_and_counts(lab, a)} for a in lab.accounts.values()
             if wanted in (None, a) and (domain is None or a["domainid"] == domain["id"])
             and p.get("name") in (None, a["name"])]
    return list_response("account", items, p)


@command("createAccount")
def create_account(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    for required in ("email", "firstname", "lastname", "password", "username"):
        p.require(required)
    domain = p.entity("domainid", lab.domains) or lab.domains[next(iter(lab.domains))]
    name = p.get("account") or p.require("username")
    if any(a["name"] == name and a["domainid"] == domain["id"] for a in lab.accounts.values()):
        raise invalid(f"The specified account: {name} already exists")
    account = lab._add("accounts", {"name": name, "accounttype": p.integer("accounttype") or 0,
                                    "roletype": "User", "domainid": domain["id"], "domain": domain["name"],
                                    "state": "enabled", "email": p.get("email")})
    return {"account": responses.public(account)}


@command("listProjects")
def list_projects(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.projects)
    domain = p.entity("domainid", lab.domains)
    items = [{**responses.public(pr), **limits_and_counts(lab, pr, project=True)} for pr in lab.projects.values()
             if wanted in (None, pr) and (domain is None or pr["domainid"] == domain["id"])]
    return list_response("project", items, p)


@command("createProject", ASYNC, "project.CreateProjectCmd")
def create_project(lab: LabState, p: Params) -> AsyncSpec:
    name = p.require("name")
    domain = p.entity("domainid", lab.domains) or lab.domains[next(iter(lab.domains))]
    project = lab._add("projects", {"name": name, "displaytext": p.get("displaytext") or name, "state": "Active",
                                    "domainid": domain["id"], "domain": domain["name"],
                                    "account": p.get("account") or "admin"})
    return AsyncSpec("Project", project["id"], lambda: {"project": responses.public(project)})


# -- resource limits -----------------------------------------------------------------------------

def _limits_of(lab: LabState, owner: dict) -> dict:
    admin = owner.get("account") == "admin" and not owner.get("projectid")
    defaults = {str(t): (-1 if admin else limit) for t, (_, limit) in RESOURCE_TYPES.items()}
    return {**defaults, **owner.get("limits", {})}


def _owns(owner: dict, record: dict, project: bool) -> bool:
    shown = responses.owner_of(record)
    if project:
        return shown.get("projectid") == owner["id"]
    return not shown.get("projectid") and (shown["account"], shown["domainid"]) == (owner["name"], owner["domainid"])


def limits_and_counts(lab: LabState, owner: dict, *, project: bool = False) -> dict:
    """The limit/total/available fields listAccounts and listProjects answer with (ResourceLimitAndCountResponse,
    AccountJoinDaoImpl/ProjectJoinDaoImpl): limits and available as strings, "Unlimited" for -1 (and for the root
    admin); storage in GiB, the primary total whole (bytes / GiB), the secondary one a float. Counted here from
    what the owner holds: its volumes (not destroyed) on primary storage, its snapshots on secondary."""
    # The max.account.* / max.project.* defaults under what updateResourceLimit set; the root admin is unlimited
    # (the fullView of its own account).
    root_admin = not project and owner.get("name") == "admin"
    limits = {**{str(t): limit for t, (_, limit) in RESOURCE_TYPES.items()}, **owner.get("limits", {})}
    volumes = [v for v in lab.volumes.values() if v.get("state") not in _GONE and _owns(owner, v, project)]
    # A snapshot's owner is its volume's, as responses.snapshot shows it.
    snaps = [s for s in lab.snapshots.values() if s.get("state") not in _GONE
             and _owns(owner, lab.volumes.get(s.get("volumeid") or "") or {}, project)]
    totals = {"volume": len(volumes), "snapshot": len(snaps),
              "primarystorage": sum(int(v.get("size") or 0) for v in volumes) // GiB,
              "secondarystorage": round(sum(int(s.get("virtualsize") or 0) for s in snaps) / GiB, 2)}
    out = {}
    for name, kind in (("volume", 2), ("snapshot", 3), ("primarystorage", 10), ("secondarystorage", 11)):
        limit = -1 if root_admin else int(limits[str(kind)])
        out[f"{name}limit"] = "Unlimited" if limit == -1 else str(limit)
        out[f"{name}total"] = totals[name]
        out[f"{name}available"] = "Unlimited" if limit == -1 else str(limit - totals[name])
    return out


@command("listResourceLimits")
def list_resource_limits(lab: LabState, p: Params) -> dict:
    project = p.entity("projectid", lab.projects)
    if project is not None:
        owner, fields = project, {"projectid": project["id"], "project": project["name"]}
    else:
        domain = p.entity("domainid", lab.domains)
        name = p.get("account") or "admin"
        owner = next((a for a in lab.accounts.values()
                      if a["name"] == name and (domain is None or a["domainid"] == domain["id"])), None)
        if owner is None:
            raise invalid(f"Unable to find account by name {name}")
        fields = {"account": owner["name"]}
    wanted = p.get("resourcetype")
    items = [{"resourcetype": t, "resourcetypename": RESOURCE_TYPES[int(t)][0], "max": limit,
              "domainid": owner["domainid"], "domain": owner["domain"], **fields}
             for t, limit in _limits_of(lab, owner).items() if wanted in (None, t)]
    return list_response("resourcelimit", items, p)


@command("updateResourceLimit")
def update_resource_limit(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    kind = p.integer("resourcetype", required=True)
    if kind not in RESOURCE_TYPES:
        raise invalid(f"Please specify valid resource type, {kind} is not valid")
    project = p.entity("projectid", lab.projects)
    owner = project or next((a for a in lab.accounts.values() if a["name"] == p.require("account")
                             and a["domainid"] == p.require("domainid")), None)
    if owner is None:
        raise invalid("Unable to find the account")
    owner.setdefault("limits", {})[str(kind)] = p.integer("max") if p.get("max") is not None else -1
    return {"resourcelimit": {"resourcetype": str(kind), "max": owner["limits"][str(kind)]}}


# -- hosts ---------------------------------------------------------------------------------------

@command("listHosts")
def list_hosts(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    wanted = p.entity("id", lab.hosts)
    items = []
    for h in sorted(lab.hosts.values(), key=lambda h: h["name"]):
        if wanted not in (None, h) or p.get("type") not in (None, h["type"]):
            continue
        running = [v for v in lab.vms.values() if (responses.host_of(lab, v) or {}).get("id") == h["id"]]
        cores = h["cpunumber"] * h["cpuspeed"]
        used_mhz = sum(v["cpunumber"] * v["cpuspeed"] for v in running)
        items.append({**responses.public(h), "cpuallocated": f"{100 * used_mhz / cores:.2f}%",
                      "cpuused": f"{min(100.0, 35.0 * used_mhz / cores):.2f}%",
                      "memoryallocated": sum(v["memory"] for v in running) * 1024 * 1024,
                      "memoryused": sum(v["memory"] for v in running) * 1024 * 1024 // 2,
                      "localstorageused": 0})
    return list_response("host", items, p)


# -- networks and service offerings --------------------------------------------------------------

@command("createNetwork", SYNC, "network.CreateNetworkCmd")
def create_network(lab: LabState, p: Params) -> dict:
    zone = p.entity("zoneid", lab.zones, required=True)
    name = p.require("name")
    gateway, netmask = p.get("gateway"), p.get("netmask") or "255.255.255.0"
    prefix = gateway.rsplit(".", 1)[0] if gateway else f"10.2.{len(lab.networks) + 10}"
    network = lab._add("networks", {
        "name": name, "displaytext": p.get("displaytext") or name, "zoneid": zone["id"], "cidr": f"{prefix}.0/24",
        "gateway": f"{prefix}.1", "netmask": netmask, "state": "Allocated", "type": "Isolated",
        "traffictype": "Guest", "broadcastdomaintype": "Vlan", "networkdomain": "cs2cloud.internal",
        "canusefordeploy": True, "networkofferingname": "DefaultIsolatedNetworkOfferingWithSourceNatService",
        "next_host": 10, **(owner_fields(lab, p) or {"account": "admin", "domain": "ROOT"}),
    })
    return {"network": responses.network(lab, network)}


@command("deleteNetwork", ASYNC, "network.DeleteNetworkCmd")
def delete_network(lab: LabState, p: Params) -> AsyncSpec:
    network = p.entity("id", lab.networks, required=True)
    if lab.addresses_in_use(network["id"]) or any(n["networkid"] == network["id"] for v in lab.vms.values()
                                                  for n in v["nics"]):
        raise invalid(f"Unable to delete network with id {network['id']}: it has VMs")

    def run() -> dict:
        lab.networks.pop(network["id"], None)
        return {"success": True}

    return AsyncSpec("Network", network["id"], run)


@command("createServiceOffering", SYNC, "offering.CreateServiceOfferingCmd")
def create_service_offering(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    name = p.require("name")
    cpu, speed, memory = p.integer("cpunumber"), p.integer("cpuspeed"), p.integer("memory")
    fixed = (cpu, speed, memory)
    if any(v is not None for v in fixed) and any(v is None for v in fixed):
        raise invalid("For creating a custom compute offering cpu, cpu speed and memory all should be null")
    for label, value in (("cpu number", cpu), ("cpu speed", speed), ("memory", memory)):
        if value is not None and value <= 0:
            raise invalid(f"Failed to create service offering {name}: specify the {label} value between 1 and "
                          "2147483647")
    offering = lab._add("service_offerings", {
        "name": name, "displaytext": p.get("displaytext") or name, "cpunumber": cpu, "cpuspeed": speed,
        "memory": memory, "iscustomized": cpu is None, "storagetype": "shared", "provisioningtype": "thin",
        "offerha": False, "limitcpuuse": False, "issystem": False, "isvolatile": False, "defaultuse": False,
    })
    return {"serviceoffering": responses.offering(lab, offering)}


@command("deleteServiceOffering", SYNC, "offering.DeleteServiceOfferingCmd")
def delete_service_offering(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    offering = p.entity("id", lab.service_offerings, required=True)
    lab.service_offerings.pop(offering["id"])
    return {"success": "true"}


@command("changeServiceForVirtualMachine", SYNC, "vm.UpgradeVMCmd")
def change_service_for_vm(lab: LabState, p: Params) -> dict:
    vm = p.entity("id", lab.vms, required=True)
    offering = p.entity("serviceofferingid", lab.service_offerings, required=True)
    if vm["state"] != "Stopped":
        raise invalid(f"Unable to upgrade virtual machine {vm['id']}: it is not in stopped state")
    if offering["iscustomized"]:
        raise invalid("Need to specify custom parameter values cpu, cpu speed and memory when using custom "
                      "offering")
    vm.update(serviceofferingid=offering["id"], cpunumber=offering["cpunumber"], cpuspeed=offering["cpuspeed"],
              memory=offering["memory"])
    return {"virtualmachine": responses.vm(lab, vm)}


# -- security groups -----------------------------------------------------------------------------

def _security_group(lab: LabState, g: dict) -> dict:
    return {**responses.public(g), **responses.owner_of(g), "ingressrule": list(g["ingressrule"]),
            "egressrule": [], "virtualmachinecount": len(g.get("virtualmachineids", [])),
            "virtualmachineids": list(g.get("virtualmachineids", []))}


@command("listSecurityGroups")
def list_security_groups(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.security_groups)
    items = [_security_group(lab, g) for g in lab.security_groups.values()
             if wanted in (None, g) and p.get("securitygroupname") in (None, g["name"]) and _owned_by(g, p, lab)]
    return list_response("securitygroup", items, p)


@command("createSecurityGroup", SYNC, "securitygroup.CreateSecurityGroupCmd")
def create_security_group(lab: LabState, p: Params) -> dict:
    name = p.require("name")
    owner = owner_fields(lab, p)
    if name.lower() == "default" or any(g["name"] == name and responses.owner_of(g) == responses.owner_of(owner)
                                        for g in lab.security_groups.values()):
        raise invalid(f"Unable to create security group, a group with name {name} already exists.")
    group = lab._add("security_groups", {"name": name, "description": p.get("description") or "",
                                         "ingressrule": [], **owner})
    return {"securitygroup": _security_group(lab, group)}


@command("deleteSecurityGroup", SYNC, "securitygroup.DeleteSecurityGroupCmd")
def delete_security_group(lab: LabState, p: Params) -> dict:
    group = p.entity("id", lab.security_groups, required=True)
    if group.get("virtualmachineids"):
        raise invalid(f"Unable to remove security group {group['name']}: it is in use by VMs")
    lab.security_groups.pop(group["id"])
    return {"success": "true"}


@command("authorizeSecurityGroupIngress", ASYNC, "securitygroup.AuthorizeSecurityGroupIngressCmd")
def authorize_ingress(lab: LabState, p: Params) -> AsyncSpec:
    group = p.entity("securitygroupid", lab.security_groups, required=True)
    protocol = (p.get("protocol") or "all").lower()
    if protocol not in ("tcp", "udp", "icmp", "all"):
        raise invalid(f"Invalid protocol {protocol}")
    start, end = p.integer("startport"), p.integer("endport")
    if protocol in ("tcp", "udp") and (start is None or end is None or not 0 <= start <= end <= 65535):
        raise invalid(f"Invalid port range {start}:{end}")
    rule = {"ruleid": new_id(), "protocol": protocol, "startport": start, "endport": end,
            "cidr": p.get("cidrlist") or "0.0.0.0/0", "created": now()}
    rule = {k: v for k, v in rule.items() if v is not None}

    def run() -> dict:
        group["ingressrule"].append(rule)
        return {"securitygroup": _security_group(lab, group)}

    return AsyncSpec("SecurityGroup", group["id"], run)


@command("revokeSecurityGroupIngress", ASYNC, "securitygroup.RevokeSecurityGroupIngressCmd")
def revoke_ingress(lab: LabState, p: Params) -> AsyncSpec:
    rule_id = p.require("id")
    group = next((g for g in lab.security_groups.values() if any(r["ruleid"] == rule_id for r in g["ingressrule"])),
                 None)
    if group is None:
        raise invalid(f"Unable to find security group rule with id {rule_id}")

    def run() -> dict:
        group["ingressrule"] = [r for r in group["ingressrule"] if r["ruleid"] != rule_id]
        return {"success": True}

    return AsyncSpec("SecurityGroup", group["id"], run)


# -- public IP addresses (the seed's floating IPs) -------------------------------------------------------------

def _public_ip(lab: LabState, ip: dict) -> dict:
    net = lab.networks.get(ip.get("associatednetworkid") or "")
    vm = lab.vms.get(ip.get("virtualmachineid") or "")
    out = {**responses.public(ip), **responses.owner_of(ip), "zonename": lab.zones[ip["zoneid"]]["name"]}
    if net:
        out["associatednetworkname"] = net["name"]
    if vm:
        out.update(virtualmachinename=vm["name"], virtualmachinedisplayname=vm["displayname"])
    return out


@command("listPublicIpAddresses")
def list_public_ip_addresses(lab: LabState, p: Params) -> dict:
    wanted = p.entity("id", lab.public_ips)
    network = p.entity("associatednetworkid", lab.networks)
    items = [ip for ip in lab.public_ips.values() if wanted in (None, ip)
             and (network is None or ip.get("associatednetworkid") == network["id"])]
    return list_response("publicipaddress", items, p, lambda ip: _public_ip(lab, ip))


@command("associateIpAddress", ASYNC, "address.AssociateIPAddrCmd")
def associate_ip_address(lab: LabState, p: Params) -> AsyncSpec:
    network = p.entity("networkid", lab.networks, required=True)
    taken = {ip["ipaddress"] for ip in lab.public_ips.values()}
    address = next(f"203.0.113.{n}" for n in range(10, 255) if f"203.0.113.{n}" not in taken)
    ip = lab._add("public_ips", {"ipaddress": address, "state": "Allocated", "associatednetworkid": network["id"],
                                 "issourcenat": False, "isstaticnat": False, "zoneid": network["zoneid"],
                                 "allocated": now(), **owner_fields(lab, p)})
    return AsyncSpec("IpAddress", ip["id"], lambda: {"ipaddress": _public_ip(lab, ip)})


@command("disassociateIpAddress", ASYNC, "address.DisassociateIPAddrCmd")
def disassociate_ip_address(lab: LabState, p: Params) -> AsyncSpec:
    ip = p.entity("id", lab.public_ips, required=True)
    if ip["issourcenat"]:
        raise invalid(f"IP address id={ip['id']} is a source nat ip address, releasing it is not allowed")

    def run() -> dict:
        lab.public_ips.pop(ip["id"], None)
        return {"success": True}

    return AsyncSpec("IpAddress", ip["id"], run)


@command("enableStaticNat", SYNC, "nat.EnableStaticNatCmd")
def enable_static_nat(lab: LabState, p: Params) -> dict:
    ip = p.entity("ipaddressid", lab.public_ips, required=True)
    vm = p.entity("virtualmachineid", lab.vms, required=True)
    if ip["issourcenat"]:
        raise invalid("Can't enable static nat on a source nat ip address")
    ip.update(isstaticnat=True, virtualmachineid=vm["id"])
    return {"success": "true"}


@command("disableStaticNat", ASYNC, "nat.DisableStaticNatCmd")
def disable_static_nat(lab: LabState, p: Params) -> AsyncSpec:
    ip = p.entity("ipaddressid", lab.public_ips, required=True)

    def run() -> dict:
        ip.update(isstaticnat=False, virtualmachineid=None)
        return {"success": True}

    return AsyncSpec("IpAddress", ip["id"], run)
