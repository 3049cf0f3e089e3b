"""Schedules, machine groups, VM assignments and executions (seed 000 "Scheduler Ecosystem",
"Machine Groups and VM Assignments")."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api.schemas import errors
from apps.core.api.serializers import answer
from apps.core.api.validation import checked
from apps.core.exceptions import NotFound

from .. import selectors, services
from ..choices import ExecutionStatus, ExecutionTrigger
from ..filtersets import (
    AssignmentFilterSet,
    ExecutionFilterSet,
    ExecutionVMFilterSet,
    GroupVMFilterSet,
    MachineGroupFilterSet,
    ScheduleFilterSet,
)
from .serializers import (
    AssignedSerializer,
    AssignmentSerializer,
    AssignSerializer,
    CancelExecutionSerializer,
    EnableSerializer,
    ExecutionAnswerSerializer,
    ExecutionSerializer,
    ExecutionVMSerializer,
    GroupVMSerializer,
    MachineGroupInputSerializer,
    MachineGroupSerializer,
    MovedSerializer,
    MoveSerializer,
    ScheduleEnabledSerializer,
    ScheduleInputSerializer,
    ScheduleSerializer,
    TriggerSerializer,
    UnassignedSerializer,
    VMSelectionSerializer,
)


def validated(serializer_class, request, *, partial: bool = False) -> dict:
    """The body checked by `serializer_class` (a non-object body is a 400 from the serializer itself)."""
    data = checked(serializer_class, request.data, partial=partial)
    if partial:
        # partial=True keeps defaults out, so only the fields the caller gave change.
        return {k: v for k, v in data.items() if k in request.data}
    return data


class CrudServices(NamedTuple):
    """The services a ServiceCrudViewSet runs, and the keyword its update and delete services take the row by."""

    row: str
    fetch: Callable
    create: Callable
    update: Callable
    delete: Callable


def _answer(serializer_class, instance, message: str, code: int = status.HTTP_200_OK) -> Response:
    return Response(answer(serializer_class, instance, message), status=code)


class SchedulerViewSet(viewsets.GenericViewSet):
    """Viewers read, operators (and admins) change; the appliance agent has no business here."""

    read_roles = ("viewer",)
    write_roles = ("operator",)

    def paginated(self, queryset, serializer_class, filterset_class=None):
        if filterset_class is not None:
            filterset = filterset_class(self.request.query_params, queryset=queryset, request=self.request)
            if not filterset.is_valid():
                raise ValidationError(filterset.errors)
            queryset = filterset.qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


# Create, read, change (PUT is partial) and delete through the app's services, which a subclass names in its class
# line next to its declarative queryset (the selector), serializer_class, input_serializer_class and filterset_class:
#     class ScheduleViewSet(ServiceCrudViewSet, row="schedule", fetch=services.schedule_get,
#                           create=services.schedule_create, update=services.schedule_update,
#                           delete=services.schedule_delete)
# `fetch(pk)` finds the row (404 in the app's words); `create(data=, created_by=)` makes one; `update` and `delete`
# take the row by the keyword `row`. An answer re-reads the row through get_queryset(), so its counts are the
# selector's. (A comment: the schema would show a docstring on every operation.)
class ServiceCrudViewSet(SchedulerViewSet, mixins.ListModelMixin):
    input_serializer_class: type
    crud: CrudServices  # set from the class line

    def __init_subclass__(cls, row: str = "", fetch=None, create=None, update=None, delete=None, **kwargs):
        super().__init_subclass__(**kwargs)
        given = {"fetch": fetch, "create": create, "update": update, "delete": delete}
        # Services given in part would be silently ignored or fail on a request: refuse them at class creation.
        if (row or any(given.values())) and not (row and all(given.values())):
            missing = ", ".join(f"{k}=" for k, v in {"row": row, **given}.items() if not v)
            raise TypeError(f"{cls.__name__}: a ServiceCrudViewSet's class line names row=, fetch=, create=, update= "
                            f"and delete= together; missing {missing}")
        if row:
            cls.crud = CrudServices(row=row, fetch=fetch, create=create, update=update, delete=delete)

    def get_object(self):
        return self.crud.fetch(self.kwargs["pk"])

    def _render(self, instance, code=status.HTTP_200_OK):
        return Response(self.serializer_class(self.get_queryset().get(pk=instance.pk)).data, status=code)

    def create(self, request):
        data = validated(self.input_serializer_class, request)
        return self._render(self.crud.create(data=data, created_by=request.user.username), status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return self._render(self.get_object())

    def update(self, request, pk=None):
        instance = self.get_object()
        data = validated(self.input_serializer_class, request, partial=True)
        return self._render(self.crud.update(**{self.crud.row: instance}, data=data))

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk)

    def destroy(self, request, pk=None):
        self.crud.delete(**{self.crud.row: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)


def crud_schema(tag: str, **summaries: str):
    """The schema of a ServiceCrudViewSet's operations under `tag`, with a summary for those that need one
    (create, update, destroy)."""
    def decorate(view):
        def operation(name, **kwargs):
            summary = {"summary": summaries[name]} if name in summaries else {}
            return extend_schema(tags=[tag], **summary, **kwargs)
        output, body = view.serializer_class, view.input_serializer_class
        return extend_schema_view(
            create=operation("create", request=body, responses={201: output, **errors(409)}),
            retrieve=operation("retrieve", responses={200: output}),
            update=operation("update", request=body, responses={200: output, **errors(409)}),
            partial_update=operation("partial_update", request=body, responses={200: output, **errors(409)}),
            destroy=operation("destroy", responses={204: None, **errors(409)}),
        )(view)
    return decorate


@crud_schema("schedules", create="Create a schedule (cron or interval) and its Celery beat entry",
             update="Change any fields of a schedule (PUT is partial); beat follows without a restart",
             destroy="Delete a schedule (409 while a run is active or groups use it)")
class ScheduleViewSet(ServiceCrudViewSet, row="schedule", fetch=services.schedule_get, create=services.schedule_create,
                      update=services.schedule_update, delete=services.schedule_delete):
    queryset = selectors.schedules()
    serializer_class = ScheduleSerializer
    input_serializer_class = ScheduleInputSerializer
    filterset_class = ScheduleFilterSet

    @extend_schema(request=EnableSerializer, responses={200: ScheduleEnabledSerializer, **errors(400, 404)}, tags=["schedules"],
                   summary="Enable or disable a schedule: {\"enabled\": true|false} (default true)")
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        schedule = self.get_object()
        enabled = validated(EnableSerializer, request)["enabled"]
        schedule = services.schedule_set_enabled(schedule=schedule, enabled=enabled, changed_by=request.user.username)
        return _answer(ScheduleEnabledSerializer, selectors.schedules().get(pk=schedule.pk),
                       f"Schedule '{schedule.name}' {'enabled' if enabled else 'disabled'}")

    @extend_schema(request=TriggerSerializer, responses={202: ExecutionAnswerSerializer, **errors(400, 404, 409)},
                   tags=["schedules"],
                   summary="Run a schedule now (deferred when outside its window unless ignore_window)")
    @action(detail=True, methods=["post"])
    def trigger(self, request, pk=None):
        schedule = self.get_object()
        options = validated(TriggerSerializer, request)
        execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL,
                                             triggered_by=request.user.username,
                                             ignore_window=options["ignore_window"])
        message = (f"Execution {execution.execution_id} deferred until the sync window opens"
                   if execution.status == ExecutionStatus.DEFERRED else
                   f"Execution {execution.execution_id} started: {execution.vms_running} sync(s) running, "
                   f"{execution.vms_queued} queued, {execution.vms_skipped} skipped")
        return _answer(ExecutionAnswerSerializer, execution, message, status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: ExecutionSerializer(many=True)}, tags=["schedules"],
                   summary="Runs of this schedule, newest first")
    @action(detail=True, methods=["get"])
    def executions(self, request, pk=None):
        schedule = self.get_object()
        return self.paginated(selectors.executions().filter(schedule=schedule), ExecutionSerializer,
                              ExecutionFilterSet)


class ExecutionViewSet(SchedulerViewSet, mixins.ListModelMixin):
    serializer_class = ExecutionSerializer
    filterset_class = ExecutionFilterSet
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return selectors.executions()

    def get_object(self):
        return services.execution_get(self.kwargs["pk"])

    @extend_schema(responses={200: ExecutionSerializer}, tags=["schedules"])
    def retrieve(self, request, pk=None):
        return Response(ExecutionSerializer(self.get_object()).data)

    @extend_schema(responses={200: ExecutionVMSerializer(many=True)}, tags=["schedules"],
                   summary="The VMs of a run: status, why skipped or failed, and the replication job each started")
    @action(detail=True, methods=["get"])
    def vms(self, request, pk=None):
        execution = self.get_object()
        return self.paginated(selectors.execution_vms(execution), ExecutionVMSerializer, ExecutionVMFilterSet)

    @extend_schema(request=CancelExecutionSerializer,
                   responses={200: ExecutionAnswerSerializer, **errors(400, 404, 409)}, tags=["schedules"],
                   summary="Cancel a run: queued VMs never start; running syncs end unless cancel_running")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = self.get_object()
        options = validated(CancelExecutionSerializer, request)
        execution = services.execution_cancel(execution=execution, cancelled_by=request.user.username,
                                              cancel_running=options["cancel_running"])
        return _answer(ExecutionAnswerSerializer, execution, f"Execution {execution.execution_id} cancelled")


@crud_schema("machine-groups", update="Change a group (PUT is partial); schedule_id null unlinks it",
             destroy="Delete a group; its VMs become ungrouped (409 while a run syncs it)")
class MachineGroupViewSet(ServiceCrudViewSet, row="group", fetch=services.group_get, create=services.group_create,
                          update=services.group_update, delete=services.group_delete):
    queryset = selectors.machine_groups()
    serializer_class = MachineGroupSerializer
    input_serializer_class = MachineGroupInputSerializer
    filterset_class = MachineGroupFilterSet

    @extend_schema(methods=["get"], responses={200: GroupVMSerializer(many=True)}, tags=["machine-groups"],
                   summary="The group's VMs")
    @extend_schema(methods=["post"], request=VMSelectionSerializer,
                   responses={200: AssignedSerializer, **errors(400, 404, 409)},
                   tags=["machine-groups"], summary="Assign VMs to the group (409 if one is in another group)")
    @action(detail=True, methods=["get", "post"])
    def vms(self, request, pk=None):
        group = self.get_object()
        if request.method == "GET":
            return self.paginated(selectors.group_vms(group), GroupVMSerializer, GroupVMFilterSet)
        data = validated(VMSelectionSerializer, request)
        vms = services.vm_contexts_resolve(context_ids=data["vm_context_ids"], vm_names=data["vm_names"])
        result = services.group_assign_vms(group=group, vm_contexts=vms, assigned_by=request.user.username)
        return _assigned(result)

    @extend_schema(responses={200: UnassignedSerializer, **errors(404, 409)}, tags=["machine-groups"],
                   summary="Take a VM (context id or name) out")
    @action(detail=True, methods=["delete"], url_path=r"vms/(?P<vm>[^/]+)")
    def remove_vm(self, request, pk=None, vm=None):
        group = self.get_object()
        vm_context = services.vm_context_lookup(vm)
        services.group_unassign_vm(group=group, vm_context=vm_context)
        return _unassigned(group, vm_context)


def _assigned(result) -> Response:
    return _answer(AssignedSerializer, result, f"{len(result.assigned)} VM(s) assigned to '{result.group.name}', "
                                               f"{len(result.already_in_group)} already in it")


def _unassigned(group, vm_context) -> Response:
    return _answer(UnassignedSerializer, {"group": group, "vm": vm_context},
                   f"VM '{vm_context.vm_name}' removed from group '{group.name}'")


class VMAssignmentViewSet(SchedulerViewSet, mixins.ListModelMixin):
    """Assignments seen from the VM side: list, assign, unassign, move between groups."""

    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilterSet
    lookup_field = "vm"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):
        return selectors.assignments()

    @extend_schema(request=AssignSerializer, responses={200: AssignedSerializer, **errors(400, 404, 409)},
                   tags=["machine-groups"],
                   summary="Assign VMs to a group: {group_id, vm_context_ids|vm_names}")
    def create(self, request):
        data = validated(AssignSerializer, request)
        group = services.group_get(data["group_id"])
        vms = services.vm_contexts_resolve(context_ids=data["vm_context_ids"], vm_names=data["vm_names"])
        return _assigned(services.group_assign_vms(group=group, vm_contexts=vms, assigned_by=request.user.username))

    @extend_schema(responses={200: AssignmentSerializer}, tags=["machine-groups"], summary="A VM's group")
    def retrieve(self, request, vm=None):
        vm_context = services.vm_context_lookup(vm)
        membership = selectors.assignments().filter(vm_context=vm_context).first()
        if membership is None:
            raise NotFound(f"VM '{vm_context.vm_name}' is not in any machine group", error_code="ASSIGNMENT_NOT_FOUND")
        return Response(AssignmentSerializer(membership).data)

    @extend_schema(responses={200: UnassignedSerializer, **errors(404, 409)}, tags=["machine-groups"],
                   summary="Take a VM out of its group")
    def destroy(self, request, vm=None):
        vm_context = services.vm_context_lookup(vm)
        group = services.vm_unassign(vm_context=vm_context)
        return _unassigned(group, vm_context)

    @extend_schema(request=MoveSerializer, responses={200: MovedSerializer, **errors(400, 404, 409)}, tags=["machine-groups"],
                   summary="Move VMs to another group: {target_group_id, vm_context_ids|vm_names}")
    @action(detail=False, methods=["post"])
    def move(self, request):
        data = validated(MoveSerializer, request)
        target = services.group_get(data["target_group_id"])
        vms = services.vm_contexts_resolve(context_ids=data["vm_context_ids"], vm_names=data["vm_names"])
        result = services.vms_move(vm_contexts=vms, target_group=target, moved_by=request.user.username)
        return _answer(MovedSerializer, result,
                       f"{len(result.moved)} VM(s) moved to '{target.name}', {len(result.assigned)} were ungrouped, "
                       f"{len(result.unchanged)} already there")
