"""Seed 004's runbook paths (config/urls.py includes them at the root); literal paths before the named ones."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("api/runbooks", views.RunbookListView, "runbooks"),
    ("api/runbooks/trigger", views.TriggerView, "runbook-trigger"),
    ("api/runbooks/executions/history", views.HistoryView, "runbook-history"),
    ("api/runbooks/executions/<str:execution_id>", views.ExecutionDetailView, "runbook-execution"),
    ("api/runbooks/executions/<str:execution_id>/approve", views.ApproveView, "runbook-approve"),
    ("api/runbooks/executions/<str:execution_id>/cancel", views.CancelView, "runbook-cancel"),
    ("api/runbooks/approvals/pending", views.PendingApprovalsView, "runbook-approvals"),
    ("api/runbooks/policies/<str:runbook_name>", views.PolicyView, "runbook-policies"),
    ("api/runbooks/stats/summary", views.StatsView, "runbook-stats"),
    ("api/runbooks/<str:runbook_name>", views.RunbookDetailView, "runbook"),
])
