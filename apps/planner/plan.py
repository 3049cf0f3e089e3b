"""The exported migration plan: per-VM estimates, per-tenant rollups and a daily schedule (seed 004), and the same
plan as CSV and XLSX for people who plan in spreadsheets."""
from __future__ import annotations

import csv
import heapq
import io
import math

from openpyxl import Workbook

from apps.inventory import selectors as inventory_selectors
from apps.waves import selectors as wave_selectors

from . import planning, selectors
from .choices import MigrationMode, RiskLevel, VMStatus
from .models import Project, SourceVM

UNASSIGNED_ORDER = 10**9
VM_COLUMNS = ("vm_name", "total_disk_gb", "in_use_gb", "mode", "risk_level", "warm_phase1_hours",
              "warm_cutover_hours", "warm_downtime_hours", "cold_total_hours", "cold_downtime_hours")


def _order(vms: list[SourceVM]) -> list[SourceVM]:
    """Cohort order, tenant and name, except that a VM comes after every VM that must complete before it."""
    by_id = {vm.pk: vm for vm in vms}
    waiting = {vm.pk: 0 for vm in vms}
    successors: dict[int, list[int]] = {vm.pk: [] for vm in vms}
    for vm in vms:
        for dep in vm.dependencies_in.all():
            if dep.vm_id in by_id:
                waiting[vm.pk] += 1
                successors[dep.vm_id].append(vm.pk)

    def key(vm: SourceVM):
        cohort = vm.tenant.cohort if vm.tenant and vm.tenant.cohort_id else None
        return (cohort.cohort_order if cohort else UNASSIGNED_ORDER, vm.tenant.tenant_name if vm.tenant else "",
                vm.vm_name, vm.pk)

    ready = [key(vm) for vm in vms if waiting[vm.pk] == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        vm = by_id[heapq.heappop(ready)[-1]]
        ordered.append(vm)
        for nxt in successors[vm.pk]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, key(by_id[nxt]))
    return ordered  # dependencies have no cycles (refused when added)


def _wave_outcome(row) -> dict:
    if row is None:
        return {"wave_id": None, "wave_status": None, "wave_reason": None}
    return {"wave_id": row.wave_id, "wave_status": row.status, "wave_reason": row.reason or None}


def _schedule(ordered: list[tuple[SourceVM, float]], day_capacity: float) -> list[dict]:
    days: list[dict] = []
    day_of: dict[int, int] = {}
    used = 0.0
    for vm, hours in ordered:
        # A VM starts the day after every VM that must complete before it.
        earliest = max((day_of.get(dep.vm_id, 0) + 1 for dep in vm.dependencies_in.all()), default=1)
        if days and used > 0 and used + hours > day_capacity:
            earliest = max(earliest, len(days) + 1)
        while len(days) < earliest:
            days.append({"day": len(days) + 1, "vms": []})
            used = 0.0
        days[-1]["vms"].append(vm.vm_name)
        day_of[vm.pk] = len(days)
        used += hours
    return days


def build(project: Project) -> dict:
    model = selectors.bandwidth(project)
    vms = [vm for vm in selectors.assessed_vms(project) if vm.migration_status != VMStatus.SKIPPED]
    ordered = _order(vms)
    # Beside each estimate, what the platform did: the matched VM context's state and last sync (after approval).
    actual = {context_id: (status, synced) for context_id, status, synced in inventory_selectors.vm_contexts()
              .filter(context_id__in=[vm.vm_context_id for vm in vms if vm.vm_context_id])
              .values_list("context_id", "current_status", "last_sync_at")}
    waves = wave_selectors.vm_outcomes(actual)
    tenants: dict[str, dict] = {}
    timed = []
    warm_total = cold_total = 0
    for vm in ordered:
        estimate = planning.vm_estimate(vm, model)
        mode = vm.effective_mode or MigrationMode.WARM_ELIGIBLE
        cold = mode == MigrationMode.COLD_REQUIRED
        warm_total += not cold
        cold_total += cold
        name = vm.tenant.tenant_name if vm.tenant else ""
        plan = tenants.setdefault(name, {
            "tenant_name": name, "cohort_name": vm.tenant.cohort.name if vm.tenant and vm.tenant.cohort else None,
            "vm_count": 0, "warm_count": 0, "cold_count": 0, "total_disk_gb": 0.0, "phase1_hours": 0.0,
            "cutover_hours": 0.0, "total_hours": 0.0,
            "risk_distribution": {level: 0 for level in RiskLevel.values}, "vms": []})
        plan["vm_count"] += 1
        plan["cold_count" if cold else "warm_count"] += 1
        plan["total_disk_gb"] += vm.total_disk_gb
        if cold:
            plan["cutover_hours"] += estimate["cold_total_hours"]
        else:
            plan["phase1_hours"] += estimate["warm_phase1_hours"]
            plan["cutover_hours"] += estimate["warm_cutover_hours"]
        if vm.risk_level:
            plan["risk_distribution"][vm.risk_level] += 1
        plan["vms"].append({"vm_id": vm.pk, "vm_name": vm.vm_name, "total_disk_gb": round(vm.total_disk_gb, 2),
                            "in_use_gb": round(vm.in_use_gb, 2), "mode": mode, "risk_level": vm.risk_level or None,
                            "migration_status": vm.migration_status,
                            "actual_status": actual.get(vm.vm_context_id, (None, None))[0],
                            "last_sync_at": actual.get(vm.vm_context_id, (None, None))[1],
                            **_wave_outcome(waves.get(vm.vm_context_id)), **estimate})
        timed.append((vm, planning.vm_hours(vm, estimate)))
    for plan in tenants.values():
        for name in ("total_disk_gb", "phase1_hours", "cutover_hours"):
            plan[name] = round(plan[name], 2)
        plan["total_hours"] = round(plan["phase1_hours"] + plan["cutover_hours"], 2)
    slot_hours = sum(hours for _, hours in timed)
    daily = _schedule(timed, model.slots * project.working_hours_per_day)
    total_hours = round(slot_hours / model.slots, 2)
    return {
        "project_summary": {
            "project_name": project.name, "total_vms": len(ordered), "warm_count": warm_total,
            "cold_count": cold_total,
            "total_disk_tb": round(sum(vm.total_disk_gb for vm in ordered) / 1024, 2),
            "bottleneck_mbps": model.bottleneck_mbps, "bandwidth_source": model.source,
            "change_rate_pct": model.change_rate_pct, "estimated_total_hours": total_hours,
            "estimated_days": len(daily) or math.ceil(total_hours / project.working_hours_per_day)},
        "tenant_plans": sorted(tenants.values(), key=lambda p: p["tenant_name"]),
        "daily_schedule": daily,
    }


def _rows(plan: dict):
    day_of = {name: day["day"] for day in plan["daily_schedule"] for name in day["vms"]}
    for tenant in plan["tenant_plans"]:
        for vm in tenant["vms"]:
            yield [tenant["tenant_name"], tenant["cohort_name"] or "", day_of.get(vm["vm_name"], ""),
                   *(vm[c] if vm[c] is not None else "" for c in VM_COLUMNS), vm["migration_status"],
                   vm["wave_status"] or ""]


HEADER = ["tenant_name", "cohort_name", "day", *VM_COLUMNS, "migration_status", "wave_status"]


def _safe(value):
    # A cell starting with = + - @ would be a formula to a spreadsheet (VM names come from the customer's export).
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def to_csv(plan: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in _rows(plan):
        writer.writerow([_safe(v) for v in row])
    return out.getvalue()


def to_xlsx(plan: dict) -> bytes:
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")
    for key, value in plan["project_summary"].items():
        summary.append([key, _safe(value)])
    vms = workbook.create_sheet("VMs")
    vms.append(HEADER)
    for row in _rows(plan):
        vms.append([_safe(v) for v in row])
    tenants = workbook.create_sheet("Tenants")
    columns = ["tenant_name", "cohort_name", "vm_count", "warm_count", "cold_count", "total_disk_gb", "phase1_hours",
               "cutover_hours", "total_hours"]
    tenants.append(columns)
    for tenant in plan["tenant_plans"]:
        tenants.append([_safe(tenant[c]) for c in columns])
    schedule = workbook.create_sheet("Schedule")
    schedule.append(["day", "vm_name"])
    for day in plan["daily_schedule"]:
        for name in day["vms"]:
            schedule.append([day["day"], _safe(name)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
