"""The portal's CloudStack world (tests/portal/conftest.py), a copilot client per role, and a local server that
speaks the OpenAI chat completions API and Anthropic's Messages API (the LLM backends; no external network)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.openapi import assert_matches_schema
from tests.portal.conftest import cloud, collected  # noqa: F401 (fixtures)


def ask(client, question: str, *, schema: bool = True) -> dict:
    response = client.post("/api/copilot/ask", {"question": question}, format="json")
    assert response.status_code == 200, response.content
    if schema:
        assert_matches_schema(response, "/api/copilot/ask", "post")
    return response.json()


class FakeLLM:
    """Answers every chat completion with `reply`; keeps what it was sent."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = "There are many things I could say."
        self.status = 200
        self.error_type = "authentication_error"  # an Anthropic error answer's error.type
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body,
                                      "x-api-key": self.headers.get("x-api-key"),
                                      "anthropic-version": self.headers.get("anthropic-version")})
                if self.path.endswith("/messages"):  # Anthropic's Messages API
                    answer = json.dumps(
                        {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                         "content": [{"type": "text", "text": fake.reply}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": 80, "output_tokens": 15}} if fake.status == 200 else
                        {"type": "error", "error": {"type": fake.error_type, "message": "the key "
                                                    + str(self.headers.get("x-api-key")) + " is not valid"}})
                else:
                    answer = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": fake.reply}}],
                                         "usage": {"prompt_tokens": 90, "completion_tokens": 12,
                                                   "total_tokens": 102}})
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    server = FakeLLM()
    yield server
    server.close()
