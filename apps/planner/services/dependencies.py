"""VM dependencies: ``vm`` must complete before ``depends_on_vm`` starts; no cycles."""
from __future__ import annotations

import collections

from apps.core.exceptions import Conflict, InvalidInput
from apps.core.utils import unique_or_conflict

from ..models import Project, SourceVM, VMDependency
from .text import child_get


def _reaches(project: Project, start: int, goal: int) -> bool:
    edges = collections.defaultdict(list)
    for before, after in project.dependencies.values_list("vm_id", "depends_on_vm_id"):
        edges[before].append(after)
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in edges[node]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def dependency_create(*, project: Project, vm: SourceVM, data: dict) -> VMDependency:
    try:
        other = project.vms.get(pk=data["depends_on_vm_id"])
    except SourceVM.DoesNotExist:
        raise InvalidInput(f"depends_on_vm_id {data['depends_on_vm_id']} is not a VM of this project") from None
    if other.pk == vm.pk:
        raise InvalidInput("A VM cannot depend on itself")
    with unique_or_conflict(f"{vm.vm_name} -> {other.vm_name} exists already"):
        # One writer at a time per project: two crossing dependencies could otherwise both pass the check.
        Project.objects.select_for_update().filter(pk=project.pk).exists()
        if _reaches(project, other.pk, vm.pk):
            raise Conflict(f"Circular dependency: {other.vm_name} already comes before {vm.vm_name}")
        return VMDependency.objects.create(project=project, vm=vm, depends_on_vm=other,
                                           dependency_type=data["dependency_type"], notes=data.get("notes", ""))


def dependency_delete(*, vm: SourceVM, dep_id) -> None:
    child_get(VMDependency.objects.filter(vm=vm), dep_id, "Dependency").delete()
