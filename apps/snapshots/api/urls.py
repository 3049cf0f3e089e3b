"""Seed 004's snapshot and restore paths, at the root (config/urls.py)."""
from django.urls import path

from . import views

urlpatterns = [
    path("snapshot-policies", views.PolicyListView.as_view(), name="snapshot-policies"),
    path("snapshot-policies/<str:policy_id>", views.PolicyDetailView.as_view(), name="snapshot-policy"),
    path("snapshot-assignments", views.AssignmentListView.as_view(), name="snapshot-assignments"),
    path("snapshot-assignments/<str:assignment_id>", views.AssignmentDetailView.as_view(), name="snapshot-assignment"),
    path("snapshot-runs", views.RunListView.as_view(), name="snapshot-runs"),
    path("snapshot/runs/active/progress", views.ActiveRunProgressView.as_view(), name="snapshot-run-active"),
    path("snapshot/runs/<str:run_id>/progress", views.RunProgressView.as_view(), name="snapshot-run-progress"),
    path("snapshot/run-now", views.RunNowView.as_view(), name="snapshot-run-now"),
    path("snapshot/run-now/status", views.RunNowStatusView.as_view(), name="snapshot-run-now-status"),
    path("restore/config", views.RestoreConfigView.as_view(), name="restore-config"),
    path("restore/snapshots", views.RestoreSnapshotsView.as_view(), name="restore-snapshots"),
    path("restore/vm/<str:vm_id>/restore-points", views.RestorePointsView.as_view(), name="restore-points"),
    path("restore/networks/<str:network_id>/available-ips", views.AvailableIpsView.as_view(), name="restore-ips"),
    path("restore/plan", views.RestorePlanView.as_view(), name="restore-plan"),
    path("restore/execute", views.RestoreExecuteView.as_view(), name="restore-execute"),
    path("restore/jobs", views.RestoreJobListView.as_view(), name="restore-jobs"),
    path("restore/jobs/<str:job_id>", views.RestoreJobDetailView.as_view(), name="restore-job"),
    path("restore/cancel/<str:job_id>", views.RestoreCancelView.as_view(), name="restore-cancel"),
    path("restore/jobs/<str:job_id>/cleanup", views.RestoreCleanupView.as_view(), name="restore-cleanup"),
    path("restore/jobs/<str:job_id>/retry", views.RestoreRetryView.as_view(), name="restore-retry"),
    path("restore/jobs/<str:job_id>/cleanup-storage", views.RestoreStorageView.as_view(), name="restore-storage"),
]
