"""Seed 004's /api/migration paths (mounted by config/urls.py)."""
from apps.core.api.routes import routes

from . import planning_views as pv
from . import views as v

P = "projects/<str:project_id>"

urlpatterns = routes([
    ("projects", v.ProjectListView, "planner-projects"),
    (P, v.ProjectDetailView, "planner-project"),
    (f"{P}/upload", v.UploadView, "planner-upload"),
    (f"{P}/import-discovered", v.ImportDiscoveredView, "planner-import-discovered"),
    (f"{P}/vms", v.VMListView, "planner-vms"),
    (f"{P}/vms/bulk-status", v.VMBulkStatusView, "planner-vms-bulk-status"),
    (f"{P}/vms/<str:vm_name>/details", v.VMDetailsView, "planner-vm-details"),
    (f"{P}/vms/<str:vm_id>/status", v.VMStatusView, "planner-vm-status"),
    (f"{P}/vms/<str:vm_id>/mode-override", v.VMModeOverrideView, "planner-vm-mode"),
    (f"{P}/vms/<str:vm_id>/dependencies", pv.DependencyCreateView, "planner-vm-dependencies"),
    (f"{P}/vms/<str:vm_id>/dependencies/<str:dep_id>", pv.DependencyDeleteView, "planner-vm-dependency"),
    (f"{P}/vm-dependencies", pv.DependencyListView, "planner-dependencies"),
    (f"{P}/export-plan", v.ExportPlanView, "planner-export"),
    (f"{P}/hosts", v.HostListView, "planner-hosts"),
    (f"{P}/clusters", v.ClusterListView, "planner-clusters"),
    (f"{P}/stats", v.StatsView, "planner-stats"),
    (f"{P}/risk-config", v.RiskConfigView, "planner-risk-config"),
    (f"{P}/assess", v.AssessView, "planner-assess"),
    (f"{P}/reset-assessment", v.ResetAssessmentView, "planner-reset-assessment"),
    (f"{P}/reset-plan", v.ResetPlanView, "planner-reset-plan"),
    (f"{P}/approve", v.ApproveView, "planner-approve"),
    (f"{P}/bandwidth", v.BandwidthView, "planner-bandwidth"),
    (f"{P}/agent-recommendation", v.AgentRecommendationView, "planner-agent-recommendation"),
    (f"{P}/tenants", pv.TenantListView, "planner-tenants"),
    (f"{P}/tenants/detect", pv.TenantDetectView, "planner-tenants-detect"),
    (f"{P}/tenants/bulk-replace-target", pv.TenantBulkReplaceView, "planner-tenants-replace"),
    (f"{P}/tenants/confirm-all", pv.TenantConfirmAllView, "planner-tenants-confirm"),
    (f"{P}/tenants/<str:tenant_id>", pv.TenantDetailView, "planner-tenant"),
    (f"{P}/tenants/<str:tenant_id>/readiness", pv.TenantReadinessView, "planner-tenant-ready"),
    (f"{P}/network-mappings", pv.NetworkMappingListView, "planner-networks"),
    (f"{P}/network-mappings/bulk-replace", pv.NetworkBulkReplaceView, "planner-networks-replace"),
    (f"{P}/network-mappings/confirm-all", pv.NetworkConfirmAllView, "planner-networks-confirm"),
    (f"{P}/network-mappings/<str:mapping_id>", pv.NetworkMappingDetailView, "planner-network"),
    (f"{P}/cohorts", pv.CohortListView, "planner-cohorts"),
    (f"{P}/cohorts/auto-assign", pv.AutoAssignView, "planner-cohorts-auto"),
    (f"{P}/cohorts/<str:cohort_id>", pv.CohortDetailView, "planner-cohort"),
    (f"{P}/cohorts/<str:cohort_id>/assign-tenants", pv.AssignTenantsView, "planner-cohort-assign"),
    (f"{P}/cohorts/<str:cohort_id>/summary", pv.CohortSummaryView, "planner-cohort-summary"),
    (f"{P}/cohorts/<str:cohort_id>/readiness-summary", pv.CohortReadinessView, "planner-cohort-readiness"),
])
