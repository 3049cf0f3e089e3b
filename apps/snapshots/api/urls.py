"""Seed 004's snapshot and restore paths, at the root (config/urls.py)."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("snapshot-policies", views.PolicyListView, "snapshot-policies"),
    ("snapshot-policies/<str:policy_id>", views.PolicyDetailView, "snapshot-policy"),
    ("snapshot-assignments", views.AssignmentListView, "snapshot-assignments"),
    ("snapshot-assignments/<str:assignment_id>", views.AssignmentDetailView, "snapshot-assignment"),
    ("snapshot-runs", views.RunListView, "snapshot-runs"),
    ("snapshot/runs/active/progress", views.ActiveRunProgressView, "snapshot-run-active"),
    ("snapshot/runs/<str:run_id>/progress", views.RunProgressView, "snapshot-run-progress"),
    ("snapshot/run-now", views.RunNowView, "snapshot-run-now"),
    ("snapshot/run-now/status", views.RunNowStatusView, "snapshot-run-now-status"),
    ("restore/config", views.RestoreConfigView, "restore-config"),
    ("restore/snapshots", views.RestoreSnapshotsView, "restore-snapshots"),
    ("restore/vm/<str:vm_id>/restore-points", views.RestorePointsView, "restore-points"),
    ("restore/networks/<str:network_id>/available-ips", views.AvailableIpsView, "restore-ips"),
    ("restore/plan", views.RestorePlanView, "restore-plan"),
    ("restore/execute", views.RestoreExecuteView, "restore-execute"),
    ("restore/jobs", views.RestoreJobListView, "restore-jobs"),
    ("restore/jobs/<str:job_id>", views.RestoreJobDetailView, "restore-job"),
    ("restore/cancel/<str:job_id>", views.RestoreCancelView, "restore-cancel"),
    ("restore/jobs/<str:job_id>/cleanup", views.RestoreCleanupView, "restore-cleanup"),
    ("restore/jobs/<str:job_id>/retry", views.RestoreRetryView, "restore-retry"),
    ("restore/jobs/<str:job_id>/cleanup-storage", views.RestoreStorageView, "restore-storage"),
])
