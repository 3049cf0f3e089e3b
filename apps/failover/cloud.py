"""What failover asks CloudStack before it changes anything: the client, offering, template, networks, names.

Every function here only reads. The CloudStack calls that change things are in the steps (`steps/`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from apps.core.exceptions import ApplicationError, InvalidInput, ServiceUnavailable, UpstreamError
from apps.inventory.models import VMContext
from apps.settings import cloudstack as cs
from apps.settings.models import OsseaConfig
from apps.settings.services import active_ossea_config

from . import conf
from .models import NetworkMapping

# CloudStack's hostname rule for VM names: letters, digits, hyphens, a letter first, at most 63 characters.
_HOSTNAME_BAD = re.compile(r"[^A-Za-z0-9-]+")


def config_for(vm_context: VMContext) -> OsseaConfig:
    """The CloudStack configuration a VM fails over into: the one its replication used, else the active one."""
    config = vm_context.ossea_config if vm_context.ossea_config_id else None
    if config is None or not config.is_active:
        config = active_ossea_config() or config
    if config is None:
        raise ServiceUnavailable("CloudStack is not configured: create an OSSEA configuration first "
                                 "(POST /api/v1/ossea/config)", error_code="OSSEA_NOT_CONFIGURED")
    return config


def client_for(config: OsseaConfig) -> cs.CloudStackClient:
    return cs.CloudStackClient(config.api_url, config.api_key, config.secret_key,
                               job_timeout=settings.MP_CLOUDSTACK_JOB_TIMEOUT,
                               poll_interval=getattr(settings, "MP_CLOUDSTACK_POLL_INTERVAL", 2.0))


def api_error(exc: cs.CloudStackError) -> ApplicationError:
    """A CloudStack failure during a synchronous request: 502 with seed 003's OSSEA_API_ERROR."""
    return UpstreamError(f"CloudStack: {exc}", error_code="OSSEA_API_ERROR")


def host_name(text: str, *, prefix: str = "", limit: int = 63) -> str:
    """A CloudStack VM name (hostname rule) made from any VMware VM name."""
    name = _HOSTNAME_BAD.sub("-", f"{prefix}{text}").strip("-")
    if not name or not name[0].isalpha():
        name = f"vm-{name}".strip("-")
    return name[:limit].rstrip("-")


def test_vm_name(vm_context: VMContext, stamp: int) -> str:
    base = host_name(vm_context.vm_name, limit=44)
    return host_name(f"test-{base}-{stamp % 1000000}")


def live_vm_name(vm_context: VMContext, custom_config: dict) -> str:
    return host_name(custom_config.get("vm_name") or vm_context.vm_name)


# -- compute offering and template ---------------------------------------------------------------


@dataclass
class Compute:
    offering: dict
    cpu_number: int | None  # set for a customized offering only
    memory_mb: int | None

    @property
    def cpu_speed(self) -> int | None:
        """What a deploy sends as cpuSpeed: a customized offering without a speed needs one (CloudStack's
        validateCustomParameters); one with a speed refuses it."""
        if not self.offering.get("iscustomized") or self.offering.get("cpuspeed"):
            return None
        return conf.custom_cpu_speed()

    def as_plan(self) -> dict:
        return {"service_offering_id": self.offering["id"], "service_offering_name": self.offering.get("name"),
                "customized": bool(self.offering.get("iscustomized")), "cpu_number": self.cpu_number,
                "memory_mb": self.memory_mb, "cpu_speed": self.cpu_speed}


class PlanError(Exception):
    """A failover cannot be planned: the message says what to change."""


def _fits(offering: dict, cpus: int, memory_mb: int) -> bool:
    return (offering.get("cpunumber") or 0) >= cpus and (offering.get("memory") or 0) >= memory_mb


def choose_offering(offerings: list[dict], vm_context: VMContext, *, wanted_id: str = "") -> Compute:
    """The requested/configured offering if it fits; else the smallest fixed offering that fits; else a custom one."""
    cpus = max(1, vm_context.cpu_count or 1)
    memory = max(32, vm_context.memory_mb or 0)
    if wanted_id:
        offering = next((o for o in offerings if o["id"] == wanted_id or o.get("name") == wanted_id), None)
        if offering is None:
            raise PlanError(f"Service offering '{wanted_id}' does not exist in CloudStack")
        if offering.get("iscustomized"):
            return Compute(offering, cpus, memory)
        if not _fits(offering, cpus, memory):
            raise PlanError(f"Service offering '{offering.get('name')}' ({offering.get('cpunumber')} vCPU, "
                            f"{offering.get('memory')} MB) is smaller than the VM ({cpus} vCPU, {memory} MB)")
        return Compute(offering, None, None)
    fixed = sorted((o for o in offerings if not o.get("iscustomized") and _fits(o, cpus, memory)),
                   key=lambda o: (o.get("memory") or 0, o.get("cpunumber") or 0))
    if fixed:
        return Compute(fixed[0], None, None)
    custom = next((o for o in offerings if o.get("iscustomized")), None)
    if custom is not None:
        return Compute(custom, cpus, memory)
    raise PlanError(f"No CloudStack service offering fits the VM ({cpus} vCPU, {memory} MB) and none is "
                    "customized; create one that fits")


def choose_template(templates: list[dict], *, wanted_id: str = "") -> dict:
    """Any ready template: its root disk is replaced by the replicated boot volume before the first start."""
    ready = [t for t in templates if t.get("isready", True)]
    if wanted_id:
        found = next((t for t in ready if t["id"] == wanted_id or t.get("name") == wanted_id), None)
        if found is None:
            raise PlanError(f"Template '{wanted_id}' does not exist or is not ready in the zone")
        return found
    if not ready:
        raise PlanError("The zone has no ready template to create the VM from (its root disk is replaced by the "
                        "replicated boot volume); register one")
    return sorted(ready, key=lambda t: (not t.get("isfeatured"), t.get("created", "")))[0]


# -- networks -------------------------------------------------------------------------------------


def source_networks(vm_context: VMContext) -> list[tuple[str, str]]:
    """(NIC label, source network name) per NIC, in NIC order."""
    return [(nic.label, nic.network_name or nic.label) for nic in vm_context.nics.all().order_by("label", "id")]


def find_network(networks: list[dict], ident: str) -> dict | None:
    """A CloudStack network by id, else by name (names are not unique: ambiguity is an error)."""
    by_id = next((n for n in networks if n["id"] == ident), None)
    if by_id is not None:
        return by_id
    named = [n for n in networks if n.get("name") == ident]
    if len(named) > 1:
        raise InvalidInput(f"Several CloudStack networks are named '{ident}'; give its id",
                           error_code="NETWORK_AMBIGUOUS")
    return named[0] if named else None


def resolve_networks(vm_context: VMContext, *, failover_type: str, overrides: dict[str, str],
                     networks: list[dict] | None) -> tuple[list[dict], list[str]]:
    """Destination per NIC: the request's override, else the stored mapping of the failover's kind.

    Returns (resolved NICs, unmapped source network names). `networks` (CloudStack's list) fills in names
    for overrides; None skips that lookup.
    """
    is_test = failover_type == "test"
    stored = {m.source_network_name: m for m in
              NetworkMapping.objects.filter(vm_context=vm_context, is_test_network=is_test)}
    resolved, unmapped = [], []
    for label, source in source_networks(vm_context):
        if source in overrides:
            ident = overrides[source]
            found = find_network(networks, ident) if networks is not None else None
            resolved.append({"nic": label, "source_network_name": source,
                             "destination_network_id": found["id"] if found else ident,
                             "destination_network_name": (found or {}).get("name", ""), "from": "request",
                             "is_test_network": is_test})
        elif source in stored:
            mapping = stored[source]
            resolved.append({"nic": label, "source_network_name": source,
                             "destination_network_id": mapping.destination_network_id,
                             "destination_network_name": mapping.destination_network_name, "from": "mapping",
                             "is_test_network": mapping.is_test_network})
        elif source not in unmapped:
            unmapped.append(source)
    return resolved, unmapped


def deploy_network_ids(resolved: list[dict]) -> list[str]:
    """One NIC per distinct network, in the source NICs' order: CloudStack gives a VM one NIC per network at deploy."""
    seen: list[str] = []
    for nic in resolved:
        if nic["destination_network_id"] not in seen:
            seen.append(nic["destination_network_id"])
    return seen
