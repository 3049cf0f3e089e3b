"""Reads worth a name: VM contexts with their counts, a VM context as the agent needs it, and which of an agent's VM
records the inventory has."""
from __future__ import annotations

from django.db.models import Count, QuerySet

from apps.core.exceptions import ApplicationError
from apps.core.registry import Health
from apps.enrollment.agent_client import AgentEndpoint, SourceVM, default_agent
from apps.enrollment.agent_client import agent_endpoint as endpoint_of
from apps.settings.models import VMwareCredential
from apps.settings.selectors import default_credential, vcenter_login

from .models import VMContext


def vm_contexts() -> QuerySet[VMContext]:
    # Counts come from one aggregate so list requests stay constant in queries as the inventory grows.
    return VMContext.objects.annotate(disk_count=Count("disks", distinct=True), nic_count=Count("nics", distinct=True))


def ungrouped_vm_contexts() -> QuerySet[VMContext]:
    """VMs that belong to no machine group (the scheduler app owns the membership relation)."""
    qs = vm_contexts()
    relation = next((f for f in VMContext._meta.get_fields() if f.name == "group_membership"), None)
    if relation is not None:
        qs = qs.filter(group_membership__isnull=True)
    return qs


def credential_for(vm_context: VMContext) -> VMwareCredential | None:
    """The VMware credentials of a VM context: its own, else the default ones."""
    return vm_context.credential or default_credential()


def agent_source(vm_context: VMContext) -> SourceVM:
    """The VM as the agent's replicate and power endpoints take it: vCenter login, inventory path, moref."""
    credential = credential_for(vm_context)
    if credential is None:
        raise ApplicationError("No VMware credentials to reach the source VM with; add vCenter credentials",
                               error_code="VALIDATION_FAILED")
    return SourceVM(login=vcenter_login(credential, datacenter=vm_context.datacenter), vm_path=vm_context.vm_path,
                    moref=vm_context.moref or "")


def agent_endpoint(vm_context: VMContext) -> AgentEndpoint:
    """The agent of the VM's vCenter (its credentials' agent), else the default agent: its jobs go there."""
    credential = credential_for(vm_context)
    if credential is not None and credential.agent_id:
        return endpoint_of(credential.agent)
    return default_agent()


def health() -> Health:
    return Health(metrics={"total_vms_discovered": VMContext.objects.count()})


def agent_vm_id(vm: dict) -> str | None:
    """The id the inventory keys an agent's VM record by: its instance UUID, else its moref."""
    return vm.get("uuid") or vm.get("id")


def known_vm_ids(vms: list[dict]) -> set[str]:
    """Which of the agent's VM records are already in the inventory (by ``agent_vm_id``)."""
    return set(VMContext.objects.filter(vm_id__in=[agent_vm_id(vm) for vm in vms]).values_list("vm_id", flat=True))
