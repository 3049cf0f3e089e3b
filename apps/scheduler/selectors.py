"""Scheduler reads worth a name; list querysets carry their counts so pages stay constant in queries."""
from __future__ import annotations

from django.db.models import Count, F, OuterRef, Prefetch, QuerySet, Subquery

from apps.inventory.models import VMContext
from apps.replication.choices import ACTIVE as ACTIVE_JOB
from apps.replication.models import ReplicationJob

from .choices import ExecutionStatus, ExecutionVMStatus
from .models import (
    ExecutionVM,
    MachineGroup,
    ScheduleExecution,
    SyncSchedule,
    VMGroupMembership,
)


def _active_job_id(vm_ref: str = "pk") -> Subquery:
    return Subquery(ReplicationJob.objects.filter(vm_context=OuterRef(vm_ref), status__in=ACTIVE_JOB)
                    .values("job_id")[:1])


def schedules() -> QuerySet[SyncSchedule]:
    active = ScheduleExecution.objects.filter(schedule=OuterRef("pk"), status__in=[ExecutionStatus.DEFERRED,
                                                                                   ExecutionStatus.RUNNING])
    return (SyncSchedule.objects
            .select_related("periodic_task", "periodic_task__crontab", "periodic_task__interval")
            .prefetch_related(Prefetch("groups", queryset=MachineGroup.objects.order_by("priority", "name")))
            .annotate(group_count=Count("groups", distinct=True),
                      vm_count=Count("groups__memberships", distinct=True),
                      active_execution_id=Subquery(active.values("execution_id")[:1])))


def machine_groups() -> QuerySet[MachineGroup]:
    return MachineGroup.objects.select_related("schedule").annotate(vm_count=Count("memberships"))


def group_vms(group: MachineGroup) -> QuerySet[VMContext]:
    return (VMContext.objects.filter(group_membership__group=group)
            .annotate(assigned_at=F("group_membership__created_at"), assigned_by=F("group_membership__assigned_by"),
                      active_job_id=_active_job_id())
            .order_by("vm_name"))


def assignments() -> QuerySet[VMGroupMembership]:
    return (VMGroupMembership.objects.select_related("vm_context", "group", "group__schedule")
            .order_by("group__priority", "group__name", "vm_context__vm_name"))


def executions() -> QuerySet[ScheduleExecution]:
    return ScheduleExecution.objects.all()


def execution_vms(execution: ScheduleExecution) -> QuerySet[ExecutionVM]:
    return execution.vms.select_related("replication_job", "vm_context").order_by("position")


def runs_waiting_for_vm(vm_context_id: int) -> list[int]:
    """Runs holding this VM queued (the 'wait' policy keeps it there while another sync of it goes on)."""
    return list(ExecutionVM.objects.filter(vm_context_id=vm_context_id, status=ExecutionVMStatus.QUEUED,
                                           execution__status=ExecutionStatus.RUNNING)
                .values_list("execution_id", flat=True).distinct())
