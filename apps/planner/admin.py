"""The planner's projects in the operations console (read mostly: the API is where plans are made)."""
from django.contrib import admin

from .models import Cohort, Project, SourceVM, Tenant


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "topology_type", "target_scope", "uploaded_at", "assessed_at", "approved_at")
    list_filter = ("status", "topology_type")
    search_fields = ("name",)
    readonly_fields = ("project_id", "uploaded_at", "assessed_at", "approved_at", "approved_by", "approval_report")


@admin.register(SourceVM)
class SourceVMAdmin(admin.ModelAdmin):
    list_display = ("vm_name", "project", "tenant", "risk_level", "migration_mode", "mode_override",
                    "migration_status")
    list_filter = ("risk_level", "migration_mode", "migration_status", "os_family")
    search_fields = ("vm_name", "vm_uuid")
    list_select_related = ("project", "tenant")
    raw_id_fields = ("project", "tenant")


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("tenant_name", "org_vdc", "project", "cohort", "target_domain_name", "target_project_name",
                    "target_confirmed")
    list_select_related = ("project", "cohort")
    search_fields = ("tenant_name",)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "cohort_order", "status", "scheduled_start", "scheduled_end")
    list_select_related = ("project",)
