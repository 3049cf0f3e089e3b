"""The copilot's request and answer shapes, field for field as seed 004 shows them (and a few of our own, named)."""
from __future__ import annotations

from django.core.validators import URLValidator
from rest_framework import serializers

from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

from ..choices import Backend, Feedback
from ..models import CopilotSettings, Exchange

NOTICE_BUILTIN = "Built-in engine: questions and data stay on the platform."
NOTICE_EXTERNAL = ("With the {backend} backend, questions the built-in engine cannot answer, and a summary of the "
                   "platform's figures, are sent to {url}: they leave the platform.")

_HTTP = URLValidator(schemes=["http", "https"])


class AskRequestSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=1000, help_text="The question in plain words; scope it with "
                                                                "\"on tenant <name>\" or \"on host <hostname>\"")


class AskSerializer(PlainSerializer):
    answer = serializers.CharField(help_text="Markdown")
    intent = serializers.CharField(help_text="The built-in intent that answered; `llm` or `unknown` otherwise")
    backend_used = serializers.ChoiceField(choices=Backend.choices)
    plain = Plain("confidence:float? tokens_used:int?")
    data_sent_external = serializers.BooleanField(help_text="Whether the question left the platform (an LLM)")
    plain_tail = Plain("history_id:int")


class HistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Exchange
        fields = ["id", "question", "answer", "intent", "backend_used", "confidence", "created_at", "feedback"]


class ConfigSerializer(serializers.ModelSerializer):
    ollama_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False)
    openai_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False,
                                       help_text="Base URL of the OpenAI-compatible API (ours; the seed has none)")
    api_key = serializers.CharField(max_length=1024, write_only=True, required=False, allow_blank=True,
                                    help_text="Encrypted at rest, never returned; blank clears it")
    api_key_set = serializers.SerializerMethodField()
    anthropic_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False,
                                          help_text="Base URL of Anthropic's Messages API (ours; the seed has none)")
    anthropic_api_key = serializers.CharField(max_length=1024, write_only=True, required=False, allow_blank=True,
                                              help_text="The anthropic backend's key: encrypted at rest, never "
                                                        "returned; blank clears it")
    anthropic_api_key_set = serializers.SerializerMethodField()
    data_leaves_platform = serializers.SerializerMethodField()
    notice = serializers.SerializerMethodField()
    system_prompt = serializers.CharField(max_length=8000, required=False)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, required=False)

    class Meta:
        model = CopilotSettings
        fields = ["backend", "ollama_url", "ollama_model", "openai_model", "anthropic_model", "redact_sensitive",
                  "system_prompt", "openai_url", "api_key", "api_key_set", "anthropic_url", "anthropic_api_key",
                  "anthropic_api_key_set", "timeout_seconds", "data_leaves_platform",
                  "notice", "updated_by", "updated_at"]
        read_only_fields = ["updated_by", "updated_at"]

    def get_api_key_set(self, config) -> bool:
        return bool(config.api_key)

    def get_anthropic_api_key_set(self, config) -> bool:
        return bool(config.anthropic_api_key)

    def get_data_leaves_platform(self, config) -> bool:
        return config.backend != Backend.BUILTIN

    def get_notice(self, config) -> str:
        if config.backend == Backend.BUILTIN:
            return NOTICE_BUILTIN
        url = {Backend.OLLAMA: config.ollama_url, Backend.ANTHROPIC: config.anthropic_url}.get(config.backend,
                                                                                            config.openai_url)
        return NOTICE_EXTERNAL.format(backend=config.backend, url=url)


class TestConnectionRequestSerializer(serializers.Serializer):
    """The settings to test; what is left out is the saved configuration's."""

    backend = serializers.ChoiceField(choices=Backend.choices, required=False)
    ollama_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False)
    ollama_model = serializers.CharField(max_length=128, required=False)
    openai_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False)
    openai_model = serializers.CharField(max_length=128, required=False)
    api_key = serializers.CharField(max_length=1024, required=False, write_only=True)
    anthropic_url = serializers.CharField(max_length=512, validators=[_HTTP], required=False)
    anthropic_model = serializers.CharField(max_length=128, required=False)
    anthropic_api_key = serializers.CharField(max_length=1024, required=False, write_only=True)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, required=False)


TestConnectionSerializer = plain_answer("TestConnectionSerializer", "success:bool message latency_ms:int?")


class FeedbackRequestSerializer(serializers.Serializer):
    history_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    feedback = serializers.ChoiceField(choices=Feedback.choices)


StatusSerializer = plain_answer("StatusSerializer", "status")


class ChipSerializer(PlainSerializer):
    plain = Plain("label question")
    template = serializers.BooleanField(required=False, help_text="Fills the input for the user to finish")


class CategorySerializer(PlainSerializer):
    plain = Plain("name icon")
    chips = ChipSerializer(many=True)


class SuggestionBodySerializer(PlainSerializer):
    categories = CategorySerializer(many=True)
    plain = Plain("tips:texts")


class SuggestionsSerializer(serializers.Serializer):
    suggestions = SuggestionBodySerializer()
