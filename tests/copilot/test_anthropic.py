"""The anthropic backend against a local server speaking Anthropic's Messages API: POST {base}/v1/messages with
x-api-key and anthropic-version, the system prompt in `system`; the answer is content[0].text. Its key is encrypted
at rest, never answered or logged, and never sent to another backend; a failing backend is said so plainly."""
from __future__ import annotations

import logging

import pytest
from django.db import connection

from apps.copilot.llm import ANTHROPIC_VERSION
from apps.copilot.models import CopilotSettings
from tests.openapi import assert_matches_schema

from .conftest import ask

KEY = "sk-ant-api03-test-0123456789abcdef"
OPENAI_KEY = "sk-openai-test-fedcba9876543210"


@pytest.mark.django_db(transaction=True)
def test_the_anthropic_backend_answers_over_the_messages_api(fake_llm, admin_client_api, viewer_client, caplog):
    caplog.set_level(logging.DEBUG)
    admin_client_api.put("/api/copilot/config", {"api_key": OPENAI_KEY}, format="json")  # another vendor's key
    response = admin_client_api.put("/api/copilot/config", {
        "backend": "anthropic", "anthropic_url": fake_llm.url, "anthropic_model": "claude-test",
        "anthropic_api_key": KEY}, format="json")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/api/copilot/config", "put")
    body = response.json()
    assert (body["backend"], body["anthropic_model"], body["anthropic_api_key_set"]) == ("anthropic", "claude-test",
                                                                                          True)
    assert "anthropic_api_key" not in body and KEY not in response.content.decode()
    assert f"are sent to {fake_llm.url}: they leave the platform" in body["notice"]
    assert KEY not in admin_client_api.get("/api/copilot/config").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT anthropic_api_key FROM copilot_copilotsettings")
        stored = cursor.fetchone()[0]
    assert stored and KEY not in stored and CopilotSettings.load().anthropic_api_key == KEY

    answer = ask(viewer_client, "Should we migrate the 10.0.0.5 database before Friday?")
    assert answer == {"answer": fake_llm.reply, "intent": "llm", "backend_used": "anthropic", "confidence": None,
                      "tokens_used": 95, "data_sent_external": True, "history_id": answer["history_id"]}
    sent = fake_llm.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert (sent["x-api-key"], sent["anthropic-version"], sent["auth"]) == (KEY, ANTHROPIC_VERSION, None)
    assert sent["body"]["model"] == "claude-test" and sent["body"]["max_tokens"] == 512
    assert sent["body"]["system"].startswith("You are Ops Copilot") and "CloudStack VMs by status" in \
        sent["body"]["system"]
    assert sent["body"]["messages"] == [{"role": "user",
                                         "content": "Should we migrate the [ip] database before Friday?"}]
    assert OPENAI_KEY not in str(fake_llm.requests)  # the OpenAI key never goes to Anthropic

    # A refusal is said plainly, by status and error type; the backend's message (here quoting the key) is not kept.
    fake_llm.status, fake_llm.error_type = 401, "authentication_error"
    failed = ask(viewer_client, "Tell me a story")
    assert failed["intent"] == "unknown" and "anthropic backend did not answer: anthropic backend answered HTTP 401 " \
        "(authentication_error)" in failed["answer"]
    assert KEY not in failed["answer"]
    tested = admin_client_api.post("/api/copilot/test-connection", {}, format="json").json()
    assert tested == {"success": False, "latency_ms": None,
                      "message": "Anthropic connection failed: anthropic backend answered HTTP 401 "
                                 "(authentication_error)"}
    assert KEY not in caplog.text and OPENAI_KEY not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_anthropic_test_connection_with_unsaved_settings(fake_llm, admin_client_api):
    response = admin_client_api.post("/api/copilot/test-connection", {
        "backend": "anthropic", "anthropic_url": fake_llm.url + "/v1", "anthropic_model": "claude-x",
        "anthropic_api_key": KEY}, format="json")
    assert_matches_schema(response, "/api/copilot/test-connection", "post")
    body = response.json()
    assert body["success"] is True and body["message"] == "Anthropic connection successful"
    sent = fake_llm.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["x-api-key"] == KEY and sent["body"]["max_tokens"] == 8
    assert CopilotSettings.load().backend == "builtin" and CopilotSettings.load().anthropic_api_key == ""

    fake_llm.close()
    down = admin_client_api.post("/api/copilot/test-connection", {
        "backend": "anthropic", "anthropic_url": fake_llm.url, "anthropic_api_key": KEY}, format="json").json()
    assert down["success"] is False and down["message"].startswith(
        "Anthropic connection failed: anthropic backend unreachable at http://127.0.0.1:")


def test_bad_anthropic_settings_are_400(admin_client_api):
    for body, field in (({"anthropic_url": "ftp://example.com"}, "anthropic_url"),
                        ({"backend": "anthropic", "anthropic_model": ""}, "anthropic_model")):
        response = admin_client_api.put("/api/copilot/config", body, format="json")
        assert response.status_code == 400 and field in response.json()["detail"], response.content
