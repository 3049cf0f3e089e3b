"""Tenants: detection from folders, pools and names (the project's rules first), target names in CloudStack,
readiness."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, Sum

from ..choices import TENANT_TARGET_FIELDS, CheckStatus, DetectionMethod, RiskLevel, VMStatus
from ..models import NetworkMapping, Project, SourceNIC, SourceVM, Tenant, TenantReadinessCheck, TenantRule
from .text import bulk_replace, child_get

DEFAULT_TENANT = "default"
TENANT_FIELDS = (*TENANT_TARGET_FIELDS, "target_confirmed", "migration_priority", "quota_vcpu", "quota_ram_gb",
                 "quota_disk_gb")


def tenant_get(project: Project, tenant_id) -> Tenant:
    return child_get(project.tenants.all(), tenant_id, "Tenant")


def _rule_matches(rule: TenantRule, vm: SourceVM) -> bool:
    pattern = rule.pattern_value.lower()
    if rule.detection_method == DetectionMethod.FOLDER_PATH:
        return pattern in vm.folder_path.lower()
    if rule.detection_method == DetectionMethod.RESOURCE_POOL:
        return pattern in vm.resource_pool.lower()
    if rule.detection_method == DetectionMethod.VM_NAME_PREFIX:
        return vm.vm_name.lower().startswith(pattern)
    if rule.detection_method == DetectionMethod.CLUSTER:
        return vm.cluster.lower() == pattern
    return pattern in vm.annotation.lower()


def _segments(path: str) -> list[str]:
    parts = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    # vCenter's own containers say nothing about the tenant.
    return [p for p in parts if p.lower() not in ("vm", "resources", "discovered virtual machine")]


def detect_one(vm: SourceVM, rules: list[TenantRule]) -> tuple[str, str, str]:
    """(tenant_name, org_vdc, how): the first rule that matches, else the folder, else the resource pool."""
    for rule in rules:
        if _rule_matches(rule, vm):
            return rule.tenant_name, "", rule.detection_method
    for method, path in ((DetectionMethod.FOLDER_PATH, vm.folder_path), (DetectionMethod.RESOURCE_POOL,
                                                                         vm.resource_pool)):
        parts = _segments(path)
        if parts:
            return parts[0][:255], (parts[1] if len(parts) > 1 else "")[:255], method
    return DEFAULT_TENANT, "", ""


@transaction.atomic
def tenants_detect(*, project: Project) -> int:
    """Re-applies the rules to every VM; tenants keep their cohort and target names, empty ones go."""
    rules = list(project.tenant_rules.all())
    vms = list(project.vms.only("id", "project_id", "vm_name", "folder_path", "resource_pool", "cluster", "annotation",
                                "tenant_id"))
    found = {vm.pk: detect_one(vm, rules) for vm in vms}
    existing = {(t.tenant_name, t.org_vdc): t for t in project.tenants.all()}
    new = {}
    for name, org_vdc, how in found.values():
        if (name, org_vdc) not in existing and (name, org_vdc) not in new:
            new[(name, org_vdc)] = Tenant(
                project=project, tenant_name=name, org_vdc=org_vdc, detection_method=how,
                target_domain_name=name, target_domain_description=name, target_project_name=org_vdc or name,
                target_display_name=f"{name} {org_vdc}".strip())
    Tenant.objects.bulk_create(new.values())
    tenants = {(t.tenant_name, t.org_vdc): t for t in project.tenants.all()}
    for vm in vms:
        name, org_vdc, _ = found[vm.pk]
        vm.tenant_id = tenants[(name, org_vdc)].pk
    SourceVM.objects.bulk_update(vms, ["tenant_id"], batch_size=500)
    used = {key for key in ((n, o) for n, o, _ in found.values())}
    project.tenants.exclude(pk__in=[t.pk for key, t in tenants.items() if key in used]).delete()
    return len(used)


def tenant_rule_add(*, project: Project, data: dict) -> tuple[TenantRule, int]:
    with transaction.atomic():
        rule = TenantRule.objects.create(project=project, **data)
        count = tenants_detect(project=project)
    return rule, count


def tenant_update(*, tenant: Tenant, data: dict) -> Tenant:
    for name, value in data.items():
        if name in TENANT_FIELDS:
            setattr(tenant, name, value)
    if any(name in TENANT_TARGET_FIELDS for name in data) and "target_confirmed" not in data:
        tenant.target_confirmed = False  # a changed target needs the operator's look again
    tenant.save()
    return tenant


def tenants_bulk_replace_target(*, project: Project, field: str, **options) -> dict:
    return bulk_replace(project.tenants.all(), field=field, confirmed_field="target_confirmed",
                        describe=lambda t: {"tenant_name": t.tenant_name, "org_vdc": t.org_vdc}, **options)


def tenants_confirm_all(*, project: Project) -> dict:
    return {"status": "ok", "affected_count": project.tenants.filter(target_confirmed=False).update(
        target_confirmed=True)}


def _checks(tenant: Tenant) -> list[dict]:
    in_scope = tenant.vms.exclude(migration_status=VMStatus.SKIPPED)
    totals = in_scope.aggregate(vms=Count("id"), vcpu=Sum("num_cpu"), ram=Sum("memory_mb"), disk=Sum("total_disk_gb"),
                                red=Count("id", filter=Q(risk_level=RiskLevel.RED, mode_override__isnull=True)),
                                unclassified=Count("id", filter=Q(migration_mode="")))
    networks = set(SourceNIC.objects.filter(vm__in=in_scope).exclude(network_name="")
                   .values_list("network_name", flat=True))
    mapped = set(NetworkMapping.objects.filter(project_id=tenant.project_id, source_network_name__in=networks,
                                               confirmed=True).exclude(target_network_name="")
                 .values_list("source_network_name", flat=True))
    unmapped = len(networks - mapped)
    checks = []

    def check(name, ok, notes=""):
        checks.append({"check_name": name, "check_status": CheckStatus.PASS if ok else CheckStatus.FAIL,
                       "notes": "" if ok else notes})

    target_set = bool(tenant.target_domain_name and tenant.target_project_name)
    check("target_mapped", target_set and tenant.target_confirmed,
          "target domain/project not set" if not target_set else "target names not confirmed")
    check("network_mapped", unmapped == 0, f"{unmapped} unmapped network{'s' if unmapped != 1 else ''}")
    short = []
    if tenant.quota_vcpu is not None and (totals["vcpu"] or 0) > tenant.quota_vcpu:
        short.append(f"vCPU {totals['vcpu']} > {tenant.quota_vcpu}")
    if tenant.quota_ram_gb is not None and (totals["ram"] or 0) / 1024 > tenant.quota_ram_gb:
        short.append(f"RAM {(totals['ram'] or 0) / 1024:.1f} GB > {tenant.quota_ram_gb} GB")
    if tenant.quota_disk_gb is not None and (totals["disk"] or 0) > tenant.quota_disk_gb:
        short.append(f"disk {totals['disk']:.1f} GB > {tenant.quota_disk_gb} GB")
    check("quota_sufficient", not short, "; ".join(short))
    check("no_critical_gaps", totals["red"] == 0, f"{totals['red']} RED VM(s) without an override")
    check("vms_classified", totals["unclassified"] == 0 and totals["vms"] > 0,
          f"{totals['unclassified']} VM(s) not assessed" if totals["vms"] else "no VMs in scope")
    return checks


@transaction.atomic
def tenant_readiness(*, tenant: Tenant) -> dict:
    checks = _checks(tenant)
    for item in checks:
        TenantReadinessCheck.objects.update_or_create(
            tenant=tenant, check_name=item["check_name"],
            defaults={"check_status": item["check_status"], "notes": item["notes"]})
    score = sum(1 for item in checks if item["check_status"] == CheckStatus.PASS)
    return {"tenant_id": tenant.pk, "tenant_name": tenant.tenant_name,
            "overall": CheckStatus.PASS if score == len(checks) else CheckStatus.FAIL, "score": score,
            "checks": checks}
