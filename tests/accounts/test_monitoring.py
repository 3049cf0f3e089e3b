"""Seed 004's monitoring: request metrics shared by the web processes through the cache, and the recent logs."""
from __future__ import annotations

import logging

import pytest

from apps.accounts import middleware
from apps.core.choices import Role
from tests.conftest import client_for, make_user
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def test_metrics_count_requests_errors_and_sessions(anon_client, viewer_client):
    before = anon_client.get("/metrics").json()
    for _ in range(3):
        viewer_client.get("/roles")
    middleware.record(12.0, 500)  # a server error, as the middleware records one
    response = anon_client.get("/metrics")
    assert_matches_schema(response, "/metrics", "get")
    after = response.json()
    assert after["request_count"] - before["request_count"] == 5  # three reads, the error, the first /metrics
    assert after["error_rate"] > 0 and after["avg_response_time_ms"] > 0
    assert after["active_sessions"] == 1 and after["uptime_seconds"] >= 0
    signed_in = viewer_client.get("/api/metrics")
    assert_matches_schema(signed_in, "/api/metrics", "get")
    assert signed_in.json()["request_count"] >= after["request_count"]
    assert anon_client.get("/api/metrics").status_code == 401


def test_logs_are_admin_only_filtered_and_scrubbed(admin_client_api):
    logging.getLogger("apps.accounts.tests").warning("drill warning password=hunter2")
    logging.getLogger("apps.other").error("another app's error")
    response = admin_client_api.get("/api/logs?source=apps.accounts&level=WARNING")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/logs", "get")
    messages = [r["message"] for r in response.json()["logs"]]
    assert any("drill warning" in m for m in messages) and not any("another app" in m for m in messages)
    assert not any("hunter2" in m for m in messages)
    assert admin_client_api.get("/api/logs?limit=1").json()["total"] == 1
    for query in ("limit=0", "limit=x", "level=LOUD", "log_file=/etc/passwd"):
        response = admin_client_api.get(f"/api/logs?{query}")
        assert response.status_code == 400 and set(response.json()) == {"detail"}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_logs_refuse_viewers_and_operators(role):
    response = client_for(make_user(f"l-{role}", role)).get("/api/logs")
    assert response.status_code == 403 and response.json() == {"detail": "Permission denied: requires logs:read"}


def test_the_health_endpoint_is_cores(anon_client):
    # Seed 004's GET /health is served by core with seed 001's answer (the older contract on the same path), which
    # also carries seed 004's keys: status (seed 001's value), service, timestamp.
    response = anon_client.get("/health")
    assert_matches_schema(response, "/health", "get")
    body = response.json()
    assert body["status"] == "healthy" and body["service"] == "migration-platform-api" and body["timestamp"]
