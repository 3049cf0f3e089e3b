"""Step `creating_vm`: deployVirtualMachine, stopped, from the plan (offering, template, networks with the MACs and
addresses kept, boot type and mode, KVM details, name), then updateVirtualMachine with the mapped OS type.

The VM's name is recorded before the call and its id as soon as CloudStack gives one (even a half-made VM in state
Error), so the undo finds it. The undo destroys (expunges) the VM, after the later steps' undos stopped it and took
the replica volumes off it (destroying a CloudStack VM deletes its ROOT volume), then deletes the template's root
disk if the root swap left it behind.
"""
from __future__ import annotations

from apps.settings import cloudstack as cs
from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from ..choices import FailoverStatus, FailoverType
from ..jobs import Outcome, event
from ..models import FailoverJob
from .base import Context, Step, mark_resource


def _record_vm(job: FailoverJob, vm_id: str) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(destination_vm_id=vm_id)
    job.destination_vm_id = vm_id
    volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.VM, resource_id=vm_id,
                   name=job.destination_vm_name,
                   replica_volumes=list(job.volumes.values_list("volume_id", flat=True)),
                   warning="its root disk is a replica volume: detach the replicas before destroying it")


def create_vm(job: FailoverJob, client: cs.CloudStackClient, plan: dict) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(destination_vm_name=plan["vm_name"])
    job.destination_vm_name = plan["vm_name"]
    compute, boot = plan["compute"], plan.get("boot") or {}
    nics = [cs.DeployNic(nic["network_id"], ip=nic.get("ip"), mac=nic.get("mac")) for nic in plan.get("nics", [])]
    try:
        vm = client.deploy_virtual_machine(
            zone_id=plan["zone_id"], service_offering_id=compute["service_offering_id"],
            template_id=plan["template"]["id"], network_ids=plan["network_ids"], nics=nics, name=plan["vm_name"],
            display_name=plan["display_name"], start=False, cpu_number=compute["cpu_number"],
            memory_mb=compute["memory_mb"], cpu_speed=compute.get("cpu_speed"), boot_type=boot.get("boot_type"),
            boot_mode=boot.get("boot_mode"), details=plan.get("details"))
    except (cs.CloudStackJobError, cs.CloudStackJobTimeoutError) as exc:
        if exc.resource_id:  # the half-made VM (state Error) is destroyed by rollback
            _record_vm(job, exc.resource_id)
        raise
    _record_vm(job, vm["id"])
    os_type = plan.get("os_type") or {}
    if os_type.get("id"):  # deployVirtualMachine takes no OS type: the template's is replaced before the first start
        client.update_virtual_machine(vm["id"], os_type_id=os_type["id"])
    event(job, "create_vm", f"created VM {vm['id']} ('{plan['vm_name']}'), stopped", vm_id=vm["id"],
          macs=[nic["macaddress"] for nic in vm.get("nic", [])], boot_type=boot.get("boot_type"),
          os_type=os_type.get("description"))


def _delete_template_roots(job: FailoverJob, client: cs.CloudStackClient, out: Outcome) -> Outcome:
    """The template's root disk swapped out of the VM, if its deletion did not happen."""
    for res in CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.VOLUME,
                                            state=CloudResourceState.CREATED):
        try:
            client.delete_volume(res.resource_id)
            out.did(f"deleted the template's root volume {res.resource_id}")
        except cs.CloudStackNotFoundError:
            pass  # it went with the VM
        except cs.CloudStackError as exc:
            out.failed(f"could not delete the template's root volume {res.resource_id}: {exc}")
            continue
        res.state = CloudResourceState.REMOVED
        res.save(update_fields=["state", "updated_at"])
    return out


class CreateVm(Step):
    name = "create_vm"
    status = FailoverStatus.CREATING_VM
    requires = ("plan", "FailoverVolume")
    records = ("destination_vm_name", "destination_vm_id", "CloudResource.vm")
    in_cloudstack = True
    undoes = "destroys (expunges) the VM, deletes the template's root disk if the root swap left it"

    def current_step(self, ctx: Context) -> str:
        return f"Creating VM '{ctx.job.plan['vm_name']}'"

    def recorded(self, job: FailoverJob) -> bool:
        return bool(job.destination_vm_id or (job.destination_vm_name and job.job_type == FailoverType.TEST))

    def run(self, ctx: Context) -> None:
        if ctx.job.destination_vm_id:
            return  # created by an earlier run
        create_vm(ctx.job, ctx.cloudstack(), ctx.job.plan)

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        job = ctx.job
        vm = ctx.failover_vm(outcome)
        if vm is None:
            if job.destination_vm_id:
                outcome.did(f"VM {job.destination_vm_id} already gone")
                mark_resource(job, CloudResourceKind.VM, job.destination_vm_id, CloudResourceState.REMOVED)
            _delete_template_roots(job, ctx.cloudstack(), outcome)
            return
        if not ctx.vm_gone:
            with ctx.tearing_down(outcome, vm["id"]):
                ctx.cloudstack().destroy_virtual_machine(vm["id"], expunge=True)
                outcome.did(f"destroyed VM {vm['id']}")
            if not outcome.complete:
                return
        mark_resource(job, CloudResourceKind.VM, vm["id"], CloudResourceState.REMOVED)
        _delete_template_roots(job, ctx.cloudstack(), outcome)
