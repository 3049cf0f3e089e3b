"""What deployVirtualMachine reads about a VM's identity: NIC MACs and addresses, boot type and mode.

Each refusal is CloudStack's own (BaseDeployVMCmd's accessors, NetUtils, the IP allocation of
IpAddressManagerImpl): a map parameter (`iptonetworklist[0].mac=...`) is read as ParamProcessWorker
hands it to the command, one dict per index.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from lab.cloudstack.errors import ApiError, invalid
from lab.cloudstack.registry import Params
from lab.cloudstack.state import LabState

INSUFFICIENT_CAPACITY_ERROR = 533
CS_SERVER_API_EXCEPTION = 9999  # what ServerApiException carries as cserrorcode
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$")
BOOT_TYPES = ("BIOS", "UEFI")
BOOT_MODES = ("LEGACY", "SECURE")


def map_param(p: Params, name: str) -> dict[str, str]:
    """`name[N].key=value` pairs flattened into one dict, keys as sent (CloudStack's details maps)."""
    out: dict[str, str] = {}
    for entry in indexed(p, name):
        out.update(entry)
    return out


def indexed(p: Params, name: str) -> list[dict[str, str]]:
    """`name[N].key=value` as one dict per index, in index order."""
    pattern = re.compile(rf"^{re.escape(name)}\[(\d+)\]\.(.+)$")
    groups: dict[int, dict[str, str]] = {}
    for key, value in p.raw.items():
        match = pattern.match(key)
        if match:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [groups[i] for i in sorted(groups)]


def standard_mac(text: str) -> str:
    """NetUtils.isValidMac / isUnicastMac / standardizeMacAddress."""
    if not _MAC.match(text):
        raise invalid(f"Mac address is not valid: {text}")
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    if int(digits[:2], 16) & 1:
        raise invalid(f"Mac address is not unicast: {text}")
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


@dataclass
class NicRequest:
    ip: str | None = None
    mac: str | None = None


def requested_nics(lab: LabState, p: Params) -> tuple[list[dict], list[NicRequest]]:
    """The VM's networks in order and what was asked of each NIC (BaseDeployVMCmd.getIpToNetworkMap)."""
    entries = indexed(p, "iptonetworklist")
    default_ip, default_mac = p.get("ipaddress"), p.get("macaddress")
    if default_mac is not None:
        default_mac = standard_mac(default_mac)
    if entries:
        if p.get("networkids") is not None or default_ip is not None:
            raise invalid("ipToNetworkMap can't be specified along with networkIds or ipAddress")
        networks, requests = [], []
        for entry in entries:
            net = lab.networks.get(entry.get("networkid", ""))
            if net is None:
                raise invalid("Unable to translate and find entity with networkId: "
                              f"{entry.get('networkid')}")
            mac = entry.get("mac")
            networks.append(net)
            requests.append(NicRequest(entry.get("ip"), standard_mac(mac) if mac is not None else None))
    else:
        networks = p.entities("networkids", lab.networks)
        requests = [NicRequest() for _ in networks]
    if requests:
        # UserVmManagerImpl: the default NIC takes `ipaddress` if given, else `macaddress` alone,
        # replacing what iptonetworklist asked for it.
        if default_ip is not None:
            requests[0] = NicRequest(default_ip, None)
        elif default_mac is not None:
            requests[0] = NicRequest(None, default_mac)
    for req in requests:
        if req.ip is not None:
            try:
                ipaddress.IPv4Address(req.ip)
            except ValueError:
                raise invalid(f"Invalid specified IPv4 address {req.ip}") from None
    return networks, requests


def _capacity(text: str) -> ApiError:
    # An InsufficientCapacityException while DeployVMCmd.create() allocates the NICs.
    return ApiError(INSUFFICIENT_CAPACITY_ERROR, text, CS_SERVER_API_EXCEPTION)


def allocate(lab: LabState, networks: list[dict], requests: list[NicRequest]) -> list[str | None]:
    """The requested guest addresses, refused where the network cannot give them."""
    out: list[str | None] = []
    for net, req in zip(networks, requests, strict=False):
        if req.ip is None or not net.get("cidr"):  # an L2 network has no addressing to ask of
            out.append(None)
            continue
        address = ipaddress.IPv4Address(req.ip)
        in_range = (address in ipaddress.IPv4Network(net["cidr"]) and req.ip != net["gateway"])
        if net.get("startip"):
            in_range = in_range and (ipaddress.IPv4Address(net["startip"]) <= address
                                     <= ipaddress.IPv4Address(net["endip"]))
        taken = req.ip in lab.addresses_in_use(net["id"]) or req.ip in out
        if net["type"] == "Shared" and (not in_range or taken):
            raise _capacity(f"Insufficient address capacity: requested ip {req.ip} is not available "
                            f"in network {net['name']}")
        if not in_range or taken:
            raise _capacity(f"Unable to acquire Guest IP address for network {net['name']}")
        out.append(req.ip)
    return out


@dataclass
class Boot:
    boot_type: str | None
    boot_mode: str | None

    def fields(self) -> dict:
        # UserVmResponse: BIOS/legacy unless the VM's details say UEFI.
        if self.boot_type == "UEFI":
            return {"boottype": "UEFI", "bootmode": self.boot_mode.lower()}
        return {"boottype": "BIOS", "bootmode": "legacy"}

    def details(self) -> dict:
        # BaseDeployVMCmd.getDetails stores the boot type as a VM detail holding the mode.
        return {self.boot_type: self.boot_mode} if self.boot_type else {}


def _choice(p: Params, name: str, allowed: tuple[str, ...], refusal) -> str | None:
    value = p.get(name)
    if value is None:
        return None
    if value.strip().upper() not in allowed:
        raise invalid(refusal(value))
    return value.strip().upper()


def boot(p: Params) -> Boot:
    """BaseDeployVMCmd.getBootType / getBootMode."""
    name = p.get("name")
    boot_type = _choice(p, "boottype", BOOT_TYPES, lambda v: f"Invalid bootType {v}Specified for vm {name} Valid "
                        f"values are: [{', '.join(BOOT_TYPES)}]")
    boot_mode = _choice(p, "bootmode", BOOT_MODES, lambda v: f"Invalid bootmode: {v} specified for VM: {name}. Valid "
                        f"values are: [{', '.join(BOOT_MODES)}]")
    if boot_mode is None and boot_type == "UEFI":
        raise invalid(f"bootmode must be specified for the VM with boot type: UEFI. Valid values are: "
                      f"[{', '.join(BOOT_MODES)}]")
    return Boot(boot_type, boot_mode)
