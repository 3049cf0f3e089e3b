"""Scheduler writes. Views, admin actions, tasks and signal receivers call only these."""
from ..jobs import queue_advance
from .advance import execution_advance
from .executions import execution_cancel, execution_get, execution_resume_deferred, execution_start
from .groups import (
    group_assign_vms,
    group_create,
    group_delete,
    group_get,
    group_unassign_vm,
    group_update,
    vm_context_lookup,
    vm_contexts_resolve,
    vm_unassign,
    vms_move,
)
from .housekeeping import execution_prune, execution_sweep
from .schedules import (
    schedule_create,
    schedule_delete,
    schedule_get,
    schedule_set_enabled,
    schedule_update,
)

__all__ = [
    "execution_advance",
    "execution_cancel",
    "execution_get",
    "execution_prune",
    "execution_resume_deferred",
    "execution_start",
    "execution_sweep",
    "group_assign_vms",
    "group_create",
    "group_delete",
    "group_get",
    "group_unassign_vm",
    "group_update",
    "queue_advance",
    "schedule_create",
    "schedule_delete",
    "schedule_get",
    "schedule_set_enabled",
    "schedule_update",
    "vm_context_lookup",
    "vm_contexts_resolve",
    "vm_unassign",
    "vms_move",
]
