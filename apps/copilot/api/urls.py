"""Seed 004's Ops Copilot paths, under /api/copilot/ (config/urls.py)."""
from apps.core.api.routes import routes

from . import views

urlpatterns = routes([
    ("ask", views.AskView, "copilot-ask"),
    ("suggestions", views.SuggestionsView, "copilot-suggestions"),
    ("history", views.HistoryView, "copilot-history"),
    ("config", views.ConfigView, "copilot-config"),
    ("test-connection", views.TestConnectionView, "copilot-test-connection"),
    ("feedback", views.FeedbackView, "copilot-feedback"),
])
