from django.urls import path

from . import views as v

urlpatterns = [
    # Network mappings (seed 003 "Network Management", seed 000 "Network Mapping").
    path("network-mappings", v.NetworkMappingListCreateView.as_view(), name="network-mappings"),
    path("network-mappings/<str:vm_id>", v.NetworkMappingVMView.as_view(), name="network-mappings-vm"),
    path("network-mappings/<str:vm_id>/status", v.NetworkMappingStatusView.as_view(), name="network-mappings-status"),
    path("network-mappings/<str:vm_id>/<path:source_network_name>", v.NetworkMappingSourceView.as_view(),
         name="network-mappings-source"),
    # Validation (seed 003 "VM Validation", seed 000 "Validation").
    path("vms/<str:vm_id>/failover-readiness", v.ReadinessView.as_view(), name="vm-failover-readiness"),
    path("vms/<str:vm_id>/sync-status", v.SyncStatusView.as_view(), name="vm-sync-status"),
    path("vms/<str:vm_id>/network-mapping-status", v.NetworkMappingStatusVMView.as_view(),
         name="vm-network-mapping-status"),
    path("vms/<str:vm_id>/volume-status", v.VolumeStatusView.as_view(), name="vm-volume-status"),
    path("vms/<str:vm_id>/active-jobs", v.ActiveJobsView.as_view(), name="vm-active-jobs"),
    path("vms/<str:vm_id>/configuration-check", v.ConfigurationCheckView.as_view(), name="vm-configuration-check"),
    # Failover (seed 003 "Failover Management", seed 000 "Failover (Enhanced + Unified)").
    path("failover/live", v.LiveFailoverView.as_view(), name="failover-live"),
    path("failover/test", v.TestFailoverView.as_view(), name="failover-test"),
    path("failover/test/<str:job_id>", v.TestFailoverDetailView.as_view(), name="failover-test-detail"),
    path("failover/unified", v.UnifiedFailoverView.as_view(), name="failover-unified"),
    path("failover/jobs", v.JobListView.as_view(), name="failover-jobs"),
    path("failover/cleanup/<str:vm_name>", v.CleanupTestView.as_view(), name="failover-cleanup"),
    path("failover/rollback", v.RollbackView.as_view(), name="failover-rollback"),
    path("failover/rollback/decision/<str:failover_type>/<str:vm_name>", v.RollbackDecisionView.as_view(),
         name="failover-rollback-decision"),
    path("failover/preflight/validate", v.PreflightValidateView.as_view(), name="failover-preflight-validate"),
    path("failover/preflight/config/<str:failover_type>/<str:vm_name>", v.PreflightConfigView.as_view(),
         name="failover-preflight-config"),
    path("failover/<str:job_id>/status", v.JobStatusView.as_view(), name="failover-job-status"),
    path("failover/<str:vm_id>/readiness", v.ReadinessView.as_view(), name="failover-readiness"),
    path("failover/<str:vm_name>/cleanup-failed", v.CleanupFailedView.as_view(), name="failover-cleanup-failed"),
    path("debug/failover-jobs", v.DebugFailoverJobsView.as_view(), name="debug-failover-jobs"),
]
