"""A wave VM's failover passed a step: queue its after-power-off / after-boot hooks, and the wave's next advance."""
from __future__ import annotations

import logging

from django.dispatch import receiver

from apps.failover.choices import FailoverType
from apps.failover.jobs import step_done

from . import jobs
from .choices import HookStage
from .models import WaveVM

logger = logging.getLogger(__name__)
STAGE_AFTER = {"power_off_source": HookStage.AFTER_POWER_OFF, "power_on": HookStage.AFTER_BOOT}


@receiver(step_done, dispatch_uid="waves.after_failover_step")
def after_failover_step(sender, job, step, **kwargs) -> None:
    vm_id = jobs.wave_vm_id_of(job.requested_by or "")
    if vm_id is None:
        return
    vm = WaveVM.objects.filter(pk=vm_id).values("wave_id", "test_first", "test_job_id").first()
    if vm is None:
        return
    stage = STAGE_AFTER.get(step)
    if stage == HookStage.AFTER_POWER_OFF and job.source_powered_off_at is None:
        stage = None  # the source was not powered off by this failover (option off)
    if stage is not None and not (job.job_type == FailoverType.TEST and vm["test_first"]):
        # a test-first VM's test run has no hooks: they belong to its cutover
        jobs.queue(jobs.POST_HOOKS_TASK, vm_id, stage, job.job_id)
    if step == "finish":
        jobs.queue(jobs.ADVANCE_TASK, vm["wave_id"])
