from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.core.models import ApiToken
from apps.enrollment.services import appliance_create, appliance_revoke
from tests.conftest import make_user
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def test_operator_login_returns_a_working_token(anon_client):
    make_user("alice", "operator", password="Wonder-land-42")
    response = anon_client.post("/api/v1/auth/login", {"username": "alice", "password": "Wonder-land-42"}, format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/auth/login", "post")
    body = response.json()
    assert body["success"] is True and body["message"]
    assert body["session_token"].startswith("oma_session_")
    assert body["expires_at"].endswith("Z")
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['session_token']}")
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 200
    # Stored hashed: the raw token is nowhere in the table.
    assert not ApiToken.objects.filter(key_hash=body["session_token"]).exists()


def test_wrong_password_is_401_in_seed_shape(anon_client):
    make_user("bob", "operator", password="Right-pass-42")
    response = anon_client.post("/api/v1/auth/login", {"username": "bob", "password": "wrong"}, format="json")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Invalid username or password", "details": None}
    assert_matches_schema(response, "/api/v1/auth/login", "post")


def test_agent_login_lasts_24_hours(anon_client):
    appliance, token = appliance_create(appliance_id="vma-001")
    response = anon_client.post("/api/v1/auth/login",
                                {"appliance_id": "vma-001", "token": token, "version": "1.2.3"}, format="json")
    assert response.status_code == 200
    stored = ApiToken.objects.get(appliance_id="vma-001")
    ttl = stored.expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < ttl <= timedelta(hours=24)
    appliance.refresh_from_db()
    assert appliance.version == "1.2.3" and appliance.last_seen_at is not None


@override_settings(AGENT_SESSION_TTL=timedelta(minutes=30))
def test_agent_session_length_is_configurable(anon_client):
    _, token = appliance_create(appliance_id="vma-002")
    anon_client.post("/api/v1/auth/login", {"appliance_id": "vma-002", "token": token}, format="json")
    ttl = ApiToken.objects.get(appliance_id="vma-002").expires_at - timezone.now()
    assert ttl <= timedelta(minutes=30)


def test_agent_wrong_token_and_unknown_appliance_are_401(anon_client):
    appliance_create(appliance_id="vma-003")
    for body in ({"appliance_id": "vma-003", "token": "vma_wrong"}, {"appliance_id": "nobody", "token": "x"}):
        response = anon_client.post("/api/v1/auth/login", body, format="json")
        assert response.status_code == 401
        assert response.json()["success"] is False


def test_revoked_agent_cannot_log_in_and_its_sessions_die(anon_client):
    appliance, token = appliance_create(appliance_id="vma-004")
    session = anon_client.post("/api/v1/auth/login", {"appliance_id": "vma-004", "token": token},
                               format="json").json()["session_token"]
    appliance_revoke(appliance=appliance)
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session}")
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 401
    anon_client.credentials()
    response = anon_client.post("/api/v1/auth/login", {"appliance_id": "vma-004", "token": token}, format="json")
    assert response.status_code == 401 and "revoked" in response.json()["error"]


@pytest.mark.parametrize("body, message", [
    ({}, "appliance_id and token"),
    ({"username": "x"}, "password"),
    ({"appliance_id": "x"}, "token"),
    ({"username": "x", "password": "y", "appliance_id": "z", "token": "t"}, "not both"),
    ({"username": 5, "password": ["a"]}, "password"),
])
def test_login_bad_input_is_400(anon_client, body, message):
    response = anon_client.post("/api/v1/auth/login", body, format="json")
    assert response.status_code == 400
    assert_matches_schema(response, "/api/v1/auth/login", "post")
    assert response.json()["success"] is False and message in response.json()["error"]


def test_malformed_json_is_400(anon_client):
    response = anon_client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "Malformed" in response.json()["error"]


def test_expired_token_is_refused(db, anon_client):
    user = make_user("carol", "operator")
    from apps.core.services import token_issue

    issued = token_issue(user=user, kind="operator", ttl=timedelta(hours=1))
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    response = anon_client.get("/api/v1/vmware-credentials")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]


def test_logout_revokes_the_token(operator_client):
    logout = operator_client.post("/api/v1/auth/logout")
    assert logout.status_code == 200
    assert_matches_schema(logout, "/api/v1/auth/logout", "post")
    response = operator_client.get("/api/v1/vmware-credentials")
    assert response.status_code == 401


def test_no_token_is_401_and_garbage_token_is_401(anon_client):
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 401


def test_viewer_reads_but_cannot_write(viewer_client):
    assert viewer_client.get("/api/v1/vmware-credentials").status_code == 200
    response = viewer_client.post("/api/v1/vmware-credentials", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["success"] is False


def test_login_flood_is_throttled_with_429(anon_client):
    codes = [anon_client.post("/api/v1/auth/login", {"username": "u", "password": "p"}, format="json").status_code
             for _ in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_public_endpoints_need_no_token(anon_client):
    assert anon_client.get("/health").status_code == 200
    assert anon_client.get("/api/v1/health").status_code == 200
    assert anon_client.get("/api/schema/").status_code == 200
    assert anon_client.get("/swagger/").status_code == 200


def test_debug_logs_is_admin_only(operator_client, admin_client_api):
    denied = operator_client.get("/api/v1/debug/logs")
    assert denied.status_code == 403
    assert_matches_schema(denied, "/api/v1/debug/logs", "get")
    response = admin_client_api.get("/api/v1/debug/logs?limit=5")
    assert response.status_code == 200 and response.json()["success"] is True
    assert_matches_schema(response, "/api/v1/debug/logs", "get")
    bad = admin_client_api.get("/api/v1/debug/logs?limit=abc")
    assert bad.status_code == 400
    assert_matches_schema(bad, "/api/v1/debug/logs", "get")
