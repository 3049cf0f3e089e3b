"""Step `creating_vm`: deployVirtualMachine, stopped, from the plan (offering, template, networks with the MACs and
addresses kept, boot type and mode, KVM details, name), then updateVirtualMachine with the mapped OS type.

Write-ahead: the VM's name is recorded before the call, and its id and CloudStack's async job id as soon as the
submit answers, before the job is waited on; so whatever happens to the wait (CloudStack unreachable, the worker
killed), a re-run waits for that job and a rollback finds the VM by its id. The undo destroys the VM (expunged where
the CloudStack key may, else left to CloudStack's expunge delay and recorded so), after the later steps' undos stopped
it and took the replica volumes off it (destroying a CloudStack VM deletes its ROOT volume), then deletes the
template's root disk if the root swap left it behind.
"""
from __future__ import annotations

from django.db import transaction

from apps.settings import cloudstack as cs
from apps.settings import volumes
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource

from ..choices import FailoverStatus
from ..jobs import Outcome, event
from ..models import FailoverJob
from .base import Context, Step, mark_resource, vm_is_gone


def _record_vm(job: FailoverJob, vm_id: str, cloudstack_job_id: str = "") -> None:
    # One transaction: a crash between the two writes must not leave an id without its resource record.
    with transaction.atomic():
        volumes.record(config=job.ossea_config, owner=job.job_id, kind=CloudResourceKind.VM, resource_id=vm_id,
                       name=job.destination_vm_name, cloudstack_job_id=cloudstack_job_id,
                       replica_volumes=list(job.volumes.values_list("volume_id", flat=True)),
                       warning="its root disk is a replica volume: detach the replicas before destroying it")
        FailoverJob.objects.filter(pk=job.pk).update(destination_vm_id=vm_id)
    job.destination_vm_id = vm_id


def create_vm(job: FailoverJob, client: cs.CloudStackClient, plan: dict) -> None:
    FailoverJob.objects.filter(pk=job.pk).update(destination_vm_name=plan["vm_name"])
    job.destination_vm_name = plan["vm_name"]
    compute, boot = plan["compute"], plan.get("boot") or {}
    nics = [cs.DeployNic(nic["network_id"], ip=nic.get("ip"), mac=nic.get("mac")) for nic in plan.get("nics", [])]

    def submitted(jobid: str, vm_id: str | None) -> None:
        if vm_id:
            _record_vm(job, vm_id, jobid)
            event(job, "create_vm", f"deploying VM {vm_id} ('{plan['vm_name']}'), CloudStack job {jobid}",
                  vm_id=vm_id, cloudstack_job_id=jobid)

    vm = client.deploy_virtual_machine(
        zone_id=plan["zone_id"], service_offering_id=compute["service_offering_id"],
        template_id=plan["template"]["id"], network_ids=plan["network_ids"], nics=nics, name=plan["vm_name"],
        display_name=plan["display_name"], start=False, cpu_number=compute["cpu_number"],
        memory_mb=compute["memory_mb"], cpu_speed=compute.get("cpu_speed"), boot_type=boot.get("boot_type"),
        boot_mode=boot.get("boot_mode"), details=plan.get("details"), on_submitted=submitted)
    if not job.destination_vm_id:  # a CloudStack that answered the submit without the new id
        _record_vm(job, vm["id"])
    os_type = plan.get("os_type") or {}
    if os_type.get("id"):  # deployVirtualMachine takes no OS type: the template's is replaced before the first start
        client.update_virtual_machine(vm["id"], os_type_id=os_type["id"])
    event(job, "create_vm", f"created VM {vm['id']} ('{plan['vm_name']}'), stopped", vm_id=vm["id"],
          macs=[nic["macaddress"] for nic in vm.get("nic", [])], boot_type=boot.get("boot_type"),
          os_type=os_type.get("description"))


def _vm_record(job: FailoverJob) -> CloudResource | None:
    return CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.VM,
                                        resource_id=job.destination_vm_id).order_by("-id").first()


def _delete_template_roots(job: FailoverJob, client: cs.CloudStackClient, out: Outcome) -> Outcome:
    """The template's root disk swapped out of the VM, if its deletion did not happen (gone: found by listing)."""
    for res in CloudResource.objects.filter(owner=job.job_id, kind=CloudResourceKind.VOLUME,
                                            state=CloudResourceState.CREATED):
        try:
            line = volumes.remove(res, client)
        except cs.CloudStackError as exc:
            out.failed(f"could not delete the template's root volume {res.resource_id}: {exc}")
            continue
        out.did(line.replace("volume", "the template's root volume", 1))
    return out


class CreateVm(Step):
    name = "create_vm"
    status = FailoverStatus.CREATING_VM
    requires = ("plan", "FailoverVolume")
    records = ("destination_vm_name", "destination_vm_id", "CloudResource.vm (with its async job id)")
    in_cloudstack = True
    undoes = ("destroys the VM (expunged where the key may, else left to CloudStack's expunge delay), deletes the "
              "template's root disk if the root swap left it")

    def current_step(self, ctx: Context) -> str:
        return f"Creating VM '{ctx.job.plan['vm_name']}'"

    def recorded(self, job: FailoverJob) -> bool:
        return bool(job.destination_vm_id or job.destination_vm_name)

    def run(self, ctx: Context) -> None:
        job = ctx.job
        if job.destination_vm_id:
            # Submitted by an earlier run: wait for that deploy (at once if it ended) instead of deploying twice.
            res = _vm_record(job)
            if res is not None and res.cloudstack_job_id:
                ctx.cloudstack().wait_for_job(res.cloudstack_job_id, command="deployVirtualMachine",
                                              resource_id=job.destination_vm_id)
            return
        create_vm(job, ctx.cloudstack(), job.plan)

    def undo(self, ctx: Context, outcome: Outcome) -> None:
        job = ctx.job
        vm = ctx.failover_vm(outcome)
        if not outcome.complete:
            return  # the lookup failed: nothing is known, nothing may be claimed
        if vm_is_gone(vm) or ctx.vm_gone:
            if vm is not None and not ctx.vm_gone:
                outcome.did(f"VM {vm['id']} is {vm.get('state')}; CloudStack expunges it after its expunge delay")
                mark_resource(job, CloudResourceKind.VM, vm["id"], CloudResourceState.DESTROYED)
            elif job.destination_vm_id:
                outcome.did(f"VM {job.destination_vm_id} already gone")
                mark_resource(job, CloudResourceKind.VM, job.destination_vm_id, CloudResourceState.REMOVED)
            _delete_template_roots(job, ctx.cloudstack(), outcome)
            return
        expunged = True
        with ctx.tearing_down(outcome, vm["id"]):
            expunged = ctx.cloudstack().remove_vm(vm["id"])
            outcome.did(f"destroyed VM {vm['id']}" + ("" if expunged else
                        " (this CloudStack key may not expunge: CloudStack expunges it after its expunge delay)"))
        if not outcome.complete:
            return
        mark_resource(job, CloudResourceKind.VM, vm["id"],
                      CloudResourceState.REMOVED if expunged or ctx.vm_gone else CloudResourceState.DESTROYED)
        _delete_template_roots(job, ctx.cloudstack(), outcome)
