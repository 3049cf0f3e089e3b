"""The planner's vocabularies, spelled as seed 004 spells them (clients match on these strings)."""
from __future__ import annotations

from apps.core.choices import vocabulary

ProjectStatus = vocabulary("ProjectStatus", "draft assessment planning approved archived")
Topology = vocabulary("Topology", "local cross_site_dedicated cross_site_internet")
# Where a tenant lands in CloudStack: its domain plus an account, or a project, inside that domain.
TargetScope = vocabulary("TargetScope", "domain account project")
RiskLevel = vocabulary("RiskLevel", "GREEN YELLOW RED")
MigrationMode = vocabulary("MigrationMode", "warm_eligible warm_risky cold_required")
ModeOverride = vocabulary("ModeOverride", "warm cold")
OsFamily = vocabulary("OsFamily", "windows linux other")
VMStatus = vocabulary("VMStatus", "not_started assigned in_progress migrated failed skipped")
DetectionMethod = vocabulary("DetectionMethod", "folder_path resource_pool vm_name_prefix cluster annotation")
DependencyType = vocabulary("DependencyType", "must_complete_before same_wave")
CohortStatus = vocabulary("CohortStatus", "planned ready in_progress completed blocked")
AutoAssignStrategy = vocabulary("AutoAssignStrategy", "priority equal_split risk")
CheckStatus = vocabulary("CheckStatus", "pass fail")
CohortReadiness = vocabulary("CohortReadiness", "all_pass partial blocked")

# The bottleneck names of the bandwidth model; "pcd_storage" is the seed's word for the destination's primary
# storage (CloudStack's here), kept so existing clients read it.
Bottleneck = vocabulary("Bottleneck", "source link agent STORAGE=pcd_storage")

TENANT_TARGET_FIELDS = ("target_domain_name", "target_domain_description", "target_project_name",
                        "target_display_name")
