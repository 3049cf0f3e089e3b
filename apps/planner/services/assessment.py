"""Assessment: every VM's risk score, level and reasons and its migration mode, from the project's rule set.

The rule set (``risk-config``) holds weights, thresholds and the OS patterns CloudStack's hypervisors do not run;
a PUT merges into the defaults, so an operator changes one weight without restating the rest.
"""
from __future__ import annotations

import copy

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from apps.core.exceptions import InvalidInput

from ..choices import MigrationMode, ProjectStatus, RiskLevel
from ..models import Project, SourceDisk, SourceNIC, SourceVM
from .projects import project_get
from .tenants import tenants_detect

DEFAULT_RISK_CONFIG = {
    "weights": {"unsupported_os": 40, "unknown_os": 10, "large_disk": 15, "very_large_disk": 30, "snapshots": 10,
                "rdm": 50, "independent_disk": 30, "no_cbt": 15, "many_disks": 10, "unmapped_network": 10,
                "unconfirmed_network": 5, "disconnected_nic": 5},
    "thresholds": {"large_disk_gb": 2048, "very_large_disk_gb": 8192, "many_disks": 8, "yellow_min_score": 20,
                   "red_min_score": 50},
    "unsupported_os_patterns": ["windows 2000", "windows server 2003", "windows xp", "windows nt", "windows 98",
                                "windows 95", "solaris", "netware", "os/2", "dos", "sco"],
}


def _merge(base: dict, change: dict, where: str = "") -> dict:
    merged = copy.deepcopy(base)
    for key, value in change.items():
        name = f"{where}{key}"
        if key not in base:
            raise InvalidInput(f"Unknown risk setting {name!r}", details={"allowed": sorted(base)})
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise InvalidInput(f"Risk setting {name!r} must be an object")
            merged[key] = _merge(base[key], value, f"{name}.")
        elif isinstance(base[key], list):
            if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value) \
                    or len(value) > 200:
                raise InvalidInput(f"Risk setting {name!r} must be a list of up to 200 short strings")
            merged[key] = [v.lower() for v in value]
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10**7:
                raise InvalidInput(f"Risk setting {name!r} must be a number from 0 to 10000000")
            merged[key] = value
    return merged


def risk_config_get(project: Project) -> dict:
    return _merge(DEFAULT_RISK_CONFIG, project.risk_config or {})


def risk_config_update(*, project: Project, data: dict) -> dict:
    merged = _merge(risk_config_get(project), data)
    project.risk_config = merged
    project.save(update_fields=["risk_config", "updated_at"])
    return merged


def network_states(project: Project) -> dict[str, str]:
    """source network -> "mapped" | "unconfirmed" (a row not confirmed yet, or with no target)."""
    return {m.source_network_name: ("mapped" if m.confirmed and m.target_network_name else "unconfirmed")
            for m in project.network_mappings.all()}


def assess_vm(vm: SourceVM, config: dict, networks: dict[str, str]) -> tuple[int, str, list[str], str]:
    """(score, level, reasons, mode) of one VM whose disks, NICs and snapshots are loaded."""
    weights, limits = config["weights"], config["thresholds"]
    score, reasons, cold, risky = 0, [], [], []

    def add(weight_name: str, reason: str):
        nonlocal score
        score += int(weights[weight_name])
        reasons.append(f"{reason} (+{weights[weight_name]})")

    guest = vm.guest_os.lower()
    if not guest:
        add("unknown_os", "guest OS unknown")
    elif any(pattern in guest for pattern in config["unsupported_os_patterns"]):
        add("unsupported_os", f"guest OS not supported on the destination: {vm.guest_os}")
    disks = list(vm.disks.all())
    biggest = max((d.capacity_gb for d in disks), default=vm.total_disk_gb)
    if biggest >= limits["very_large_disk_gb"]:
        add("very_large_disk", f"a disk of {biggest:,.0f} GB (>= {limits['very_large_disk_gb']} GB)")
        risky.append("very large disk")
    elif biggest >= limits["large_disk_gb"]:
        add("large_disk", f"a disk of {biggest:,.0f} GB (>= {limits['large_disk_gb']} GB)")
    if len(disks) >= limits["many_disks"]:
        add("many_disks", f"{len(disks)} disks (>= {limits['many_disks']})")
    rdms = [d.disk_label for d in disks if d.is_rdm]
    if rdms:
        add("rdm", f"raw device mapping: {', '.join(rdms)}")
        cold.append("RDM disks cannot be snapshotted")
    independent = [d.disk_label for d in disks if "independent" in d.disk_mode.lower()]
    if independent:
        add("independent_disk", f"independent disk: {', '.join(independent)}")
        cold.append("independent disks are left out of snapshots")
    snapshots = list(vm.snapshots.all())
    if snapshots:
        add("snapshots", f"{len(snapshots)} existing snapshot(s)")
        risky.append("existing snapshot chain")
    if vm.cbt_enabled is not True:
        add("no_cbt", "changed block tracking " + ("off" if vm.cbt_enabled is False else "unknown"))
        risky.append("CBT must be enabled before the first copy")
    for nic in vm.nics.all():
        state = networks.get(nic.network_name)
        if nic.connected is False:
            add("disconnected_nic", f"{nic.nic_label or 'a NIC'} is disconnected")
        if not nic.network_name:
            continue
        if state is None:
            add("unmapped_network", f"network {nic.network_name!r} has no mapping")
        elif state == "unconfirmed":
            add("unconfirmed_network", f"network {nic.network_name!r} mapping not confirmed")
    level = (RiskLevel.RED if score >= limits["red_min_score"] else
             RiskLevel.YELLOW if score >= limits["yellow_min_score"] else RiskLevel.GREEN)
    if vm.power_state and vm.power_state.lower() != "poweredon":
        cold.append(f"{vm.power_state}: a cold copy costs no downtime")
    if cold:
        mode = MigrationMode.COLD_REQUIRED
        reasons += [f"cold: {why}" for why in cold]
    elif risky or level == RiskLevel.RED:
        mode = MigrationMode.WARM_RISKY
        reasons += [f"warm risky: {why}" for why in (risky or ["risk level RED"])]
    else:
        mode = MigrationMode.WARM_ELIGIBLE
    if not reasons:
        reasons.append("no risk factors found")
    return score, level, reasons, mode


def assessment_run(*, project: Project) -> dict:
    with transaction.atomic():
        project = project_get(project.pk, lock=True)
        tenants_detect(project=project)
        config = risk_config_get(project)
        networks = network_states(project)
        vms = list(project.vms.prefetch_related(
            Prefetch("disks", queryset=SourceDisk.objects.only("id", "vm_id", "disk_label", "capacity_gb", "is_rdm",
                                                               "disk_mode")),
            Prefetch("nics", queryset=SourceNIC.objects.only("id", "vm_id", "nic_label", "network_name",
                                                             "connected")),
            "snapshots"))
        risk, modes = {level: 0 for level in RiskLevel.values}, {mode: 0 for mode in MigrationMode.values}
        for vm in vms:
            vm.risk_score, vm.risk_level, vm.risk_reasons, vm.migration_mode = assess_vm(vm, config, networks)
            risk[vm.risk_level] += 1
            modes[vm.migration_mode] += 1
        SourceVM.objects.bulk_update(vms, ["risk_score", "risk_level", "risk_reasons", "migration_mode"],
                                     batch_size=500)
        project.status = ProjectStatus.ASSESSMENT if project.status == ProjectStatus.DRAFT else project.status
        project.assessed_at = timezone.now()
        project.save(update_fields=["status", "assessed_at", "updated_at"])
    return {"status": "ok", "project_status": project.status, "vm_count": len(vms),
            "tenant_count": project.tenants.count(), "risk_distribution": risk, "mode_distribution": modes}


@transaction.atomic
def assessment_reset(*, project: Project) -> dict:
    project = project_get(project.pk, lock=True)
    count = project.vms.update(risk_score=None, risk_level="", risk_reasons=[], migration_mode="")
    if project.status == ProjectStatus.ASSESSMENT:
        project.status = ProjectStatus.DRAFT
    project.assessed_at = None
    project.save(update_fields=["status", "assessed_at", "updated_at"])
    return {"status": "ok", "affected_count": count}
