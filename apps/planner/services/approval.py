"""Approval: the gate before execution (seed 004), and beyond the seed, the plan handed to the platform.

Each cohort becomes a scheduler machine group (priority = cohort order) holding the discovered VM contexts its
planned VMs match (by instance UUID, else by name), synced on its own schedule and cut over as a wave
(`handover.py`); confirmed network mappings become failover network mappings of
those VMs, checked against CloudStack by the failover app. What does not match, VMs another group holds already, and
mappings CloudStack refuses are reported in the project's ``approval_report``, not silently dropped. The groups,
schedules, waves and the project's state change in one transaction; the failover mappings need CloudStack and are
made after it, each VM's outcome recorded.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict
from apps.failover import services as failover_services
from apps.inventory import selectors as inventory_selectors
from apps.scheduler import services as scheduler_services

from ..choices import ProjectStatus, VMStatus
from ..models import Project, SourceVM
from . import handover
from .projects import project_get

logger = logging.getLogger(__name__)
LIST_LIMIT = 200  # names listed per report line; the counts are always whole


def _match(vms: list[SourceVM]) -> dict[int, object]:
    """planned VM id -> VM context, by instance UUID first, then by name."""
    uuids = [vm.vm_uuid for vm in vms if vm.vm_uuid]
    names = [vm.vm_name for vm in vms]
    contexts = list(inventory_selectors.vm_contexts().filter(Q(vm_id__in=uuids) | Q(vm_name__in=names))
                    .prefetch_related("nics"))
    by_uuid = {c.vm_id.lower(): c for c in contexts}
    by_name = {c.vm_name: c for c in contexts}
    found = {}
    for vm in vms:
        context = by_uuid.get(vm.vm_uuid.lower()) if vm.vm_uuid else None
        found[vm.pk] = context or by_name.get(vm.vm_name)
    return found


def _group_name(project: Project, cohort) -> str:
    return f"{project.name[:150]} / {cohort.name[:80]} [{str(project.pk)[:8]}]"


def _groups(project: Project, vms: list[SourceVM], matched: dict, approved_by: str) -> dict:
    ungrouped = set(inventory_selectors.ungrouped_vm_contexts()
                    .filter(pk__in=[c.pk for c in matched.values() if c]).values_list("pk", flat=True))
    report = {"machine_groups": [], "matched_count": 0, "unmatched": [], "already_grouped": [],
              "not_in_a_cohort": []}
    by_cohort: dict[int, list] = {}
    for vm in vms:
        context = matched[vm.pk]
        cohort = vm.tenant.cohort if vm.tenant_id and vm.tenant.cohort_id else None
        if context is None:
            report["unmatched"].append(vm.vm_name)
            continue
        report["matched_count"] += 1
        vm.vm_context_id = context.context_id
        if cohort is None:
            report["not_in_a_cohort"].append(vm.vm_name)
        elif context.pk not in ungrouped:
            report["already_grouped"].append(vm.vm_name)
        else:
            by_cohort.setdefault(cohort.pk, []).append(context)
            vm.migration_status = VMStatus.ASSIGNED if vm.migration_status == VMStatus.NOT_STARTED \
                else vm.migration_status
    SourceVM.objects.bulk_update(vms, ["vm_context_id", "migration_status"], batch_size=500)
    report["waves"] = []
    for cohort in project.cohorts.order_by("cohort_order", "id"):
        name = _group_name(project, cohort)
        schedule = handover.sync_schedule(project, cohort, name, approved_by)
        group = scheduler_services.group_create(data={
            "name": name, "priority": cohort.cohort_order, "schedule_id": schedule.pk,
            "description": f"Cohort '{cohort.name}' of migration plan '{project.name}'"}, created_by=approved_by)
        contexts = by_cohort.get(cohort.pk, [])
        if contexts:
            scheduler_services.group_assign_vms(group=group, vm_contexts=contexts, assigned_by=approved_by)
        cohort.machine_group_id = group.pk
        cohort.save(update_fields=["machine_group_id", "updated_at"])
        report["machine_groups"].append({"cohort_id": cohort.pk, "cohort_name": cohort.name, "group_id": group.pk,
                                         "group_name": group.name, "vm_count": len(contexts),
                                         "schedule_id": schedule.pk, "schedule": schedule.timing_description})
        report["waves"].append(handover.cutover_wave(project, cohort, group, contexts, vms, matched, approved_by))
    for key in ("unmatched", "already_grouped", "not_in_a_cohort"):
        report[f"{key}_count"] = len(report[key])
        report[key] = report[key][:LIST_LIMIT]
    return report


def _network_mappings(project: Project, vms: list[SourceVM], matched: dict) -> dict:
    """Failover mappings for every matched VM's networks that have a confirmed target; CloudStack checks each."""
    targets = {m.source_network_name: m.target_network_id or m.target_network_name
               for m in project.network_mappings.filter(confirmed=True).exclude(target_network_name="")}
    nics: dict[int, set[str]] = {}
    for vm_id, name in project.vms.filter(pk__in=[vm.pk for vm in vms]).values_list("pk", "nics__network_name"):
        if name:
            nics.setdefault(vm_id, set()).add(name)
    context_networks = {}
    for context in {c.pk: c for c in matched.values() if c}.values():
        context_networks[context.pk] = {nic.network_name for nic in context.nics.all()}
    report = {"created": 0, "failed": [], "unmapped_networks": sorted({n for names in nics.values() for n in names}
                                                                      - set(targets))}
    for vm in vms:
        context = matched[vm.pk]
        if context is None:
            continue
        # Only networks the discovered VM really has: the failover app refuses any other.
        items = [{"source_network_name": name, "destination_network_id": targets[name]}
                 for name in sorted(nics.get(vm.pk, set()) & set(targets) & context_networks[context.pk])]
        if not items:
            continue
        try:
            report["created"] += len(failover_services.mappings_put(vm_context=context, items=items))
        except ApplicationError as exc:
            report["failed"].append({"vm_name": vm.vm_name, "error": exc.message})
    report["failed"] = report["failed"][:LIST_LIMIT]
    return report


def project_approve(*, project: Project, approved_by: str = "") -> Project:
    with transaction.atomic():
        project = project_get(project.pk, lock=True)
        if project.status == ProjectStatus.APPROVED:
            raise Conflict("The project is approved already")
        if project.assessed_at is None or not project.vms.exists():
            raise Conflict("Upload an inventory and run the assessment before approving")
        vms = list(project.vms.exclude(migration_status=VMStatus.SKIPPED).select_related("tenant", "tenant__cohort"))
        matched = _match(vms)
        report = _groups(project, vms, matched, approved_by)
        project.status = ProjectStatus.APPROVED
        project.approved_at = timezone.now()
        project.approved_by = approved_by[:150]
        project.approval_report = report
        project.save(update_fields=["status", "approved_at", "approved_by", "approval_report", "updated_at"])
    report["network_mappings"] = _network_mappings(project, vms, matched)
    project.approval_report = report
    project.save(update_fields=["approval_report", "updated_at"])
    logger.info("migration plan approved project=%s groups=%s matched=%s unmatched=%s", project.pk,
                len(report["machine_groups"]), report["matched_count"], report["unmatched_count"])
    return project
