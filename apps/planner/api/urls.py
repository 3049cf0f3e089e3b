"""Seed 004's /api/migration paths (mounted by config/urls.py)."""
from django.urls import path

from . import planning_views as pv
from . import views as v

P = "projects/<str:project_id>"

urlpatterns = [
    path("projects", v.ProjectListView.as_view(), name="planner-projects"),
    path(P, v.ProjectDetailView.as_view(), name="planner-project"),
    path(f"{P}/upload", v.UploadView.as_view(), name="planner-upload"),
    path(f"{P}/import-discovered", v.ImportDiscoveredView.as_view(), name="planner-import-discovered"),
    path(f"{P}/vms", v.VMListView.as_view(), name="planner-vms"),
    path(f"{P}/vms/bulk-status", v.VMBulkStatusView.as_view(), name="planner-vms-bulk-status"),
    path(f"{P}/vms/<str:vm_name>/details", v.VMDetailsView.as_view(), name="planner-vm-details"),
    path(f"{P}/vms/<str:vm_id>/status", v.VMStatusView.as_view(), name="planner-vm-status"),
    path(f"{P}/vms/<str:vm_id>/mode-override", v.VMModeOverrideView.as_view(), name="planner-vm-mode"),
    path(f"{P}/vms/<str:vm_id>/dependencies", pv.DependencyCreateView.as_view(), name="planner-vm-dependencies"),
    path(f"{P}/vms/<str:vm_id>/dependencies/<str:dep_id>", pv.DependencyDeleteView.as_view(),
         name="planner-vm-dependency"),
    path(f"{P}/vm-dependencies", pv.DependencyListView.as_view(), name="planner-dependencies"),
    path(f"{P}/export-plan", v.ExportPlanView.as_view(), name="planner-export"),
    path(f"{P}/hosts", v.HostListView.as_view(), name="planner-hosts"),
    path(f"{P}/clusters", v.ClusterListView.as_view(), name="planner-clusters"),
    path(f"{P}/stats", v.StatsView.as_view(), name="planner-stats"),
    path(f"{P}/risk-config", v.RiskConfigView.as_view(), name="planner-risk-config"),
    path(f"{P}/assess", v.AssessView.as_view(), name="planner-assess"),
    path(f"{P}/reset-assessment", v.ResetAssessmentView.as_view(), name="planner-reset-assessment"),
    path(f"{P}/reset-plan", v.ResetPlanView.as_view(), name="planner-reset-plan"),
    path(f"{P}/approve", v.ApproveView.as_view(), name="planner-approve"),
    path(f"{P}/bandwidth", v.BandwidthView.as_view(), name="planner-bandwidth"),
    path(f"{P}/agent-recommendation", v.AgentRecommendationView.as_view(), name="planner-agent-recommendation"),
    path(f"{P}/tenants", pv.TenantListView.as_view(), name="planner-tenants"),
    path(f"{P}/tenants/detect", pv.TenantDetectView.as_view(), name="planner-tenants-detect"),
    path(f"{P}/tenants/bulk-replace-target", pv.TenantBulkReplaceView.as_view(), name="planner-tenants-replace"),
    path(f"{P}/tenants/confirm-all", pv.TenantConfirmAllView.as_view(), name="planner-tenants-confirm"),
    path(f"{P}/tenants/<str:tenant_id>", pv.TenantDetailView.as_view(), name="planner-tenant"),
    path(f"{P}/tenants/<str:tenant_id>/readiness", pv.TenantReadinessView.as_view(), name="planner-tenant-ready"),
    path(f"{P}/network-mappings", pv.NetworkMappingListView.as_view(), name="planner-networks"),
    path(f"{P}/network-mappings/bulk-replace", pv.NetworkBulkReplaceView.as_view(), name="planner-networks-replace"),
    path(f"{P}/network-mappings/confirm-all", pv.NetworkConfirmAllView.as_view(), name="planner-networks-confirm"),
    path(f"{P}/network-mappings/<str:mapping_id>", pv.NetworkMappingDetailView.as_view(), name="planner-network"),
    path(f"{P}/cohorts", pv.CohortListView.as_view(), name="planner-cohorts"),
    path(f"{P}/cohorts/auto-assign", pv.AutoAssignView.as_view(), name="planner-cohorts-auto"),
    path(f"{P}/cohorts/<str:cohort_id>", pv.CohortDetailView.as_view(), name="planner-cohort"),
    path(f"{P}/cohorts/<str:cohort_id>/assign-tenants", pv.AssignTenantsView.as_view(), name="planner-cohort-assign"),
    path(f"{P}/cohorts/<str:cohort_id>/summary", pv.CohortSummaryView.as_view(), name="planner-cohort-summary"),
    path(f"{P}/cohorts/<str:cohort_id>/readiness-summary", pv.CohortReadinessView.as_view(),
         name="planner-cohort-readiness"),
]
