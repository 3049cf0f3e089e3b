"""Seed 004's runbook paths (config/urls.py includes them at the root); literal paths before the named ones."""
from django.urls import path

from . import views

urlpatterns = [
    path("api/runbooks", views.RunbookListView.as_view(), name="runbooks"),
    path("api/runbooks/trigger", views.TriggerView.as_view(), name="runbook-trigger"),
    path("api/runbooks/executions/history", views.HistoryView.as_view(), name="runbook-history"),
    path("api/runbooks/executions/<str:execution_id>", views.ExecutionDetailView.as_view(), name="runbook-execution"),
    path("api/runbooks/executions/<str:execution_id>/approve", views.ApproveView.as_view(), name="runbook-approve"),
    path("api/runbooks/executions/<str:execution_id>/cancel", views.CancelView.as_view(), name="runbook-cancel"),
    path("api/runbooks/approvals/pending", views.PendingApprovalsView.as_view(), name="runbook-approvals"),
    path("api/runbooks/policies/<str:runbook_name>", views.PolicyView.as_view(), name="runbook-policies"),
    path("api/runbooks/stats/summary", views.StatsView.as_view(), name="runbook-stats"),
    path("api/runbooks/<str:runbook_name>", views.RunbookDetailView.as_view(), name="runbook"),
]
