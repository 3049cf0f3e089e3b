"""A planned VM's execution status and mode override."""
from __future__ import annotations

from apps.core.exceptions import InvalidInput

from ..models import Project, SourceVM
from .text import child_get


def vm_get(project: Project, vm_id) -> SourceVM:
    return child_get(project.vms.all(), vm_id, "VM")


def vm_status_update(*, vm: SourceVM, status: str, status_note: str | None) -> SourceVM:
    vm.migration_status = status
    if status_note is not None:
        vm.status_note = status_note
    vm.save(update_fields=["migration_status", "status_note"])
    return vm


def vm_status_bulk(*, project: Project, vm_ids: list[int], status: str, status_note: str | None) -> int:
    vms = project.vms.filter(pk__in=vm_ids)
    found = set(vms.values_list("pk", flat=True))
    missing = sorted(set(vm_ids) - found)
    if missing:
        raise InvalidInput(f"VM ids not in this project: {', '.join(map(str, missing[:20]))}")
    fields = {"migration_status": status}
    if status_note is not None:
        fields["status_note"] = status_note
    return vms.update(**fields)


def vm_mode_override(*, vm: SourceVM, override: str | None) -> SourceVM:
    vm.mode_override = override
    vm.save(update_fields=["mode_override"])
    return vm
