"""Seed 004's users, roles, role assignments and user activity over our Django users and role groups."""
from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType

from apps.core.choices import Role
from apps.core.models import ApiToken
from apps.replication.models import ReplicationJob
from tests.conftest import client_for, make_user
from tests.factories import vm_with_disks
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def test_users_list_pages_with_total_and_filters(admin_client_api):
    for i in range(3):
        make_user(f"ops{i}", Role.OPERATOR)
    off = make_user("gone", Role.VIEWER)
    off.is_active = False
    off.save()
    response = admin_client_api.get("/users?limit=2&offset=1")
    assert response.status_code == 200
    assert_matches_schema(response, "/users", "get")
    body = response.json()
    assert (body["total"], body["limit"], body["offset"], len(body["results"])) == (5, 2, 1, 2)
    assert [u["username"] for u in admin_client_api.get("/users?enabled=false").json()["results"]] == ["gone"]
    ops = admin_client_api.get("/users?enabled=true&limit=1000").json()["results"]
    assert {u["username"]: u["role"] for u in ops}["ops1"] == "operator"
    assert admin_client_api.get("/users?domain_id=other").json()["total"] == 0


@pytest.mark.parametrize("query, message", [("limit=0", "limit must be between 1 and 1000"),
                                            ("offset=-1", "offset must be between 0"),
                                            ("enabled=maybe", "enabled must be true or false")])
def test_bad_list_parameters_are_400_in_the_seed_shape(viewer_client, query, message):
    response = viewer_client.get(f"/users?{query}")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert set(response.json()) == {"detail"}


def test_user_detail_and_404(viewer_client):
    user = make_user("alice", Role.ADMIN)
    response = viewer_client.get(f"/users/{user.pk}")
    assert_matches_schema(response, "/users/{user_id}", "get")
    assert response.json()["role"] == "admin" and response.json()["enabled"] is True
    for missing in ("999999", "abc"):
        response = viewer_client.get(f"/users/{missing}")
        assert response.status_code == 404 and response.json() == {"detail": "User not found"}


def test_admin_creates_and_changes_a_user_who_then_logs_in(admin_client_api, client):
    response = admin_client_api.post("/users", {"username": "bob", "password": "Long-enough-pass-42",
                                                "role": "operator", "email": "bob@example.com"}, format="json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/users", "post")
    assert "password" not in response.json()
    bob = response.json()["id"]
    login = client.post("/api/v1/auth/login", {"username": "bob", "password": "Long-enough-pass-42"},
                        content_type="application/json")
    assert login.status_code == 200
    response = admin_client_api.patch(f"/users/{bob}", {"role": "viewer", "enabled": False}, format="json")
    assert response.json()["role"] == "viewer" and response.json()["enabled"] is False
    assert client.post("/api/v1/auth/login", {"username": "bob", "password": "Long-enough-pass-42"},
                       content_type="application/json").status_code == 401
    # Same name again, a weak password, an unknown role: refused with what is wrong.
    assert admin_client_api.post("/users", {"username": "bob", "password": "Long-enough-pass-42", "role": "viewer"},
                                 format="json").status_code == 409
    weak = admin_client_api.post("/users", {"username": "carl", "password": "123", "role": "viewer"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["detail"]
    bad = admin_client_api.post("/users", {"username": "carl", "password": "Long-enough-pass-42", "role": "root"},
                                format="json")
    assert bad.status_code == 400 and "role" in bad.json()["detail"]
    assert admin_client_api.post("/users", {"username": "carl"}, format="json").status_code == 400
    assert admin_client_api.post("/users", ["x"], format="json").status_code == 400


def test_a_password_change_ends_the_users_sessions(admin_client_api):
    user = make_user("dave", Role.VIEWER)
    dave = client_for(user)
    assert dave.get("/roles").status_code == 200
    admin_client_api.patch(f"/users/{user.pk}", {"password": "Another-long-pass-7"}, format="json")
    assert dave.get("/roles").status_code == 401


def test_an_admin_cannot_lock_themselves_out():
    me = make_user("root1", Role.ADMIN)
    client = client_for(me)
    for change in ({"enabled": False}, {"role": "viewer"}):
        response = client.patch(f"/users/{me.pk}", change, format="json")
        assert response.status_code == 409 and "your own" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_user_writes_are_admin_only(role):
    client = client_for(make_user(f"x-{role}", role))
    target = make_user("target", Role.VIEWER)
    for response in (client.post("/users", {"username": "e", "password": "Long-enough-pass-42", "role": "admin"},
                                 format="json"),
                     client.patch(f"/users/{target.pk}", {"role": "admin"}, format="json"),
                     client.post("/admin/user-access-log", {"username": "target", "action": "x"}, format="json")):
        assert response.status_code == 403
        assert response.json() == {"detail": "Permission denied: requires users:admin"}


def test_anonymous_is_401(anon_client):
    response = anon_client.get("/users")
    assert response.status_code == 401 and set(response.json()) == {"detail"}


def test_roles_and_assignments(admin_client_api):
    viewer = make_user("vera", Role.VIEWER)
    make_user("otto", Role.OPERATOR)
    response = admin_client_api.get("/roles")
    assert_matches_schema(response, "/roles", "get")
    roles = {r["id"]: r for r in response.json()["roles"]}
    assert set(roles) == {"viewer", "operator", "admin"}
    assert roles["viewer"]["user_count"] == 1
    assert "users:admin" in roles["admin"]["permissions"] and "users:admin" not in roles["operator"]["permissions"]
    assert admin_client_api.get("/roles/operator").json()["name"] == "operator"
    assert admin_client_api.get("/roles/superadmin").status_code == 404
    response = admin_client_api.get(f"/role-assignments?user_id={viewer.pk}")
    assert_matches_schema(response, "/role-assignments", "get")
    assert [(a["username"], a["role_id"]) for a in response.json()["results"]] == [("vera", "viewer")]
    by_role = admin_client_api.get("/role-assignments?role_id=operator").json()
    assert [a["username"] for a in by_role["results"]] == ["otto"] and by_role["total"] == 1
    assert admin_client_api.get("/role-assignments?user_id=x").status_code == 400


def test_user_activity_counts_sessions_console_actions_and_reported_access(admin_client_api):
    user = make_user("erin", Role.OPERATOR)
    client_for(user)
    client_for(user)
    vm = vm_with_disks(1, vm_name="erin-vm")
    ReplicationJob.objects.create(job_id="job-erin", vm_context=vm, replication_type="initial", requested_by="erin")
    LogEntry.objects.create(user=user, content_type=ContentType.objects.get_for_model(ApiToken), object_id="1",
                            object_repr="token", action_flag=ADDITION)
    response = admin_client_api.post("/admin/user-access-log", {"username": "erin", "action": "page_view",
                                                                "resource": "/servers"}, format="json")
    assert response.status_code == 201
    assert_matches_schema(response, "/admin/user-access-log", "post")
    response = admin_client_api.get("/user-activity-summary")
    assert_matches_schema(response, "/user-activity-summary", "get")
    erin = next(u for u in response.json()["users"] if u["username"] == "erin")
    assert (erin["sessions_started"], erin["active_sessions"], erin["console_actions"], erin["access_events"]) == \
        (2, 2, 1, 1)
    assert erin["last_activity"] is not None and erin["replications_started"] == 1
    assert admin_client_api.get("/user-activity-summary?days=0").status_code == 400
    bad = admin_client_api.post("/admin/user-access-log", {"action": "x"}, format="json")
    assert bad.status_code == 400 and "username" in bad.json()["detail"]


def test_lists_cost_the_same_queries_for_many_users(admin_client_api, django_assert_max_num_queries):
    for i in range(30):
        make_user(f"bulk{i}", Role.VIEWER if i % 2 else Role.OPERATOR)
    with django_assert_max_num_queries(8):
        body = admin_client_api.get("/users?limit=1000").json()
    assert body["total"] == 31 and {u["role"] for u in body["results"]} == {"viewer", "operator", "admin"}
    with django_assert_max_num_queries(12):
        assert len(admin_client_api.get("/user-activity-summary").json()["users"]) == 31
