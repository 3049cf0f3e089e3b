"""The optional LLM backend: an OpenAI-compatible chat completions call (OpenAI, Ollama's /v1 API, or any server
speaking it). Only used when an admin chose a backend other than builtin; what it sends then leaves the platform.

The API key goes only in the Authorization header; neither it nor the request body is logged.
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


def endpoint(settings) -> tuple[str, str, str]:
    """(base URL, model, key) of the chosen backend."""
    if settings.backend == Backend.OLLAMA:
        return settings.ollama_url, settings.ollama_model, ""
    return settings.openai_url, settings.openai_model, settings.api_key


def chat(settings, messages: list[dict], *, max_tokens: int = 512) -> Reply:
    base, model, key = endpoint(settings)
    url = base.rstrip("/") + ("/chat/completions" if base.rstrip("/").endswith("/v1") else "/v1/chat/completions")
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    started = time.monotonic()
    try:
        response = requests.post(url, json={"model": model, "messages": messages, "max_tokens": max_tokens,
                                            "temperature": 0}, headers=headers, timeout=settings.timeout_seconds)
    except requests.RequestException as exc:
        log.warning("copilot LLM %s unreachable: %s", settings.backend, type(exc).__name__)
        raise LLMError(f"{settings.backend} backend unreachable at {base}: {type(exc).__name__}") from None
    latency = int((time.monotonic() - started) * 1000)
    if response.status_code != 200:
        log.warning("copilot LLM %s answered HTTP %s", settings.backend, response.status_code)
        raise LLMError(f"{settings.backend} backend answered HTTP {response.status_code}")
    try:
        body = response.json()
        text = body["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError(f"{settings.backend} backend answered without a chat completion") from None
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    tokens = usage.get("total_tokens")
    return Reply(text=text.strip(), tokens_used=tokens if isinstance(tokens, int) else None, latency_ms=latency)


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
