"""Seed 004's Ops Copilot paths, under /api/copilot/ (config/urls.py)."""
from django.urls import path

from . import views

urlpatterns = [
    path("ask", views.AskView.as_view(), name="copilot-ask"),
    path("suggestions", views.SuggestionsView.as_view(), name="copilot-suggestions"),
    path("history", views.HistoryView.as_view(), name="copilot-history"),
    path("config", views.ConfigView.as_view(), name="copilot-config"),
    path("test-connection", views.TestConnectionView.as_view(), name="copilot-test-connection"),
    path("feedback", views.FeedbackView.as_view(), name="copilot-feedback"),
]
