"""Seed 004's Ops Copilot endpoints under /api/copilot/ (config/urls.py)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from .. import services
from ..models import CopilotSettings
from ..suggestions import suggestions
from . import serializers as s
from .base import CopilotView, errors


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AskView(CopilotView):
    """The built-in intent matcher answers from the collected CloudStack tables and the migrations' jobs; what it
    cannot answer goes to the LLM backend if an admin configured one (then `data_sent_external` is true)."""

    @extend_schema(summary="Ask a question (answered from the platform's data; nothing is executed)",
                   request=s.AskRequestSerializer, responses={200: s.AskSerializer})
    def post(self, request):
        question = _valid(s.AskRequestSerializer, request.data)["question"]
        exchange = services.ask(request.user, question)
        return Response({"answer": exchange.answer, "intent": exchange.intent, "backend_used": exchange.backend_used,
                         "confidence": exchange.confidence, "tokens_used": exchange.tokens_used,
                         "data_sent_external": exchange.data_sent_external, "history_id": exchange.id})


class SuggestionsView(CopilotView):
    """Quick-start questions in 8 categories; `template` chips need a name added."""

    @extend_schema(summary="Suggestion chips in categories, and tips", responses=s.SuggestionsSerializer)
    def get(self, request):
        return Response(suggestions())


class HistoryView(CopilotView):
    """Your own questions and answers, newest first (at most 200)."""

    @extend_schema(summary="The current user's conversation history (newest 200)",
                   responses=s.HistorySerializer(many=True))
    def get(self, request):
        return Response(s.HistorySerializer(services.history(request.user), many=True).data)


class ConfigView(CopilotView):
    """Which engine answers what the built-in matcher cannot. Any backend but `builtin` sends questions and a
    summary of the platform's figures out of the platform. The API key is write-only (`api_key_set` says whether
    one is stored, encrypted)."""

    permission = "copilot:admin"

    @extend_schema(summary="The copilot's backend configuration (admin)", responses=s.ConfigSerializer)
    def get(self, request):
        return Response(s.ConfigSerializer(CopilotSettings.load()).data)

    @extend_schema(summary="Change the backend and its settings, at once (admin)", request=s.ConfigSerializer,
                   responses={200: s.ConfigSerializer})
    def put(self, request):
        serializer = s.ConfigSerializer(CopilotSettings.load(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        config = services.config_update(serializer.validated_data, user=request.user.get_username())
        return Response(s.ConfigSerializer(config).data)


class TestConnectionView(CopilotView):
    """Calls the backend the body describes (the saved configuration for what it leaves out); saves nothing."""

    permission = "copilot:admin"

    @extend_schema(summary="Test the LLM backend (admin): a one-word chat completion",
                   request=s.TestConnectionRequestSerializer, responses={200: s.TestConnectionSerializer})
    def post(self, request):
        return Response(services.test_connection(_valid(s.TestConnectionRequestSerializer, request.data)))


class FeedbackView(CopilotView):
    """Thumbs up or down on one of your own answers (its `history_id`)."""

    @extend_schema(summary="Thumbs up or down on one of your answers", request=s.FeedbackRequestSerializer,
                   responses={200: s.StatusSerializer, **errors(404)})
    def post(self, request):
        data = _valid(s.FeedbackRequestSerializer, request.data)
        services.feedback(request.user, data["history_id"], data["feedback"])
        return Response({"status": "ok"})
