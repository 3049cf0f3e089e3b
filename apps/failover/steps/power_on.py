"""Step `powering_on`: startVirtualMachine; the failover VM boots from the replicated root disk.

It writes no row: the VM's power state is CloudStack's. Its undo stops the VM if it runs (forced where the
CloudStack key may force a stop), so the replica volumes can come off it next.
"""
from __future__ import annotations

from ..choices import FailoverStatus
from ..jobs import Outcome, event
from ..models import FailoverJob
from .base import Context, Step

RUNNING = ("Running", "Starting", "Stopping")  # CloudStack VM states that must be stopped before a teardown


class PowerOn(Step):
    name = "power_on"
    status = FailoverStatus.POWERING_ON
    requires = ("destination_vm_id", "FailoverVolume.vm_device_id")
    records = ()
    in_cloudstack = True
    undoes = "stops the VM if it runs (forced where the key may)"

    def current_step(self, ctx: Context) -> str:
        return f"Starting VM {ctx.job.destination_vm_id}"

    def recorded(self, job: FailoverJob) -> bool:
        return bool(job.destination_vm_id)

    def run(self, ctx: Context) -> None:
        job, client = ctx.job, ctx.cloudstack()
        if ctx.again and client.get_vm(job.destination_vm_id).get("state") == "Running":
            return  # started by an earlier run (CloudStack refuses to start a running VM)
        vm = client.start_virtual_machine(job.destination_vm_id)
        event(job, "power_on", f"VM {job.destination_vm_id} is {vm.get('state', 'Running')}")

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        vm = ctx.failover_vm(outcome)
        if vm is None or ctx.vm_gone or vm.get("state") not in RUNNING:
            return
        with ctx.tearing_down(outcome, vm["id"]):
            ctx.cloudstack().stop_for_teardown(vm["id"])
            outcome.did(f"stopped VM {vm['id']}")
