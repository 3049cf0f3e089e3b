"""Seed 004's rate limit on its paths: a budget per user a minute, told in X-RateLimit-* headers, 429 past it."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.django_db

PATH = "/api/migration/projects"  # the planner's (seed 004); the portal, accounts and snapshots paths count alike


def test_each_answer_says_what_is_left_and_the_budget_ends_in_a_429(settings, viewer_client, operator_client):
    settings.MP_SEED_API_RATE = "3/min"
    before = int(time.time())
    left = []
    for _ in range(3):
        answer = viewer_client.get(PATH)
        assert answer.status_code == 200, answer.content
        assert answer["X-RateLimit-Limit"] == "3"
        left.append(int(answer["X-RateLimit-Remaining"]))
        assert before + 59 <= int(answer["X-RateLimit-Reset"]) <= int(time.time()) + 61  # when the oldest one frees
    assert left == [2, 1, 0]
    refused = viewer_client.get(PATH)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many requests"}
    assert refused["X-RateLimit-Remaining"] == "0" and int(refused["Retry-After"]) > 0
    # Another user has a budget of their own; the platform's own API (seed 001) is not counted.
    assert operator_client.get(PATH)["X-RateLimit-Remaining"] == "2"
    platform = viewer_client.get("/api/v1/vm-contexts")
    assert platform.status_code == 200 and "X-RateLimit-Limit" not in platform


def test_portal_accounts_and_snapshots_paths_count_too(settings, viewer_client):
    settings.MP_SEED_API_RATE = "50/min"
    for path in ("/dashboard/health-summary", "/roles", "/snapshot-policies"):
        answer = viewer_client.get(path)
        assert answer.status_code == 200, (path, answer.content)
        assert answer["X-RateLimit-Limit"] == "50", path
