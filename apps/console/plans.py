"""What the planner and wave pages show: projects with their risk summary, a project's assessment (the planner's own
VM filters), a cohort's VMs with readiness and their wave outcome, waves and a wave's VMs with their hook output."""
from __future__ import annotations

from django.db.models import Count, Q

from apps.core.jobs import job_event_rows
from apps.inventory import selectors as inventory_selectors
from apps.planner import selectors as planner_selectors
from apps.planner import services as planner_services
from apps.planner.choices import MigrationMode, RiskLevel, VMStatus
from apps.planner.filtersets import SourceVMFilterSet
from apps.planner.models import Cohort, Project
from apps.waves import selectors as wave_selectors
from apps.waves.choices import OPEN, WaveStatus
from apps.waves.models import Wave

ASSESSMENT_ROWS = 500  # rows shown at once; the filters narrow the rest


def projects() -> list[Project]:
    risk = {f"risk_{level.lower()}": Count("vms", filter=Q(vms__risk_level=level)) for level in RiskLevel.values}
    return list(planner_selectors.projects().annotate(vm_count=Count("vms"), **risk))


def project_page(project: Project, query) -> dict:
    filters = SourceVMFilterSet(query, queryset=planner_selectors.vms(project), request=None)
    rows = list(filters.qs[:ASSESSMENT_ROWS]) if filters.is_valid() else []
    stats = planner_selectors.stats(project)
    return {"project": project, "filters": filters, "rows": rows, "shown": len(rows),
            "matching": filters.qs.count() if filters.is_valid() else 0, "stats": stats,
            "cohorts": list(planner_selectors.cohorts(project)), "report": project.approval_report or {},
            "risk_levels": RiskLevel.values, "modes": MigrationMode.values,
            "tenants": list(project.tenants.order_by("tenant_name").values_list("tenant_name", flat=True).distinct())}


def cohort_page(project: Project, cohort: Cohort) -> dict:
    """A cohort's VMs, its tenants' readiness (run now, as the API's readiness-summary does) and its wave."""
    vms = list(project.vms.filter(tenant__cohort=cohort).exclude(migration_status=VMStatus.SKIPPED)
               .select_related("tenant").order_by("vm_name"))
    contexts = {c.context_id: c for c in inventory_selectors.vm_contexts()
                .filter(context_id__in=[vm.vm_context_id for vm in vms if vm.vm_context_id])}
    outcomes = wave_selectors.vm_outcomes(contexts)
    rows = [{"vm": vm, "context": contexts.get(vm.vm_context_id), "wave_vm": outcomes.get(vm.vm_context_id)}
            for vm in vms]
    wave = Wave.objects.filter(pk=cohort.wave_id).first() if cohort.wave_id else None
    return {"project": project, "cohort": cohort, "rows": rows, "wave": wave,
            "readiness": planner_services.cohort_readiness_summary(cohort=cohort),
            "summary": planner_selectors.cohort_summary(project, cohort)}


def waves(status: str = "") -> list[Wave]:
    queryset = wave_selectors.waves().order_by("-created_at")
    if status == "open":
        queryset = queryset.filter(status__in=OPEN)
    elif status in WaveStatus.values:
        queryset = queryset.filter(status=status)
    return list(queryset[:500])


def wave_page(wave: Wave) -> dict:
    wave = wave_selectors.wave_detail().get(pk=wave.pk)
    return {"wave": wave, "vms": wave.ordered_vms, "hooks": list(wave.hooks.all()),
            "events": job_event_rows("wave", str(wave.pk), 100),
            "moving": wave.status not in (WaveStatus.DRAFT, WaveStatus.ROLLED_BACK)
            and wave.status in (*OPEN, WaveStatus.ROLLING_BACK, WaveStatus.CANCELLED)}
