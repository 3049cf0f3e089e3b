"""Seed 004's login: our bearer token in the seed's answer, the seed's role and permission strings."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.choices import Role
from apps.portal import rbac
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_login_answers_the_seeds_token_and_it_opens_the_portal():
    make_user("ops", Role.OPERATOR, password="S3cure-pass-123")
    answer = APIClient().post("/auth/login", {"username": "ops", "password": "S3cure-pass-123"}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("oma_session_")
    assert 0 < body["expires_in"] <= 24 * 3600 and body["expires_at"]
    assert body["user"]["username"] == "ops" and body["user"]["role"] == "operator" and body["user"]["is_active"]
    assert "drift:write" in body["user"]["permissions"] and "resources:admin" not in body["user"]["permissions"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert client.get("/domains").status_code == 200


def test_a_wrong_password_is_401_in_the_seeds_shape():
    make_user("ops", Role.OPERATOR, password="S3cure-pass-123")
    answer = APIClient().post("/auth/login", {"username": "ops", "password": "nope"}, format="json")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "Invalid username or password"}


@pytest.mark.parametrize("body", [{}, {"username": "ops"}, {"username": ["x"], "password": "y"}])
def test_bad_login_bodies_are_400(body):
    answer = APIClient().post("/auth/login", body, format="json")
    assert answer.status_code == 400 and set(answer.json()) == {"detail"}


def test_no_token_is_401_not_authenticated():
    answer = APIClient().get("/servers")
    assert answer.status_code == 401 and answer.json() == {"detail": "Not authenticated"}


def test_the_seeds_permissions_map_onto_our_roles(viewer_client, operator_client):
    viewer = make_user("v2", Role.VIEWER)
    admin = make_user("a2", Role.ADMIN)
    assert rbac.PERMISSIONS.allowed(viewer, "dashboard:read") and not rbac.PERMISSIONS.allowed(viewer, "drift:write")
    assert rbac.seed_role(admin) == "admin" and rbac.PERMISSIONS.allowed(admin, "tenant_health:admin")
    refused = viewer_client.post("/admin/flavors", {"name": "x", "vcpus": 1, "ram": 512}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Permission denied: requires resources:admin"}


def test_the_console_moved_to_console_and_browsers_are_sent_there(admin_client):
    page = admin_client.get("/admin/console/agents/?x=1", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert page.status_code == 302 and page["Location"] == "/console/console/agents/?x=1"
    assert admin_client.get("/console/").status_code == 200
    assert APIClient().get("/admin/anything", HTTP_ACCEPT="application/json").status_code == 404
    # The seed's /admin/<resource> API paths are the portal's, not a redirect.
    assert APIClient().post("/admin/flavors", {}, format="json").status_code == 401


def test_failed_logins_are_throttled_in_the_seeds_shape(settings):
    make_user("ops", Role.OPERATOR, password="S3cure-pass-123")
    client = APIClient()
    answers = [client.post("/auth/login", {"username": "ops", "password": "wrong"}, format="json")
               for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert answers[10].status_code == 429 and set(answers[10].json()) == {"detail"}
