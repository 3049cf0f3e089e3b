"""Network mappings: each source network the in-scope VMs use and the CloudStack network it becomes."""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from apps.core.exceptions import Conflict, NotFound

from ..choices import VMStatus
from ..models import NetworkMapping, Project, SourceNIC
from .text import replace_literal

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
    try:
        return project.network_mappings.get(pk=int(mapping_id))
    except (ValueError, TypeError, OverflowError, NetworkMapping.DoesNotExist):
        raise NotFound(f"Network mapping {str(mapping_id)[:32]!r} not found in this project") from None


def network_mapping_upsert(*, project: Project, data: dict) -> tuple[NetworkMapping, bool]:
    defaults = {k: v for k, v in data.items() if k != "source_network_name"}
    defaults.setdefault("vlan_id", parse_vlan(data["source_network_name"]))
    try:
        with transaction.atomic():
            return NetworkMapping.objects.update_or_create(
                project=project, source_network_name=data["source_network_name"], defaults=defaults)
    except IntegrityError:
        raise Conflict("The mapping changed at the same time; try again") from None


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


@transaction.atomic
def network_mappings_bulk_replace(*, project: Project, find: str, replace: str, case_sensitive: bool,
                                  unconfirmed_only: bool, preview_only: bool) -> dict:
    mappings = project.network_mappings.all()
    if unconfirmed_only:
        mappings = mappings.filter(confirmed=False)
    preview, changed = [], []
    for mapping in mappings.select_for_update():
        old = mapping.target_network_name
        new = replace_literal(old, find, replace, case_sensitive)[:255]
        if new == old:
            continue
        preview.append({"id": mapping.pk, "source_network_name": mapping.source_network_name, "old_value": old,
                        "new_value": new})
        mapping.target_network_name, mapping.confirmed = new, False
        changed.append(mapping)
    if not preview_only:
        NetworkMapping.objects.bulk_update(changed, ["target_network_name", "confirmed"])
    return {"status": "ok", "preview": preview, "affected_count": len(preview)}


def network_mappings_confirm_all(*, project: Project) -> dict:
    return {"status": "ok", "affected_count": project.network_mappings.filter(confirmed=False).update(confirmed=True)}
