"""What the copilot keeps: each user's questions and answers (with their feedback), and its one configuration.

The configuration's API keys are encrypted at rest (apps/core/fields.EncryptedTextField) and never leaves through the
API or the logs; the API says only whether one is set. The OpenAI-compatible and the Anthropic backends each
have their own key, so choosing one never sends the other vendor's key.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.fields import EncryptedTextField

from .choices import Backend, Feedback

DEFAULT_SYSTEM_PROMPT = (
    "You are Ops Copilot, an AI assistant for the operators of a VMware-to-CloudStack migration platform. Answer "
    "only from the facts given with the question; if they do not hold the answer, say so. Never suggest that you "
    "ran or changed anything.")


class CopilotSettings(models.Model):
    """One row (pk 1): the engine that answers what the built-in matcher cannot, off (builtin) by default."""

    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.BUILTIN)
    ollama_url = models.URLField(max_length=512, default="http://host.docker.internal:11434")
    ollama_model = models.CharField(max_length=128, default="llama3")
    openai_url = models.URLField(max_length=512, default="https://api.openai.com")
    openai_model = models.CharField(max_length=128, default="gpt-4o-mini")
    anthropic_url = models.URLField(max_length=512, default="https://api.anthropic.com")
    anthropic_model = models.CharField(max_length=128, default="claude-sonnet-4-20250514")
    api_key = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest; never returned by the API.")
    anthropic_api_key = EncryptedTextField(blank=True, default="",
                                           help_text="Encrypted at rest; never returned by the API.")
    redact_sensitive = models.BooleanField(default=True)
    system_prompt = models.TextField(default=DEFAULT_SYSTEM_PROMPT)
    timeout_seconds = models.IntegerField(default=30)
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"copilot backend {self.backend}"

    @classmethod
    def load(cls) -> CopilotSettings:
        return cls.objects.get_or_create(pk=1)[0]


class Exchange(models.Model):
    """One question, its answer and who answered it; the asker's thumbs up or down."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="copilot_history")
    question = models.TextField()
    answer = models.TextField()
    intent = models.CharField(max_length=64, db_index=True)
    backend_used = models.CharField(max_length=16, choices=Backend.choices)
    confidence = models.FloatField(null=True)
    tokens_used = models.IntegerField(null=True)
    data_sent_external = models.BooleanField(default=False)
    feedback = models.CharField(max_length=8, choices=Feedback.choices, blank=True)
    feedback_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.question[:40]}"
