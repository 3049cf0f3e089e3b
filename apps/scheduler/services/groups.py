"""Machine groups and VM assignments: a VM belongs to at most one group, and a group to at most one schedule."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import Conflict, NotFound
from apps.core.utils import by_pk
from apps.inventory.models import VMContext
from apps.inventory.services import vm_context_get

from ..choices import OPEN_VM, ExecutionStatus
from ..models import ExecutionVM, MachineGroup, VMGroupMembership
from .naming import save_named
from .schedules import schedule_get

logger = logging.getLogger(__name__)
GROUP_FIELDS = ("name", "description", "priority")


@dataclass
class AssignmentResult:
    group: MachineGroup
    assigned: list[VMContext] = field(default_factory=list)
    already_in_group: list[VMContext] = field(default_factory=list)


class MovedVM(NamedTuple):
    vm: VMContext
    from_group: MachineGroup


@dataclass
class MoveResult:
    target: MachineGroup
    moved: list[MovedVM] = field(default_factory=list)
    assigned: list[VMContext] = field(default_factory=list)
    unchanged: list[VMContext] = field(default_factory=list)


def group_get(group_id) -> MachineGroup:
    return by_pk(MachineGroup.objects, group_id,
                 missing=NotFound(f"Machine group {group_id} not found", error_code="GROUP_NOT_FOUND"))


def vm_context_lookup(identifier: str) -> VMContext:
    """A VM by context id, name, instance uuid or moref (the inventory's own lookup, 404 otherwise)."""
    return vm_context_get(identifier)


def vm_contexts_resolve(*, context_ids=(), vm_names=()) -> list[VMContext]:
    """The VMs named by context id and/or VM name, in the order given; 404 listing every unknown one."""
    context_ids, vm_names = list(dict.fromkeys(context_ids)), list(dict.fromkeys(vm_names))
    found = list(VMContext.objects.filter(Q(context_id__in=context_ids) | Q(vm_name__in=vm_names)))
    by_context = {vm.context_id: vm for vm in found}
    by_name = {vm.vm_name: vm for vm in found}
    missing = [c for c in context_ids if c not in by_context] + [n for n in vm_names if n not in by_name]
    if missing:
        raise NotFound(f"{len(missing)} VM(s) not found in the inventory: {', '.join(missing[:10])}"
                       + (" ..." if len(missing) > 10 else ""), details={"missing": missing},
                       error_code="VM_NOT_FOUND")
    ordered = [by_context[c] for c in context_ids] + [by_name[n] for n in vm_names]
    return list({vm.pk: vm for vm in ordered}.values())


def _apply(group: MachineGroup, data: dict) -> None:
    for name in GROUP_FIELDS:
        if name in data:
            setattr(group, name, data[name] if data[name] is not None or name != "description" else "")
    if "schedule_id" in data:
        group.schedule = schedule_get(data["schedule_id"]) if data["schedule_id"] is not None else None


@transaction.atomic
def group_create(*, data: dict, created_by: str = "") -> MachineGroup:
    """Create a machine group, optionally linked to a schedule (404 for an unknown one, 409 for a taken name)."""
    group = MachineGroup(created_by=created_by)
    _apply(group, data)
    save_named(group, "machine group")
    logger.info("machine group created id=%s name=%s schedule=%s", group.pk, group.name, group.schedule_id)
    return group


@transaction.atomic
def group_update(*, group: MachineGroup, data: dict) -> MachineGroup:
    """Rename, re-prioritise or move a group to another schedule; a run already going keeps its VM list."""
    group = MachineGroup.objects.select_for_update().get(pk=group.pk)
    _apply(group, data)
    save_named(group, "machine group")
    return group


@transaction.atomic
def group_delete(*, group: MachineGroup) -> None:
    """Delete a group; its VMs become ungrouped. 409 while a run still has VMs of it queued or syncing."""
    group = MachineGroup.objects.select_for_update().select_related("schedule").get(pk=group.pk)
    busy = list(ExecutionVM.objects.filter(group=group, status__in=OPEN_VM)
                .values_list("execution__execution_id", "execution__status").distinct())
    if group.schedule is not None:
        busy += list(group.schedule.executions.filter(status=ExecutionStatus.DEFERRED)
                     .values_list("execution_id", "status"))
    if busy:
        raise Conflict(f"Machine group '{group.name}' is in an active execution ({busy[0][0]}); cancel it or let it "
                       "finish before deleting the group", error_code="EXECUTION_ACTIVE",
                       details={"executions": [{"execution_id": e, "status": s} for e, s in dict(busy).items()]})
    name, count = group.name, group.memberships.count()
    group.delete()
    logger.info("machine group deleted name=%s ungrouped_vms=%s", name, count)


def _memberships(vm_contexts: list[VMContext]) -> dict[int, VMGroupMembership]:
    return {m.vm_context_id: m for m in VMGroupMembership.objects.select_for_update()
            .filter(vm_context_id__in=[vm.pk for vm in vm_contexts]).select_related("group")}


def _create_memberships(group: MachineGroup, vm_contexts: list[VMContext], assigned_by: str) -> None:
    try:
        with transaction.atomic():
            VMGroupMembership.objects.bulk_create(
                [VMGroupMembership(vm_context=vm, group=group, assigned_by=assigned_by) for vm in vm_contexts],
                batch_size=500)
    except IntegrityError as exc:
        # Another request grouped one of these VMs between our check and our insert.
        raise Conflict("A VM was assigned to a group by someone else meanwhile; retry", error_code="VM_ALREADY_GROUPED",
                       ) from exc


@transaction.atomic
def group_assign_vms(*, group: MachineGroup, vm_contexts: list[VMContext], assigned_by: str = "") -> AssignmentResult:
    """Add VMs to a group, all or nothing. VMs already in it are reported; VMs in another group are a 409."""
    group = MachineGroup.objects.select_for_update().get(pk=group.pk)
    existing = _memberships(vm_contexts)
    elsewhere = [m for m in existing.values() if m.group_id != group.pk]
    if elsewhere:
        raise Conflict(f"{len(elsewhere)} VM(s) already belong to another machine group (a VM is in at most one "
                       f"group): {', '.join(m.vm_context.vm_name for m in elsewhere[:10])}; move them with "
                       "POST /api/v1/vm-assignments/move", error_code="VM_ALREADY_GROUPED",
                       details={"vms": [{"context_id": m.vm_context.context_id, "vm_name": m.vm_context.vm_name,
                                         "group_id": m.group_id, "group_name": m.group.name} for m in elsewhere]})
    result = AssignmentResult(group=group)
    for vm in vm_contexts:
        (result.already_in_group if vm.pk in existing else result.assigned).append(vm)
    _create_memberships(group, result.assigned, assigned_by)
    logger.info("vms assigned group=%s assigned=%s already=%s by=%s", group.pk, len(result.assigned),
                len(result.already_in_group), assigned_by)
    return result


@transaction.atomic
def group_unassign_vm(*, group: MachineGroup, vm_context: VMContext) -> None:
    """Take a VM out of this group (it becomes ungrouped); 404 when it is not in this group."""
    deleted, _ = VMGroupMembership.objects.filter(group=group, vm_context=vm_context).delete()
    if not deleted:
        raise NotFound(f"VM '{vm_context.vm_name}' is not in machine group '{group.name}'",
                       error_code="ASSIGNMENT_NOT_FOUND")


@transaction.atomic
def vm_unassign(*, vm_context: VMContext) -> MachineGroup:
    """Take a VM out of whatever group holds it; 404 when it is ungrouped."""
    membership = VMGroupMembership.objects.select_for_update().filter(vm_context=vm_context).select_related("group").first()
    if membership is None:
        raise NotFound(f"VM '{vm_context.vm_name}' is not in any machine group", error_code="ASSIGNMENT_NOT_FOUND")
    membership.delete()
    return membership.group


@transaction.atomic
def vms_move(*, vm_contexts: list[VMContext], target_group: MachineGroup, moved_by: str = "") -> MoveResult:
    """Put VMs in `target_group` whatever group they are in now (ungrouped ones are simply assigned)."""
    target = MachineGroup.objects.select_for_update().get(pk=target_group.pk)
    existing = _memberships(vm_contexts)
    result = MoveResult(target=target)
    for vm in vm_contexts:
        membership = existing.get(vm.pk)
        if membership is None:
            result.assigned.append(vm)
        elif membership.group_id == target.pk:
            result.unchanged.append(vm)
        else:
            result.moved.append(MovedVM(vm, membership.group))
    if result.moved:
        VMGroupMembership.objects.filter(vm_context_id__in=[vm.pk for vm, _ in result.moved]).update(
            group=target, assigned_by=moved_by, updated_at=timezone.now())
    _create_memberships(target, result.assigned, moved_by)
    logger.info("vms moved target=%s moved=%s assigned=%s unchanged=%s by=%s", target.pk, len(result.moved),
                len(result.assigned), len(result.unchanged), moved_by)
    return result
