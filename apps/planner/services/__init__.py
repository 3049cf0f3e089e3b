"""The planner's write side, one module per area; views and tasks import from here."""
from .approval import project_approve
from .assessment import assessment_reset, assessment_run, risk_config_get, risk_config_update
from .cohorts import (
    cohort_assign_tenants,
    cohort_create,
    cohort_delete,
    cohort_get,
    cohort_next_order,
    cohort_readiness_summary,
    cohort_update,
    cohorts_auto_assign,
    plan_reset,
)
from .dependencies import dependency_create, dependency_delete
from .discovered import import_discovered
from .imports import upload_rvtools
from .networks import (
    network_mapping_delete,
    network_mapping_get,
    network_mapping_update,
    network_mapping_upsert,
    network_mappings_bulk_replace,
    network_mappings_confirm_all,
    network_mappings_seed,
)
from .projects import project_create, project_delete, project_get, project_update
from .tenants import (
    tenant_get,
    tenant_readiness,
    tenant_rule_add,
    tenant_update,
    tenants_bulk_replace_target,
    tenants_confirm_all,
    tenants_detect,
)
from .vms import vm_get, vm_mode_override, vm_status_bulk, vm_status_update

__all__ = [
    "assessment_reset", "assessment_run", "cohort_assign_tenants", "cohort_create", "cohort_delete", "cohort_get",
    "cohort_next_order", "cohort_readiness_summary", "cohort_update", "cohorts_auto_assign", "dependency_create",
    "dependency_delete", "import_discovered", "network_mapping_delete", "network_mapping_get",
    "network_mapping_update", "network_mapping_upsert", "network_mappings_bulk_replace",
    "network_mappings_confirm_all", "network_mappings_seed", "plan_reset", "project_approve", "project_create",
    "project_delete", "project_get", "project_update", "risk_config_get", "risk_config_update", "tenant_get",
    "tenant_readiness", "tenant_rule_add", "tenant_update", "tenants_bulk_replace_target", "tenants_confirm_all",
    "tenants_detect", "upload_rvtools", "vm_get", "vm_mode_override", "vm_status_bulk", "vm_status_update",
]
