"""A wave's bookkeeping: its events, status changes and the queueing of its next advance.

The services, the engine, the receivers and the tasks import this module, and it imports none of them.
"""
from __future__ import annotations

from celery import current_app
from django.db import transaction

from apps.core.jobs import record_event, transition

from .choices import TRANSITIONS
from .models import Wave, WaveVM

JOB_KIND = "wave"
QUEUE = "scheduler"  # the scheduler's queue: every worker setup already consumes it
ADVANCE_TASK = "apps.waves.tasks.advance_wave"
START_VM_TASK = "apps.waves.tasks.start_wave_vm"
POST_HOOKS_TASK = "apps.waves.tasks.run_post_hooks"
REQUESTED_BY_PREFIX = "wave-vm:"  # a failover job started by a wave names its wave VM in requested_by


def event(wave: Wave, step: str, message: str, *, level: str = "info", **data) -> None:
    record_event(JOB_KIND, str(wave.pk), step, message, level=level, **data)


def set_status(wave: Wave, status: str, **updates) -> Wave:
    return transition(wave, status, transitions=TRANSITIONS, **updates)


def queue(task: str, *args) -> None:
    """Send `task` once the current transaction commits (robust: the sweep catches up after a broker hiccup)."""
    # By name: the task module runs the engine, which imports this module. Resolved through the app's registry when
    # it has the task, so an eager app (tests, CELERY_TASK_ALWAYS_EAGER) runs it instead of sending it by name.
    registered = current_app.tasks.get(task)
    signature = (registered.signature(args=list(args), queue=QUEUE) if registered is not None
                 else current_app.signature(task, args=list(args), queue=QUEUE))
    transaction.on_commit(signature.apply_async, robust=True)


def requested_by(vm: WaveVM) -> str:
    return f"{REQUESTED_BY_PREFIX}{vm.pk} wave:{vm.wave.name}"[:150]


def wave_vm_id_of(requested: str) -> int | None:
    """The wave VM a failover job was started for, from its requested_by; None for any other job."""
    if not requested.startswith(REQUESTED_BY_PREFIX):
        return None
    head = requested[len(REQUESTED_BY_PREFIX):].split(" ", 1)[0]
    return int(head) if head.isdigit() else None
