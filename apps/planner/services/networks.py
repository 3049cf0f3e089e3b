"""Network mappings: each source network the in-scope VMs use and the CloudStack network it becomes."""
from __future__ import annotations

import re

from apps.core.utils import unique_or_conflict

from ..choices import VMStatus
from ..models import NetworkMapping, Project, SourceNIC
from .text import bulk_replace, child_get

VLAN = re.compile(r"vlan[\s_-]*(\d{1,4})(?!\d)", re.IGNORECASE)


def parse_vlan(network_name: str) -> int | None:
    found = VLAN.search(network_name)
    vlan = int(found.group(1)) if found else None
    return vlan if vlan is not None and 1 <= vlan <= 4094 else None


def in_scope_networks(project: Project) -> set[str]:
    return set(SourceNIC.objects.filter(vm__project=project).exclude(vm__migration_status=VMStatus.SKIPPED)
               .exclude(network_name="").values_list("network_name", flat=True).distinct())


def network_mappings_seed(*, project: Project) -> int:
    """A row (target = source name, unconfirmed) for every in-scope network that has none yet (seed 004)."""
    known = set(project.network_mappings.values_list("source_network_name", flat=True))
    missing = sorted(in_scope_networks(project) - known)
    NetworkMapping.objects.bulk_create(
        [NetworkMapping(project=project, source_network_name=name, target_network_name=name,
                        vlan_id=parse_vlan(name)) for name in missing], ignore_conflicts=True)
    return len(missing)


def network_mapping_get(project: Project, mapping_id) -> NetworkMapping:
    return child_get(project.network_mappings.all(), mapping_id, "Network mapping")


def network_mapping_upsert(*, project: Project, data: dict) -> tuple[NetworkMapping, bool]:
    defaults = {k: v for k, v in data.items() if k != "source_network_name"}
    defaults.setdefault("vlan_id", parse_vlan(data["source_network_name"]))
    with unique_or_conflict("The mapping changed at the same time; try again"):
        return NetworkMapping.objects.update_or_create(
            project=project, source_network_name=data["source_network_name"], defaults=defaults)


def network_mapping_update(*, mapping: NetworkMapping, data: dict) -> NetworkMapping:
    for name in ("target_network_name", "target_network_id", "vlan_id", "confirmed", "notes"):
        if name in data:
            setattr(mapping, name, data[name])
    if mapping.target_network_name is None:
        mapping.target_network_name = ""
    mapping.save()
    return mapping


def network_mapping_delete(*, mapping: NetworkMapping) -> None:
    mapping.delete()


def network_mappings_bulk_replace(*, project: Project, **options) -> dict:
    return bulk_replace(project.network_mappings.all(), field="target_network_name", confirmed_field="confirmed",
                        describe=lambda m: {"source_network_name": m.source_network_name}, **options)


def network_mappings_confirm_all(*, project: Project) -> dict:
    return {"status": "ok", "affected_count": project.network_mappings.filter(confirmed=False).update(confirmed=True)}
