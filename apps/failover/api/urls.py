from apps.core.api.routes import routes

from . import views as v

urlpatterns = routes([
    # Network mappings (seed 003 "Network Management", seed 000 "Network Mapping").
    ("network-mappings", v.NetworkMappingListCreateView, "network-mappings"),
    ("network-mappings/<str:vm_id>", v.NetworkMappingVMView, "network-mappings-vm"),
    ("network-mappings/<str:vm_id>/status", v.NetworkMappingStatusView, "network-mappings-status"),
    ("network-mappings/<str:vm_id>/<path:source_network_name>", v.NetworkMappingSourceView, "network-mappings-source"),
    # Validation (seed 003 "VM Validation", seed 000 "Validation").
    ("vms/<str:vm_id>/failover-readiness", v.ReadinessView, "vm-failover-readiness"),
    ("vms/<str:vm_id>/sync-status", v.SyncStatusView, "vm-sync-status"),
    ("vms/<str:vm_id>/network-mapping-status", v.NetworkMappingStatusVMView, "vm-network-mapping-status"),
    ("vms/<str:vm_id>/volume-status", v.VolumeStatusView, "vm-volume-status"),
    ("vms/<str:vm_id>/active-jobs", v.ActiveJobsView, "vm-active-jobs"),
    ("vms/<str:vm_id>/configuration-check", v.ConfigurationCheckView, "vm-configuration-check"),
    # Failover (seed 003 "Failover Management", seed 000 "Failover (Enhanced + Unified)").
    ("failover/live", v.LiveFailoverView, "failover-live"),
    ("failover/test", v.TestFailoverView, "failover-test"),
    ("failover/test/<str:job_id>", v.TestFailoverDetailView, "failover-test-detail"),
    ("failover/unified", v.UnifiedFailoverView, "failover-unified"),
    ("failover/jobs", v.JobListView, "failover-jobs"),
    ("failover/cleanup/<str:vm_name>", v.CleanupTestView, "failover-cleanup"),
    ("failover/rollback", v.RollbackView, "failover-rollback"),
    ("failover/rollback/decision/<str:failover_type>/<str:vm_name>", v.RollbackDecisionView, "failover-rollback-decision"),
    ("failover/preflight/validate", v.PreflightValidateView, "failover-preflight-validate"),
    ("failover/preflight/config/<str:failover_type>/<str:vm_name>", v.PreflightConfigView, "failover-preflight-config"),
    ("failover/<str:job_id>/status", v.JobStatusView, "failover-job-status"),
    ("failover/<str:vm_id>/readiness", v.ReadinessView, "failover-readiness"),
    ("failover/<str:vm_name>/cleanup-failed", v.CleanupFailedView, "failover-cleanup-failed"),
    ("debug/failover-jobs", v.DebugFailoverJobsView, "debug-failover-jobs"),
])
