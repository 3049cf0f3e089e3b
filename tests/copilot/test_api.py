"""The copilot's endpoints: suggestions, history and feedback per user, the admin's configuration and the optional
LLM backend (a local server speaking the OpenAI chat completions API), RBAC and bad input in seed 004's shape."""
from __future__ import annotations

import logging

import pytest
from django.db import connection

from apps.copilot.models import CopilotSettings, Exchange
from tests.conftest import client_for, make_user
from tests.openapi import assert_matches_schema

from .conftest import ask

pytestmark = pytest.mark.django_db

KEY = "sk-test-0123456789abcdef"


def detail(response, status: int, text: str) -> None:
    assert response.status_code == status, response.content
    assert set(response.json()) == {"detail"} and text in response.json()["detail"], response.json()


def test_suggestions_are_eight_categories_with_tips(viewer_client):
    response = viewer_client.get("/api/copilot/suggestions")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/copilot/suggestions", "get")
    body = response.json()["suggestions"]
    assert [c["name"] for c in body["categories"]][:3] == ["Infrastructure", "VM Power State", "Tenant / Project"]
    assert len(body["categories"]) == 8 and len(body["tips"]) == 5
    tenant = body["categories"][2]["chips"][0]
    assert tenant == {"label": "VMs on tenant …", "question": "VMs on tenant ", "template": True}


def test_an_unknown_question_says_it_cannot_answer(viewer_client):
    body = ask(viewer_client, "What will the weather be tomorrow?")
    assert body["intent"] == "unknown" and body["backend_used"] == "builtin" and body["confidence"] == 0.0
    assert body["answer"].startswith("I can't answer that from the platform's data.")
    assert body["data_sent_external"] is False


def test_history_and_feedback_belong_to_their_user(viewer_client, operator_client):
    first = ask(viewer_client, "How many VMs?")
    second = ask(viewer_client, "List all hosts")
    theirs = ask(operator_client, "How many volumes?")
    response = viewer_client.get("/api/copilot/history")
    assert_matches_schema(response, "/api/copilot/history", "get")
    rows = response.json()
    assert [r["id"] for r in rows] == [second["history_id"], first["history_id"]]
    assert rows[1]["question"] == "How many VMs?" and rows[1]["intent"] == "vm_count" and rows[1]["feedback"] == ""
    assert rows[1]["answer"] == first["answer"] and rows[1]["backend_used"] == "builtin"

    ok = viewer_client.post("/api/copilot/feedback", {"history_id": first["history_id"], "feedback": "up"},
                            format="json")
    assert ok.status_code == 200 and ok.json() == {"status": "ok"}
    assert Exchange.objects.get(pk=first["history_id"]).feedback == "up"
    assert viewer_client.get("/api/copilot/history").json()[1]["feedback"] == "up"
    # Another user's answer is not yours to rate.
    detail(viewer_client.post("/api/copilot/feedback", {"history_id": theirs["history_id"], "feedback": "down"},
                              format="json"), 404, f"History entry {theirs['history_id']} not found")
    detail(viewer_client.post("/api/copilot/feedback", {"history_id": first["history_id"], "feedback": "meh"},
                              format="json"), 400, "feedback")
    detail(viewer_client.post("/api/copilot/feedback", {"history_id": "x"}, format="json"), 400, "history_id")


def test_history_keeps_the_newest_200(viewer_client):
    user = Exchange.objects.model._meta.get_field("user").related_model.objects.get(username="viewer1")
    Exchange.objects.bulk_create(Exchange(user=user, question=f"q{i}", answer="a", intent="vm_count",
                                          backend_used="builtin") for i in range(205))
    assert len(viewer_client.get("/api/copilot/history").json()) == 200


def test_bad_input_is_a_4xx_in_the_seeds_shape(viewer_client, anon_client, admin_client_api):
    detail(anon_client.post("/api/copilot/ask", {"question": "How many VMs?"}, format="json"), 401,
           "Not authenticated")
    detail(viewer_client.post("/api/copilot/ask", {}, format="json"), 400, "question")
    detail(viewer_client.post("/api/copilot/ask", {"question": ""}, format="json"), 400, "question")
    detail(viewer_client.post("/api/copilot/ask", {"question": "x" * 1001}, format="json"), 400, "question")
    detail(viewer_client.post("/api/copilot/ask", "not json", content_type="application/json"), 400, "")
    detail(viewer_client.post("/api/copilot/ask", [1, 2], format="json"), 400, "")
    detail(admin_client_api.put("/api/copilot/config", {"backend": "bogus"}, format="json"), 400, "backend")
    detail(admin_client_api.put("/api/copilot/config", {"ollama_url": "ftp://example.com"}, format="json"), 400,
           "ollama_url")
    detail(admin_client_api.post("/api/copilot/test-connection", {"backend": "openai", "openai_url": "nope"},
                                 format="json"), 400, "openai_url")


def test_configuration_is_admin_only(viewer_client, operator_client, admin_client_api):
    for client in (viewer_client, operator_client):
        detail(client.get("/api/copilot/config"), 403, "Permission denied: requires copilot:admin")
        detail(client.put("/api/copilot/config", {"backend": "openai"}, format="json"), 403, "copilot:admin")
        detail(client.post("/api/copilot/test-connection", {}, format="json"), 403, "copilot:admin")
    response = admin_client_api.get("/api/copilot/config")
    assert_matches_schema(response, "/api/copilot/config", "get")
    body = response.json()
    assert body["backend"] == "builtin" and body["data_leaves_platform"] is False and "api_key" not in body
    assert body["ollama_url"] == "http://host.docker.internal:11434" and body["ollama_model"] == "llama3"
    assert body["openai_model"] == "gpt-4o-mini" and body["anthropic_model"] == "claude-sonnet-4-20250514"
    assert body["redact_sensitive"] is True and body["system_prompt"].startswith("You are Ops Copilot")
    assert "stay on the platform" in body["notice"]


def _configure_openai(admin_client_api, fake_llm, caplog) -> dict:
    with caplog.at_level(logging.DEBUG):
        response = admin_client_api.put("/api/copilot/config", {"backend": "openai", "openai_url": fake_llm.url,
                                                                "openai_model": "gpt-test", "api_key": KEY},
                                        format="json")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/api/copilot/config", "put")
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_the_llm_answers_what_the_matcher_cannot(fake_llm, admin_client_api, viewer_client, caplog):
    body = _configure_openai(admin_client_api, fake_llm, caplog)
    assert body["backend"] == "openai" and body["api_key_set"] is True and KEY not in str(body)
    assert body["data_leaves_platform"] is True and f"are sent to {fake_llm.url}: they leave the platform" in body[
        "notice"]
    # At rest the key is ciphertext; the model reads it back.
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM copilot_copilotsettings")
        stored = cursor.fetchone()[0]
    assert stored and KEY not in stored and CopilotSettings.load().api_key == KEY

    with caplog.at_level(logging.DEBUG):
        answer = ask(viewer_client, "Should we migrate the 10.0.0.5 database before Friday?")
    assert answer == {"answer": fake_llm.reply, "intent": "llm", "backend_used": "openai", "confidence": None,
                      "tokens_used": 102, "data_sent_external": True, "history_id": answer["history_id"]}
    sent = fake_llm.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == "gpt-test"
    question = sent["body"]["messages"][-1]["content"]
    assert question == "Should we migrate the [ip] database before Friday?"  # redact_sensitive
    assert "CloudStack VMs by status" in sent["body"]["messages"][1]["content"]
    assert KEY not in caplog.text

    # What the matcher knows never leaves.
    calls = len(fake_llm.requests)
    known = ask(viewer_client, "How many VMs?")
    assert known["backend_used"] == "builtin" and known["data_sent_external"] is False
    assert len(fake_llm.requests) == calls

    # A backend that fails is said so, never a 500.
    fake_llm.status = 500
    failed = ask(viewer_client, "Tell me a story")
    assert failed["intent"] == "unknown" and "openai backend did not answer: openai backend answered HTTP 500" in \
        failed["answer"]
    assert viewer_client.get("/api/copilot/history").json()[0]["backend_used"] == "builtin"

    # A blank key clears it.
    cleared = admin_client_api.put("/api/copilot/config", {"api_key": ""}, format="json").json()
    assert cleared["api_key_set"] is False


@pytest.mark.django_db(transaction=True)
def test_test_connection_calls_the_backend(fake_llm, admin_client_api, caplog):
    builtin = admin_client_api.post("/api/copilot/test-connection", {}, format="json")
    assert builtin.status_code == 200 and builtin.json()["success"] is True
    response = admin_client_api.post("/api/copilot/test-connection", {
        "backend": "ollama", "ollama_url": fake_llm.url, "ollama_model": "llama3"}, format="json")
    assert_matches_schema(response, "/api/copilot/test-connection", "post")
    body = response.json()
    assert body["success"] is True and body["message"] == "Ollama connection successful"
    assert isinstance(body["latency_ms"], int) and body["latency_ms"] >= 0
    assert fake_llm.requests[-1]["body"]["model"] == "llama3" and fake_llm.requests[-1]["auth"] is None
    # Not saved: a test only.
    assert CopilotSettings.load().backend == "builtin"

    _configure_openai(admin_client_api, fake_llm, caplog)
    saved = admin_client_api.post("/api/copilot/test-connection", {}, format="json").json()
    assert saved["success"] is True and saved["message"] == "OpenAI connection successful"
    assert fake_llm.requests[-1]["auth"] == f"Bearer {KEY}"

    fake_llm.close()
    down = admin_client_api.post("/api/copilot/test-connection", {}, format="json").json()
    assert down["success"] is False and down["message"].startswith("OpenAI connection failed: openai backend "
                                                                   "unreachable") and down["latency_ms"] is None


def test_viewer_history_after_role_change_is_kept(db):
    user = make_user("analyst", "viewer")
    client = client_for(user)
    ask(client, "How many VMs?")
    assert len(client.get("/api/copilot/history").json()) == 1


def test_before_any_collection_an_answer_says_the_tables_are_empty(viewer_client):
    body = ask(viewer_client, "How many VMs?")
    assert body["intent"] == "vm_count" and "There are **0** VMs across all tenants." in body["answer"]
    assert "No collection of CloudStack has succeeded yet" in body["answer"]
    assert ask(viewer_client, "When was the data last collected?")["answer"] == \
        "No collection of CloudStack has succeeded yet."


def test_history_past_its_retention_is_pruned_by_the_periodic_task(viewer_client, operator_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.copilot import services, tasks

    old = ask(viewer_client, "How many VMs?")
    ask(operator_client, "How many hosts?")
    newer = ask(viewer_client, "Volumes not attached")
    now = timezone.now()
    Exchange.objects.filter(pk=old["history_id"]).update(created_at=now - timedelta(days=40))
    settings.MP_COPILOT_HISTORY_RETENTION_DAYS = 30
    assert services.prune_history(now=now) == 1
    assert services.prune_history(now=now) == 0  # idempotent
    assert [h["id"] for h in viewer_client.get("/api/copilot/history").json()] == [newer["history_id"]]
    # Thirty-one days on, everything asked today is past it too.
    assert services.prune_history(now=now + timedelta(days=31)) == 2
    assert viewer_client.get("/api/copilot/history").json() == []
    assert operator_client.get("/api/copilot/history").json() == []

    # The hourly task applies it; 0 keeps everything.
    Exchange.objects.filter(pk=ask(viewer_client, "How many VMs?")["history_id"]).update(
        created_at=now - timedelta(days=400))
    settings.MP_COPILOT_HISTORY_RETENTION_DAYS = 0
    assert tasks.prune_history() == 0
    settings.MP_COPILOT_HISTORY_RETENTION_DAYS = 30
    assert tasks.prune_history() == 1 and not Exchange.objects.exists()
