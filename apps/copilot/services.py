"""The copilot's writes: answer a question (and keep it in the asker's history), feedback, the configuration, the
history's retention."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.exceptions import NotFound

from . import intents, llm
from .choices import Backend
from .models import CopilotSettings, Exchange

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200

UNKNOWN = ("I can't answer that from the platform's data. Try one of the suggestions, e.g. \"How many VMs?\", "
           "\"Which hosts are busiest?\", \"Volumes not attached\" or \"How many VMs are replicating?\"; add "
           "\"on tenant <name>\" or \"on host <hostname>\" to narrow it.")


def ask(user, question: str) -> Exchange:
    """The built-in matcher's answer; else the configured LLM's; else a plain "cannot answer". Never acts."""
    answer = intents.match(question)
    record = {"intent": "unknown", "backend_used": Backend.BUILTIN, "confidence": 0.0, "tokens_used": None,
              "data_sent_external": False, "answer": UNKNOWN}
    if answer is not None:
        record.update(intent=answer.intent, answer=answer.text, confidence=answer.confidence)
    else:
        config = CopilotSettings.load()
        if config.backend != Backend.BUILTIN:
            try:
                reply = llm.ask(config, question)
            except llm.LLMError as exc:
                record["answer"] = f"{UNKNOWN}\n\n_The {config.backend} backend did not answer: {exc}_"
                record["data_sent_external"] = True  # the question was sent, even if nothing came back
            else:
                record.update(intent="llm", answer=reply.text, backend_used=config.backend, confidence=None,
                              tokens_used=reply.tokens_used, data_sent_external=True)
    log.info("copilot question by %s: intent %s via %s", user.get_username(), record["intent"],
             record["backend_used"])
    return Exchange.objects.create(user=user, question=question, **record)


def history(user):
    return Exchange.objects.filter(user=user).order_by("-created_at", "-id")[:HISTORY_LIMIT]


def prune_history(now: datetime | None = None) -> int:
    """Delete the questions and answers asked more than MP_COPILOT_HISTORY_RETENTION_DAYS ago (0 keeps them all):
    what was asked, and by whom, is not kept for ever. How many went."""
    days = settings.MP_COPILOT_HISTORY_RETENTION_DAYS
    if days <= 0:
        return 0
    deleted, _ = Exchange.objects.filter(created_at__lt=(now or timezone.now()) - timedelta(days=days)).delete()
    if deleted:
        log.info("copilot history pruned=%d older_than_days=%d", deleted, days)
    return deleted


def feedback(user, history_id: int, verdict: str) -> Exchange:
    exchange = Exchange.objects.filter(user=user, pk=history_id).first()
    if exchange is None:
        raise NotFound(f"History entry {history_id} not found")
    exchange.feedback, exchange.feedback_at = verdict, timezone.now()
    exchange.save(update_fields=["feedback", "feedback_at"])
    return exchange


def config_update(data: dict, *, user: str) -> CopilotSettings:
    config = CopilotSettings.load()
    for name, value in data.items():
        setattr(config, name, value)
    config.updated_by = user
    config.save()
    log.info("copilot configuration changed by %s: backend %s (%s)", user, config.backend,
             ", ".join(sorted(data)))  # the names of what changed, never a key's value
    return config


def test_connection(data: dict) -> dict:
    """Ask the backend `data` describes (the saved configuration where it says nothing) for a one-word reply."""
    config = CopilotSettings.load()
    for name, value in data.items():
        setattr(config, name, value)  # not saved: a test of settings not yet applied
    if config.backend == Backend.BUILTIN:
        return {"success": True, "message": "The built-in engine needs no connection", "latency_ms": 0}
    label = {Backend.OPENAI: "OpenAI"}.get(config.backend, Backend(config.backend).name.capitalize())
    try:
        reply = llm.chat(config, [{"role": "user", "content": "Reply with the single word: pong"}], max_tokens=8)
    except llm.LLMError as exc:
        return {"success": False, "message": f"{label} connection failed: {exc}", "latency_ms": None}
    return {"success": True, "message": f"{label} connection successful", "latency_ms": reply.latency_ms}
