"""The platform's own discovery as a project's inventory: the VM contexts discovery made (through the agent, from
vCenter) become the same records an RVTools upload makes, already matched to their contexts."""
from __future__ import annotations

from apps.core.exceptions import InvalidInput
from apps.core.utils import GiB
from apps.inventory import selectors as inventory_selectors

from ..models import Project, SourceDisk, SourceNIC, SourceVM
from .imports import os_family, replace_source_data


def _folder(vm_path: str) -> str:
    """/DC0/vm/Org-A/web01 -> /Org-A: the inventory folder below the datacenter's VM folder."""
    parts = [p for p in vm_path.split("/") if p]
    inner = parts[2:-1] if len(parts) > 2 and parts[1] == "vm" else parts[1:-1]
    return "/" + "/".join(inner) if inner else ""


def import_discovered(*, project: Project, vm_names: list[str] | None = None) -> dict[str, int]:
    contexts = inventory_selectors.vm_contexts().prefetch_related("disks", "nics")
    if vm_names:
        contexts = contexts.filter(vm_name__in=vm_names)
    contexts = list(contexts.order_by("vm_name"))
    if vm_names:
        missing = sorted(set(vm_names) - {c.vm_name for c in contexts})
        if missing:
            raise InvalidInput(f"Not in the discovered inventory: {', '.join(missing[:20])}")
    if not contexts:
        raise InvalidInput("No discovered VMs: discover the vCenter's VMs first (POST /api/v1/discovery/bulk-add)")
    vms, disks, nics = [], [], []
    for context in contexts:
        own_disks = list(context.disks.all())
        total = round(sum(d.capacity_bytes for d in own_disks) / GiB, 3)
        guest = context.guest_os_name or context.guest_os_id
        vms.append(SourceVM(
            vm_name=context.vm_name, vm_uuid=context.vm_id, power_state=context.power_state, guest_os=guest,
            os_family=os_family(guest), num_cpu=context.cpu_count, memory_mb=context.memory_mb,
            # Discovery does not report used space: plan with the provisioned size.
            total_disk_gb=total, in_use_gb=total, datacenter=context.datacenter, folder_path=_folder(context.vm_path),
            cbt_enabled=all(d.cbt_enabled for d in own_disks) if own_disks else None,
            vm_context_id=context.context_id))
        disks += [(context.vm_name, SourceDisk(
            disk_label=d.label or d.disk_id, disk_path=d.file_path, capacity_gb=round(d.capacity_bytes / GiB, 3),
            datastore=d.datastore, disk_mode="persistent")) for d in own_disks]
        nics += [(context.vm_name, SourceNIC(
            nic_label=n.label, adapter_type=n.adapter_type, network_name=n.network_name, mac_address=n.mac_address))
            for n in context.nics.all()]
    replace_source_data(project=project, vms=vms, disks=disks, nics=nics, snapshots=[], hosts=[], clusters=[],
                        source_name="discovered inventory")
    return {"vInfo": len(vms), "vDisk": len(disks), "vNIC": len(nics), "vHost": 0, "vCluster": 0, "vSnapshot": 0}
