"""The planner's read side: lists, rollups and statistics, each in a bounded number of queries."""
from __future__ import annotations

from django.db.models import Count, F, FloatField, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.replication import selectors as replication_selectors

from . import planning
from .choices import MigrationMode, OsFamily, ProjectStatus, RiskLevel, VMStatus
from .models import Cohort, NetworkMapping, Project, SourceNIC, SourceVM, Tenant, VMDependency

IN_SCOPE = ~Q(migration_status=VMStatus.SKIPPED)


def bandwidth(project: Project) -> planning.Bandwidth:
    """The project's bandwidth model, with what our own completed syncs measured once there are any."""
    return planning.bandwidth(project, replication_selectors.measured_transfer())


def projects() -> QuerySet[Project]:
    return Project.objects.exclude(status=ProjectStatus.ARCHIVED).order_by("-created_at")


def vms(project: Project) -> QuerySet[SourceVM]:
    return project.vms.select_related("tenant")


def vm_details(project: Project, vm_name: str) -> SourceVM | None:
    return project.vms.filter(vm_name=vm_name).prefetch_related("disks", "nics").first()


def _distribution(queryset, field: str, values) -> dict:
    found = dict(queryset.values_list(field).annotate(n=Count("id")).values_list(field, "n"))
    return {value: found.get(value, 0) for value in values}


def stats(project: Project) -> dict:
    vms = project.vms.all()
    totals = vms.aggregate(total_vms=Count("id"), total_vcpu=Coalesce(Sum("num_cpu"), 0),
                           total_ram_mb=Coalesce(Sum("memory_mb"), 0),
                           total_disk_gb=Coalesce(Sum("total_disk_gb"), Value(0.0), output_field=FloatField()),
                           total_in_use_gb=Coalesce(Sum("in_use_gb"), Value(0.0), output_field=FloatField()),
                           powered_on=Count("id", filter=Q(power_state__iexact="poweredOn")),
                           assessed=Count("id", filter=~Q(migration_mode="")))
    return {
        "total_vms": totals["total_vms"], "powered_on_vms": totals["powered_on"], "assessed_vms": totals["assessed"],
        "total_vcpu": totals["total_vcpu"], "total_ram_gb": round(totals["total_ram_mb"] / 1024, 2),
        "total_disk_gb": round(totals["total_disk_gb"], 2), "total_in_use_gb": round(totals["total_in_use_gb"], 2),
        "total_hosts": project.hosts.count(), "total_clusters": project.clusters.count(),
        "total_tenants": project.tenants.count(),
        "risk_distribution": _distribution(vms.exclude(risk_level=""), "risk_level", RiskLevel.values),
        "mode_distribution": _distribution(vms.exclude(migration_mode=""), "migration_mode", MigrationMode.values),
        "os_distribution": _distribution(vms, "os_family", OsFamily.values),
        "status_distribution": _distribution(vms, "migration_status", VMStatus.values),
    }


def tenants(project: Project) -> QuerySet[Tenant]:
    scope = ~Q(vms__migration_status=VMStatus.SKIPPED)
    return project.tenants.select_related("cohort").annotate(
        vm_count=Count("vms", filter=scope), total_vcpu=Coalesce(Sum("vms__num_cpu", filter=scope), 0),
        total_ram_mb=Coalesce(Sum("vms__memory_mb", filter=scope), 0),
        total_disk_gb=Coalesce(Sum("vms__total_disk_gb", filter=scope), Value(0.0), output_field=FloatField()))


def cohorts(project: Project) -> QuerySet[Cohort]:
    scope = ~Q(tenants__vms__migration_status=VMStatus.SKIPPED)
    return project.cohorts.annotate(
        tenant_count=Count("tenants", distinct=True), vm_count=Count("tenants__vms", filter=scope),
        total_vcpu=Coalesce(Sum("tenants__vms__num_cpu", filter=scope), 0),
        total_ram_mb=Coalesce(Sum("tenants__vms__memory_mb", filter=scope), 0),
        total_disk_gb=Coalesce(Sum("tenants__vms__total_disk_gb", filter=scope), Value(0.0),
                               output_field=FloatField()))


def unassigned_tenant_count(project: Project) -> int:
    return project.tenants.filter(cohort=None).count()


def cohort_summary(project: Project, cohort: Cohort) -> dict:
    vms = list(SourceVM.objects.filter(tenant__cohort=cohort).filter(IN_SCOPE)
               .only("id", "num_cpu", "memory_mb", "total_disk_gb", "in_use_gb", "migration_mode", "mode_override",
                     "migration_status"))
    model = bandwidth(project)
    slot_hours = sum(planning.vm_hours(vm, planning.vm_estimate(vm, model)) for vm in vms)
    breakdown = {status: 0 for status in VMStatus.values}
    for vm in vms:
        breakdown[vm.migration_status] += 1
    return {"cohort_id": cohort.pk, "name": cohort.name, "tenant_count": cohort.tenants.count(),
            "vm_count": len(vms), "total_vcpu": sum(vm.num_cpu for vm in vms),
            "total_ram_gb": round(sum(vm.memory_mb for vm in vms) / 1024, 2),
            "total_disk_gb": round(sum(vm.total_disk_gb for vm in vms), 2),
            "estimated_hours": round(slot_hours / model.slots, 2), "status_breakdown": breakdown}


def dependencies(project: Project, vm_id: int | None = None) -> QuerySet[VMDependency]:
    queryset = project.dependencies.select_related("vm", "depends_on_vm").annotate(
        vm_name=F("vm__vm_name"), depends_on_vm_name=F("depends_on_vm__vm_name"))
    if vm_id is not None:
        queryset = queryset.filter(Q(vm_id=vm_id) | Q(depends_on_vm_id=vm_id))
    return queryset


def network_mappings(project: Project) -> tuple[list[NetworkMapping], int]:
    counts = dict(SourceNIC.objects.filter(vm__project=project).exclude(vm__migration_status=VMStatus.SKIPPED)
                  .values_list("network_name").annotate(n=Count("vm", distinct=True)).values_list("network_name", "n"))
    rows = list(project.network_mappings.all())
    for row in rows:
        row.vm_count = counts.get(row.source_network_name, 0)
    return rows, sum(1 for row in rows if not row.confirmed)


def assessed_vms(project: Project) -> list[SourceVM]:
    """Every VM with its tenant and cohort, for the plan."""
    return list(project.vms.select_related("tenant", "tenant__cohort").prefetch_related(
        Prefetch("dependencies_in", queryset=VMDependency.objects.only("id", "vm_id", "depends_on_vm_id"))))


def workload(project: Project) -> tuple[int, float]:
    """(in-scope VMs, their mean slot hours) for the agent recommendation."""
    vms = list(project.vms.filter(IN_SCOPE).only("id", "project_id", "total_disk_gb", "in_use_gb", "migration_mode",
                                                 "mode_override"))
    model = bandwidth(project)
    hours = [planning.vm_hours(vm, planning.vm_estimate(vm, model)) for vm in vms]
    return len(vms), (sum(hours) / len(hours) if hours else 0.0)
