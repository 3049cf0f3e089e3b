"""The optional LLM backend: an OpenAI-compatible chat completions call (OpenAI, Ollama's /v1 API, or any server
speaking it), or Anthropic's Messages API. Only used when an admin chose a backend other than builtin; what it sends
then leaves the platform.

The API key goes only in its header (Authorization, or Anthropic's x-api-key); neither it nor the request body is
logged, and an error answer is reduced to its HTTP status and error type.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import requests
from django.db.models import Count

from apps.failover.models import FailoverJob
from apps.portal import models as cloud
from apps.replication.models import ReplicationJob

from .choices import Backend

log = logging.getLogger(__name__)

_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")


class LLMError(Exception):
    """The backend did not answer usably: unreachable, refused, or an answer without a message."""


@dataclass
class Reply:
    text: str
    tokens_used: int | None
    latency_ms: int


ANTHROPIC_VERSION = "2023-06-01"  # the Messages API version header Anthropic requires


def endpoint(settings) -> tuple[str, str, str]:
    """(base URL, model, key) of the chosen backend."""
    if settings.backend == Backend.OLLAMA:
        return settings.ollama_url, settings.ollama_model, ""
    if settings.backend == Backend.ANTHROPIC:
        return settings.anthropic_url, settings.anthropic_model, settings.anthropic_api_key
    return settings.openai_url, settings.openai_model, settings.api_key


def _url(base: str, path: str) -> str:
    """`{base}/v1/{path}`, whether or not the configured base already ends in /v1."""
    base = base.rstrip("/")
    return f"{base}/{path}" if base.endswith("/v1") else f"{base}/v1/{path}"


def chat(settings, messages: list[dict], *, max_tokens: int = 512) -> Reply:
    """One exchange with the chosen backend; `messages` in the chat completions shape (system, user roles)."""
    base, model, key = endpoint(settings)
    if settings.backend == Backend.ANTHROPIC:
        # Messages API: the system prompt is its own field, the turns only user/assistant (x-api-key, not Bearer).
        url = _url(base, "messages")
        headers = {"Content-Type": "application/json", "x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
        body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                "system": "\n\n".join(m["content"] for m in messages if m["role"] == "system"),
                "messages": [m for m in messages if m["role"] != "system"]}
    else:
        url = _url(base, "chat/completions")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    started = time.monotonic()
    try:
        response = requests.post(url, json=body, headers=headers, timeout=settings.timeout_seconds)
    except requests.RequestException as exc:
        log.warning("copilot LLM %s unreachable: %s", settings.backend, type(exc).__name__)
        raise LLMError(f"{settings.backend} backend unreachable at {base}: {type(exc).__name__}") from None
    latency = int((time.monotonic() - started) * 1000)
    if response.status_code != 200:
        kind = _error_type(response)
        log.warning("copilot LLM %s answered HTTP %s%s", settings.backend, response.status_code,
                    f" ({kind})" if kind else "")
        raise LLMError(f"{settings.backend} backend answered HTTP {response.status_code}"
                       + (f" ({kind})" if kind else ""))
    try:
        answer = response.json()
        if settings.backend == Backend.ANTHROPIC:
            text = next(part["text"] for part in answer["content"] if part.get("type") == "text")
        else:
            text = answer["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError
    except (ValueError, KeyError, IndexError, TypeError, StopIteration, AttributeError):
        raise LLMError(f"{settings.backend} backend answered without a "
                       + ("message" if settings.backend == Backend.ANTHROPIC else "chat completion")) from None
    return Reply(text=text.strip(), tokens_used=_tokens(answer.get("usage")), latency_ms=latency)


def _tokens(usage) -> int | None:
    """total_tokens (chat completions), or input_tokens + output_tokens (Messages API)."""
    if not isinstance(usage, dict):
        return None
    if isinstance(usage.get("total_tokens"), int):
        return usage["total_tokens"]
    parts = [usage.get("input_tokens"), usage.get("output_tokens")]
    return sum(parts) if all(isinstance(p, int) for p in parts) else None


def _error_type(response) -> str:
    """The error's type as the backend names it (Anthropic's `error.type`, OpenAI's `error.type`/`code`): a word
    that says what went wrong without repeating anything we sent. Its message is not kept (it may quote input)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    kind = (error.get("type") or error.get("code")) if isinstance(error, dict) else ""
    return kind if isinstance(kind, str) and re.fullmatch(r"[a-z_]{1,64}", kind) else ""


def redact(text: str) -> str:
    return _EMAIL.sub("[email]", _IPV4.sub("[ip]", text))


def facts() -> str:
    """What the LLM may answer from: figures only (no names, addresses or ids), from our own tables."""
    def by(model, column):
        rows = model.objects.values_list(column).annotate(n=Count("id")).order_by()
        return ", ".join(f"{key or 'unknown'} {n}" for key, n in sorted(rows)) or "none"
    return "\n".join([
        f"CloudStack VMs by status: {by(cloud.Server, 'status')}",
        f"Hosts: {cloud.Host.objects.count()}",
        f"Volumes: {cloud.Volume.objects.count()} ({cloud.Volume.objects.filter(server_id='').count()} unattached)",
        f"Snapshots: {cloud.Snapshot.objects.count()}",
        f"Tenants/projects: {cloud.Account.objects.count() + cloud.Project.objects.count()}",
        f"Replication jobs by status: {by(ReplicationJob, 'status')}",
        f"Failover jobs by status: {by(FailoverJob, 'status')}",
    ])


def ask(settings, question: str) -> Reply:
    if settings.redact_sensitive:
        question = redact(question)
    messages = [{"role": "system", "content": settings.system_prompt},
                {"role": "system", "content": "Facts from the platform:\n" + facts()},
                {"role": "user", "content": question}]
    return chat(settings, messages)
