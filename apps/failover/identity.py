"""What the failover VM arrives as: its NICs' MACs and addresses, boot firmware, OS type and KVM details.

Each is decided from the inventory (what discovery read from vSphere) and CloudStack's lists, before anything is
created; `steps/create_vm.py` sends the decision with deployVirtualMachine (`macaddress`, `iptonetworklist[N].mac`
and `.ip`, `boottype`, `bootmode`, `details[0].rootDiskController` / `nicAdapter`) and updateVirtualMachine
(`ostypeid`). Nothing here changes CloudStack.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from apps.inventory.models import VMContext
from apps.settings.models import GuestOsMapping

from .choices import FailoverType

VIRTIO = "virtio"


@dataclass
class Decision:
    """A part of the plan, with what could not be kept and why (readiness warnings)."""

    plan: dict | list
    warnings: list[str] = field(default_factory=list)


def keeps(custom_config: dict, failover_type: str, what: str) -> bool:
    """MACs and addresses are kept by a live failover; a test VM runs beside the source, so not by default."""
    value = custom_config.get(f"keep_{what}")
    return value if isinstance(value, bool) else failover_type == FailoverType.LIVE


def _first_ipv4(addresses: list[str]) -> str | None:
    for text in addresses or []:
        try:
            if ipaddress.ip_address(text).version == 4 and not ipaddress.ip_address(text).is_link_local:
                return text
        except ValueError:
            continue
    return None


def _address_fits(network: dict, address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    if not network.get("cidr") or ip not in ipaddress.IPv4Network(network["cidr"], strict=False):
        return False
    if address == network.get("gateway"):
        return False
    if network.get("startip") and network.get("endip"):
        return ipaddress.IPv4Address(network["startip"]) <= ip <= ipaddress.IPv4Address(network["endip"])
    return True


def addresses_in_use(vms: list[dict]) -> dict[str, set[str]]:
    """CloudStack network id -> guest addresses its VMs hold (a destroyed VM holds them until expunged)."""
    used: dict[str, set[str]] = {}
    for vm in vms:
        for nic in vm.get("nic", []):
            if nic.get("ipaddress"):
                used.setdefault(nic["networkid"], set()).add(nic["ipaddress"])
    return used


def _paired(vm_context: VMContext, resolved: list[dict]) -> list[tuple[dict, object]]:
    """Each resolved NIC with its inventory row. Labels need not be unique (vcsim gives every NIC the same one):
    resolve_networks lists the NICs in `cloud.source_networks` order, skipping the unmapped ones."""
    pairs, queue = [], list(resolved)
    for row in vm_context.nics.all().order_by("label", "id"):
        if queue and (queue[0]["nic"], queue[0]["source_network_name"]) == (row.label, row.network_name or row.label):
            pairs.append((queue.pop(0), row))
    return pairs


def plan_nics(vm_context: VMContext, resolved: list[dict], networks: list[dict], *, failover_type: str,
              custom_config: dict, in_use: dict[str, set[str]]) -> Decision:
    """One NIC per destination network (CloudStack's rule), in source order, with the MAC and address it keeps.

    An address is kept only on a Shared network whose range holds it and where no VM holds it: an isolated
    network's addresses are CloudStack's own, an L2 network has none (the guest keeps its static configuration).
    """
    keep_mac, keep_ip = keeps(custom_config, failover_type, "mac_addresses"), keeps(custom_config, failover_type,
                                                                                   "ip_addresses")
    by_id = {n["id"]: n for n in networks}
    out, warnings, seen = [], [], set()
    for nic, source in _paired(vm_context, resolved):
        network_id = nic["destination_network_id"]
        if network_id in seen:
            continue
        seen.add(network_id)
        network = by_id.get(network_id, {})
        entry = {"network_id": network_id, "network_name": network.get("name", ""), "source_nic": nic["nic"],
                 "network_type": network.get("type", ""), "mac": None, "ip": None}
        if source is not None and keep_mac and source.mac_address:
            entry["mac"] = source.mac_address.lower()
        address = _first_ipv4(source.ip_addresses) if source is not None and keep_ip else None
        if address and network.get("type") == "Shared":
            if not _address_fits(network, address):
                warnings.append(f"{nic['nic']}: {address} is outside the range of network '{network.get('name')}' "
                                f"({network.get('startip') or network.get('cidr')}-{network.get('endip') or ''}); "
                                "CloudStack assigns another address")
            elif address in in_use.get(network_id, set()):
                warnings.append(f"{nic['nic']}: {address} is taken in network '{network.get('name')}'; CloudStack "
                                "assigns another address")
            else:
                entry["ip"] = address
        elif address and network.get("type") not in ("L2", None, ""):
            warnings.append(f"{nic['nic']}: {address} is not kept: network '{network.get('name')}' is "
                            f"{network.get('type')}, where CloudStack assigns the addresses")
        out.append(entry)
    return Decision(out, warnings)


def boot(vm_context: VMContext) -> dict:
    """vSphere's firmware as CloudStack's boottype/bootmode."""
    if (vm_context.firmware or "").lower() == "efi":
        return {"boot_type": "UEFI", "boot_mode": "SECURE" if vm_context.secure_boot else "LEGACY"}
    return {"boot_type": "BIOS", "boot_mode": "LEGACY"}


def os_type(vm_context: VMContext, os_types: list[dict]) -> Decision:
    """The CloudStack OS type of the VM's VMware guestId, through the operator's guest OS mappings."""
    guest = vm_context.guest_os_id
    mapping = GuestOsMapping.objects.filter(vmware_guest_id=guest).first() if guest else None
    if mapping is None:
        why = (f"VMware guest OS '{guest}' has no guest OS mapping" if guest
               else "the inventory has no guest OS for the VM")
        return Decision({}, [f"{why}: the VM keeps the template's OS type (add one: POST /api/v1/guest-os-mappings)"])
    found = None
    if mapping.os_type_id:
        found = next((t for t in os_types if t["id"] == mapping.os_type_id), None)
    elif mapping.os_type_description:
        found = next((t for t in os_types if t.get("description") == mapping.os_type_description), None)
    if found is None:
        wanted = mapping.os_type_id or mapping.os_type_description
        return Decision({}, [f"CloudStack has no OS type '{wanted}' (mapped from '{guest}'): the VM keeps the "
                             "template's OS type"])
    return Decision({"id": found["id"], "description": found.get("description", ""), "vmware_guest_id": guest})


def kvm_details(custom_config: dict) -> dict:
    """KVM VM details: the root disk controller and NIC model, virtio unless the request says otherwise."""
    return {"rootDiskController": custom_config.get("root_disk_controller") or VIRTIO,
            "nicAdapter": custom_config.get("nic_adapter") or VIRTIO}


def plan(vm_context: VMContext, resolved: list[dict], networks: list[dict], *, failover_type: str,
         custom_config: dict, os_types: list[dict], vms: list[dict]) -> Decision:
    """The identity part of a failover plan and its warnings."""
    nics = plan_nics(vm_context, resolved, networks, failover_type=failover_type, custom_config=custom_config,
                     in_use=addresses_in_use(vms))
    os = os_type(vm_context, os_types)
    return Decision({"nics": nics.plan, "boot": boot(vm_context), "os_type": os.plan,
                     "details": kvm_details(custom_config)}, nics.warnings + os.warnings)
