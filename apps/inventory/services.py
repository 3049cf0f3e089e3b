"""Inventory writes: turn what the agent discovered into VM contexts with their disks and NICs."""
from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import InvalidInput, NotFound
from apps.core.jobs import slug
from apps.enrollment.agent_client import AgentClient
from apps.settings.selectors import vcenter_login
from apps.settings.services import credential_mark_used

from .models import VMContext, VMDisk, VMNic, validate_vm_id, validate_vm_name

logger = logging.getLogger(__name__)


def _context_id(vm_name: str) -> str:
    return f"ctx-{slug(vm_name)}-{timezone.now():%Y%m%d-%H%M%S}"


def _disk_rows(vm: dict) -> list[dict]:
    """Normalise the agent's disks; ids and unit numbers stay unique per VM even across controllers."""
    rows, seen_ids, seen_units = [], set(), set()
    for index, disk in enumerate(sorted(vm.get("disks") or [], key=lambda d: (d.get("controller_key") or 0,
                                                                              d.get("unit_number") or 0))):
        try:
            key = int(disk["key"])
            capacity = int(disk["capacity_bytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"VM '{vm.get('name')}': disk {index} needs an integer key and capacity_bytes") from exc
        disk_id = str(disk.get("id") or f"disk-key{key}")
        if disk_id in seen_ids:
            disk_id = f"disk-key{key}"
        unit = disk.get("unit_number")
        unit = int(unit) if unit is not None else index
        if unit in seen_units:
            unit = max(seen_units) + 1
        seen_ids.add(disk_id)
        seen_units.add(unit)
        rows.append({"disk_key": key, "disk_id": disk_id, "label": disk.get("label") or "",
                     "controller_key": disk.get("controller_key"), "unit_number": unit, "capacity_bytes": capacity,
                     "datastore": disk.get("datastore") or "", "file_path": disk.get("path") or "",
                     "cbt_enabled": bool(disk.get("cbt_enabled"))})
    return rows


@transaction.atomic
def vm_context_upsert(*, vm: dict, vcenter_host: str, datacenter: str, credential=None) -> tuple[VMContext, bool]:
    """Create or refresh a VM context from one discovered VM. Adding the same VM twice changes nothing but facts."""
    vm_id = vm.get("uuid") or vm.get("instance_uuid") or vm.get("id")
    name = vm.get("name")
    if not vm_id or not name:
        raise InvalidInput("Each VM needs a name and an id (instance uuid or moref)")
    # Every way in (a push, discovery's add, a replication request) passes here: the id becomes file names.
    try:
        validate_vm_id(vm_id)
        validate_vm_name(name)
    except ValidationError as exc:
        raise InvalidInput(f"VM {name!r}: {exc.messages[0]}", error_code="INVALID_VM") from exc
    context = VMContext.objects.select_for_update().filter(vm_id=vm_id).first()
    created = context is None
    facts = {
        "vm_name": name, "moref": vm.get("id") or "", "bios_uuid": vm.get("bios_uuid") or "",
        "vm_path": vm.get("path") or f"/{datacenter}/vm/{name}", "vcenter_host": vcenter_host,
        "datacenter": datacenter, "power_state": vm.get("power_state") or "", "guest_os_id": vm.get("guest_os") or "",
        "guest_os_name": vm.get("guest_os_name") or "", "cpu_count": vm.get("num_cpu") or 1,
        "memory_mb": vm.get("memory_mb") or 0, "firmware": vm.get("firmware") or "",
        "secure_boot": bool(vm.get("secure_boot")),
        "snapshots": vm.get("snapshots") or [], "last_discovered_at": timezone.now(),
    }
    if credential is not None:
        facts["credential"] = credential
    if created:
        if VMContext.objects.filter(vm_name=name).exists():
            raise InvalidInput(f"Another VM named '{name}' is already in the inventory with a different id")
        context = VMContext.objects.create(context_id=_context_id(name), vm_id=vm_id, **facts)
    else:
        for key, value in facts.items():
            setattr(context, key, value)
        context.save()
    disks = _disk_rows(vm)
    existing = {d.disk_key: d for d in context.disks.all()}
    for row in disks:
        disk = existing.pop(row["disk_key"], None)
        if disk is None:
            VMDisk.objects.create(vm_context=context, **row)
        else:
            for key, value in row.items():
                setattr(disk, key, value)
            disk.save()
    if existing:
        VMDisk.objects.filter(pk__in=[d.pk for d in existing.values()]).delete()
    context.nics.all().delete()
    VMNic.objects.bulk_create([
        VMNic(vm_context=context, label=nic.get("label") or f"nic{i}", network_name=nic.get("network") or "",
              mac_address=nic.get("mac_address") or "", adapter_type=nic.get("adapter_type") or "",
              ip_addresses=[str(ip) for ip in nic.get("ip_addresses") or []])
        for i, nic in enumerate(vm.get("nics") or [])
    ])
    return context, created


def vm_context_get(identifier: str) -> VMContext:
    """Find a context by VM name, context id, VMware instance uuid or moref."""
    context = VMContext.objects.filter(
        Q(vm_name=identifier) | Q(context_id=identifier) | Q(vm_id=identifier) | Q(moref=identifier)).first()
    if context is None:
        raise NotFound(f"VM '{identifier}' not found in the inventory", error_code="VM_NOT_FOUND")
    return context


def discover(*, credential, filter: str = "") -> dict:
    """Ask the agent to list the VMs of the credential's vCenter datacenter."""
    answer = AgentClient().discover(login=vcenter_login(credential), filter=filter)
    credential_mark_used(credential=credential)
    return answer


def add_vms(*, credential, vms: list[dict]) -> list[tuple[VMContext, bool]]:
    return [vm_context_upsert(vm=vm, vcenter_host=credential.vcenter_host, datacenter=credential.datacenter,
                              credential=credential) for vm in vms]
