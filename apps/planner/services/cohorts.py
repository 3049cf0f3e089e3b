"""Cohorts (waves): create, edit, assign tenants, auto-assign, readiness, reset.

Auto-assign keeps dependencies: when a VM must complete before another, the other's tenant lands in the same or a
later cohort. Tenants whose VMs depend on each other both ways (or through ``same_wave``) move together.
"""
from __future__ import annotations

import collections
import math

from django.db import transaction
from django.db.models import Avg, Count, Max, Q

from apps.core.exceptions import Conflict, InvalidInput

from ..choices import AutoAssignStrategy, CohortReadiness, DependencyType, RiskLevel, VMStatus
from ..models import Cohort, Project, Tenant, TenantReadinessCheck
from .tenants import tenant_readiness
from .text import child_get

COHORT_FIELDS = ("name", "cohort_order", "owner_name", "scheduled_start", "scheduled_end", "status", "notes")


def cohort_get(project: Project, cohort_id) -> Cohort:
    return child_get(project.cohorts.all(), cohort_id, "Cohort")


def _apply(cohort: Cohort, data: dict) -> None:
    for name in COHORT_FIELDS:
        if name in data:
            setattr(cohort, name, data[name] if data[name] is not None or name in ("scheduled_start",
                                                                                   "scheduled_end") else "")
    if "depends_on_cohort_id" in data:
        other = data["depends_on_cohort_id"]
        if other is None:
            cohort.depends_on_cohort = None
        else:
            found = cohort.project.cohorts.filter(pk=other).first()
            if found is None:
                raise InvalidInput(f"depends_on_cohort_id {other} is not a cohort of this project")
            if cohort.pk and _cohort_reaches(found, cohort.pk):
                raise Conflict("Circular cohort dependency")
            cohort.depends_on_cohort = found
    if cohort.scheduled_start and cohort.scheduled_end and cohort.scheduled_end < cohort.scheduled_start:
        raise InvalidInput("scheduled_end is before scheduled_start")
    cohort.save()


def _cohort_reaches(cohort: Cohort, goal: int) -> bool:
    seen = set()
    while cohort is not None and cohort.pk not in seen:
        if cohort.pk == goal:
            return True
        seen.add(cohort.pk)
        cohort = cohort.depends_on_cohort
    return False


def cohort_create(*, project: Project, data: dict) -> Cohort:
    cohort = Cohort(project=project)
    _apply(cohort, data)
    return cohort


def cohort_update(*, cohort: Cohort, data: dict) -> Cohort:
    _apply(cohort, data)
    return cohort


@transaction.atomic
def cohort_delete(*, cohort: Cohort) -> None:
    cohort.tenants.update(cohort=None)
    cohort.delete()


@transaction.atomic
def cohort_assign_tenants(*, project: Project, cohort: Cohort | None, tenant_ids: list[int], replace: bool) -> dict:
    tenants = project.tenants.filter(pk__in=tenant_ids)
    missing = sorted(set(tenant_ids) - set(tenants.values_list("pk", flat=True)))
    if missing:
        raise InvalidInput(f"Tenant ids not in this project: {', '.join(map(str, missing[:20]))}")
    if replace and cohort is not None:
        cohort.tenants.exclude(pk__in=tenant_ids).update(cohort=None)
    count = tenants.update(cohort=cohort)
    return {"status": "ok", "cohort_id": cohort.pk if cohort else None, "affected_count": count}


@transaction.atomic
def plan_reset(*, project: Project) -> dict:
    """Waves, their tenant assignments and the readiness results go; the assessment stays."""
    project.tenants.update(cohort=None)
    TenantReadinessCheck.objects.filter(tenant__project=project).delete()
    deleted, _ = project.cohorts.all().delete()
    project.vms.filter(migration_status=VMStatus.ASSIGNED).update(migration_status=VMStatus.NOT_STARTED)
    return {"status": "ok", "cohorts_deleted": deleted}


# --- auto-assign -------------------------------------------------------------------------------------------------


def _tenant_edges(project: Project, tenant_of: dict[int, int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """tenant -> tenants that must come in the same or a later cohort; and the 'same wave' pairs both ways."""
    after, same = collections.defaultdict(set), collections.defaultdict(set)
    for before, later, kind in project.dependencies.values_list("vm_id", "depends_on_vm_id", "dependency_type"):
        a, b = tenant_of.get(before), tenant_of.get(later)
        if a is None or b is None or a == b:
            continue
        after[a].add(b)
        if kind == DependencyType.SAME_WAVE:
            after[b].add(a)
            same[a].add(b)
    return after, same


def _components(nodes: list[int], after: dict[int, set[int]]) -> list[list[int]]:
    """Strongly connected components (Kosaraju), in topological order of the condensed graph."""
    order, seen = [], set()
    for start in nodes:
        if start in seen:
            continue
        stack = [(start, iter(sorted(after.get(start, ()))))]
        seen.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(node)
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(sorted(after.get(child, ())))))
    reverse = collections.defaultdict(set)
    for node, targets in after.items():
        for target in targets:
            reverse[target].add(node)
    components, placed = [], set()
    for root in reversed(order):
        if root in placed:
            continue
        group, stack = [], [root]
        placed.add(root)
        while stack:
            node = stack.pop()
            group.append(node)
            for prev in reverse.get(node, ()):
                if prev not in placed:
                    placed.add(prev)
                    stack.append(prev)
        components.append(sorted(group))
    return components


def _preferred(strategy: str, groups: list[dict], cohort_count: int) -> None:
    """Sets each unplaced group's 'index' (a cohort position) as the strategy wants, before dependencies."""
    free = [g for g in groups if g["index"] is None]
    if strategy == AutoAssignStrategy.RISK:
        worst_rank = {RiskLevel.GREEN: 0, RiskLevel.YELLOW: 1, RiskLevel.RED: 2}
        for g in free:
            g["index"] = round(worst_rank[g["worst"]] * (cohort_count - 1) / 2)
        return
    if strategy == AutoAssignStrategy.EQUAL_SPLIT:
        free.sort(key=lambda g: g["name"])
        per = math.ceil(len(free) / cohort_count) if free else 1
        for position, g in enumerate(free):
            g["index"] = min(cohort_count - 1, position // per)
        return
    # priority: the operator's priority, then the least risky and smallest first, filling cohorts by VM count.
    free.sort(key=lambda g: (g["priority"], g["score"], g["vms"], g["name"]))
    capacity = max(1, math.ceil(sum(g["vms"] for g in free) / cohort_count))
    index, filled = 0, 0
    for g in free:
        if filled and filled + g["vms"] > capacity and index < cohort_count - 1:
            index, filled = index + 1, 0
        g["index"] = index
        filled += g["vms"]


@transaction.atomic
def cohorts_auto_assign(*, project: Project, strategy: str) -> dict:
    cohorts = list(project.cohorts.order_by("cohort_order", "id"))
    if not cohorts:
        raise Conflict("The project has no cohorts: create them first (POST .../cohorts)")
    position = {c.pk: i for i, c in enumerate(cohorts)}
    in_scope = ~Q(vms__migration_status=VMStatus.SKIPPED)
    tenants = list(project.tenants.annotate(
        vm_total=Count("vms", filter=in_scope), score=Avg("vms__risk_score", filter=in_scope),
        reds=Count("vms", filter=in_scope & Q(vms__risk_level=RiskLevel.RED)),
        yellows=Count("vms", filter=in_scope & Q(vms__risk_level=RiskLevel.YELLOW))))
    tenant_of = dict(project.vms.exclude(tenant=None).values_list("pk", "tenant_id"))
    after, _ = _tenant_edges(project, tenant_of)
    by_id = {t.pk: t for t in tenants}
    components = _components(sorted(by_id), after)
    groups, group_of = [], {}
    for members in components:
        ts = [by_id[m] for m in members]
        fixed = [position[t.cohort_id] for t in ts if t.cohort_id in position]
        worst = (RiskLevel.RED if any(t.reds for t in ts) else RiskLevel.YELLOW if any(t.yellows for t in ts)
                 else RiskLevel.GREEN)
        group = {"members": members, "index": max(fixed) if fixed else None, "fixed": bool(fixed),
                 "vms": sum(t.vm_total for t in ts), "score": max((t.score or 0) for t in ts),
                 "priority": min(t.migration_priority for t in ts), "worst": worst,
                 "name": min(t.tenant_name for t in ts)}
        groups.append(group)
        for m in members:
            group_of[m] = group
    _preferred(strategy, groups, len(cohorts))
    before = collections.defaultdict(set)
    for source, targets in after.items():
        for target in targets:
            before[target].add(source)
    warnings = []
    # Components come in topological order: every predecessor is placed before its successors.
    for group in groups:
        earliest = max((group_of[p]["index"] for m in group["members"] for p in before[m]
                        if group_of[p] is not group), default=0)
        if group["index"] < earliest:
            if group["fixed"]:
                warnings.append(f"{group['name']}: already in an earlier cohort than a tenant it depends on")
            else:
                group["index"] = earliest
    assigned = []
    for group in groups:
        if group["fixed"]:
            continue
        cohort = cohorts[group["index"]]
        for member in group["members"]:
            tenant = by_id[member]
            tenant.cohort_id = cohort.pk
            assigned.append({"tenant_id": tenant.pk, "tenant_name": tenant.tenant_name, "cohort_id": cohort.pk,
                             "cohort_name": cohort.name})
    Tenant.objects.bulk_update([by_id[a["tenant_id"]] for a in assigned], ["cohort_id"])
    return {"status": "ok", "strategy": strategy, "assigned_count": len(assigned), "assignments": assigned,
            "warnings": warnings}


def cohort_readiness_summary(*, cohort: Cohort) -> dict:
    results = [tenant_readiness(tenant=t) for t in cohort.tenants.order_by("tenant_name", "org_vdc")]
    passed = sum(1 for r in results if r["overall"] == "pass")
    if results and passed == len(results):
        overall = CohortReadiness.ALL_PASS
    elif passed:
        overall = CohortReadiness.PARTIAL
    else:
        overall = CohortReadiness.BLOCKED
    return {"cohort_id": cohort.pk, "cohort_name": cohort.name, "overall": overall, "tenant_count": len(results),
            "pass_count": passed, "tenants": results}


def cohort_next_order(project: Project) -> int:
    return (project.cohorts.aggregate(top=Max("cohort_order"))["top"] or 0) + 1
