"""The steps of a failover, one module each, and the tables the conductor runs them from.

    step              status             requires                              records
    power_off_source  (pending)          the request                           source_power_* fields, VM power state
    final_sync        (pending)          the request                           final_sync_job_id, final_sync_started_at
    validate          validating         the request                           validation_result, plan, FailoverVolume
    snapshot          snapshotting       FailoverVolume                        volume place/export/snapshot, snapshots
    convert           (snapshotting)     volume snapshot state and place       conversion, volume place
    create_vm         creating_vm        plan, FailoverVolume                  destination_vm_name/_id, CloudResource vm
    switch_volumes    switching_volume   destination_vm_id, volume place       volume place/device, template root
    power_on          powering_on        destination_vm_id, volume device      (nothing: the VM's state is CloudStack's)
    verify_boot       (powering_on)      destination_vm_id                     boot_verification
    finish            (sets completed)   destination_vm_id, snapshot state     completed_at, cleanup_due_at, ...

A test failover runs RUN_STEPS; a live one runs LIVE_STEPS (the prelude first, while the job is still pending).
The rollback walks a job's table backwards and calls each step's undo (docs/architecture.md, "Failover steps").
"""
from __future__ import annotations

from ..choices import FailoverType
from ..models import FailoverJob
from .base import WAIT, Context, Step
from .convert import Convert
from .create_vm import CreateVm
from .final_sync import FinalSync
from .finish import Finish
from .power_off_source import PowerOffSource
from .power_on import PowerOn
from .snapshot import Snapshot
from .switch_volumes import SwitchVolumes
from .validate import Validate
from .verify_boot import VerifyBoot

POWER_OFF_SOURCE = PowerOffSource()
FINAL_SYNC = FinalSync()
VALIDATE = Validate()
SNAPSHOT = Snapshot()
CONVERT = Convert()
CREATE_VM = CreateVm()
SWITCH_VOLUMES = SwitchVolumes()
POWER_ON = PowerOn()
VERIFY_BOOT = VerifyBoot()
FINISH = Finish()

# A live failover's prelude runs while the job is pending: it may wait for the final sync.
PRELUDE = (POWER_OFF_SOURCE, FINAL_SYNC)
# The steps that build the failover VM: ending a test undoes these first, then SNAPSHOT.
VM_STEPS = (CREATE_VM, SWITCH_VOLUMES, POWER_ON)
RUN_STEPS = (VALIDATE, SNAPSHOT, CONVERT, *VM_STEPS, VERIFY_BOOT, FINISH)
TEST_STEPS = RUN_STEPS
LIVE_STEPS = (*PRELUDE, *RUN_STEPS)

# What the job row holds before any step runs: the request (a step may require these).
JOB_INPUTS = ("vm_context", "ossea_config", "job_type", "skip_validation", "network_overrides", "custom_config",
              "power_off_source", "final_sync", "shutdown_timeout_seconds", "test_duration_seconds", "auto_cleanup")


def steps_for(job: FailoverJob) -> tuple[Step, ...]:
    return LIVE_STEPS if job.job_type == FailoverType.LIVE else TEST_STEPS


__all__ = ["CONVERT", "CREATE_VM", "FINAL_SYNC", "FINISH", "JOB_INPUTS", "LIVE_STEPS", "POWER_OFF_SOURCE", "POWER_ON",
           "PRELUDE", "RUN_STEPS", "SNAPSHOT", "SWITCH_VOLUMES", "TEST_STEPS", "VALIDATE", "VERIFY_BOOT", "VM_STEPS",
           "WAIT", "Context", "Step", "steps_for"]
