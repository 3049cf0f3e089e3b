"""Seed 004's departments and navigation visibility: what each department sees, per-user overrides, and the
navigation a signed-in user gets."""
from __future__ import annotations

import pytest

from apps.core.choices import Role
from tests.conftest import client_for, make_user
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def nav(admin_client_api):
    """Two groups with two items each, made through the API."""
    def post(path, body):
        response = admin_client_api.post(path, body, format="json")
        assert response.status_code == 201, response.content
        assert_matches_schema(response, path, "post")
        return response.json()["id"]

    infra = post("/api/nav/groups", {"key": "infrastructure", "label": "Infrastructure", "sort_order": 1})
    ops = post("/api/nav/groups", {"key": "operations", "label": "Operations", "sort_order": 2})
    return {"infra": infra, "ops": ops,
            "servers": post("/api/nav/items", {"nav_group_id": infra, "key": "servers", "label": "Servers",
                                               "route": "/servers", "resource": "servers"}),
            "volumes": post("/api/nav/items", {"nav_group_id": infra, "key": "volumes", "label": "Volumes",
                                               "route": "/volumes"}),
            "users": post("/api/nav/items", {"nav_group_id": ops, "key": "users", "label": "Users",
                                             "route": "/users", "resource": "users"}),
            "branding": post("/api/nav/items", {"nav_group_id": ops, "key": "branding", "label": "Branding",
                                                "route": "/settings/branding", "resource": "settings"})}


def test_departments_crud(admin_client_api, viewer_client):
    response = admin_client_api.post("/api/departments", {"name": "Engineering", "description": "Engineering team",
                                                          "sort_order": 1}, format="json")
    assert response.status_code == 201
    dept = response.json()["id"]
    assert admin_client_api.post("/api/departments", {"name": "Engineering"}, format="json").status_code == 409
    listed = viewer_client.get("/api/departments")
    assert_matches_schema(listed, "/api/departments", "get")
    assert [d["name"] for d in listed.json()["results"]] == ["Engineering"] and listed.json()["total"] == 1
    changed = admin_client_api.put(f"/api/departments/{dept}", {"description": "Builds things"}, format="json")
    assert_matches_schema(changed, "/api/departments/{dept_id}", "put")
    assert changed.json()["description"] == "Builds things" and changed.json()["name"] == "Engineering"
    deleted = admin_client_api.delete(f"/api/departments/{dept}")
    assert deleted.json() == {"status": "deleted"}
    assert viewer_client.get("/api/departments").json()["total"] == 0
    assert admin_client_api.put(f"/api/departments/{dept}", {"name": "x"}, format="json").status_code == 404
    # The name comes back as the same department.
    again = admin_client_api.post("/api/departments", {"name": "Engineering"}, format="json")
    assert again.status_code == 201 and again.json()["id"] == dept


@pytest.mark.parametrize("path, body, field", [
    ("/api/departments", {}, "name"), ("/api/departments", {"name": "x", "sort_order": "first"}, "sort_order"),
    ("/api/nav/groups", {"label": "No key"}, "key"), ("/api/nav/groups", {"key": "bad key!", "label": "x"}, "key"),
    ("/api/nav/items", {"nav_group_id": 999999, "key": "k", "label": "l", "route": "/r"}, "nav_group_id"),
])
def test_bad_department_and_navigation_bodies_are_400(admin_client_api, path, body, field):
    response = admin_client_api.post(path, body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_department_and_navigation_writes_are_admin_only(role, nav):
    client = client_for(make_user(f"d-{role}", role))
    make_user("someone", Role.VIEWER)
    checks = [(client.post("/api/departments", {"name": "X"}, format="json"), "departments:admin"),
              (client.delete(f"/api/departments/{1}"), "departments:admin"),
              (client.post("/api/nav/groups", {"key": "x", "label": "x"}, format="json"), "navigation:admin"),
              (client.put(f"/api/nav/items/{nav['servers']}", {"label": "x"}, format="json"), "navigation:admin"),
              (client.get("/api/departments/visibility/matrix"), "navigation:admin"),
              (client.post("/api/nav/overrides/someone", {"nav_item_id": nav["servers"], "override_type": "deny"},
                           format="json"), "navigation:admin"),
              (client.put("/api/auth/users/someone/department", {"department_id": None}, format="json"),
               "users:admin")]
    for response, permission in checks:
        assert response.status_code == 403, response.content
        assert response.json() == {"detail": f"Permission denied: requires {permission}"}
    assert client.get("/api/nav/items").status_code == 200


def test_a_department_sees_what_it_was_given_and_overrides_adjust_it(admin_client_api, nav):
    dept = admin_client_api.post("/api/departments", {"name": "Support"}, format="json").json()["id"]
    response = admin_client_api.put(f"/api/departments/{dept}/visibility",
                                    {"nav_group_ids": [nav["infra"]], "nav_item_ids": [nav["servers"]]},
                                    format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/departments/{dept_id}/visibility", "put")
    got = admin_client_api.get(f"/api/departments/{dept}/visibility").json()
    assert (got["nav_group_ids"], got["nav_item_ids"]) == ([nav["infra"]], [nav["servers"]])
    matrix = admin_client_api.get("/api/departments/visibility/matrix")
    assert_matches_schema(matrix, "/api/departments/visibility/matrix", "get")
    assert matrix.json()["matrix"][str(dept)] == {str(nav["servers"]): True, str(nav["volumes"]): False,
                                                  str(nav["users"]): False, str(nav["branding"]): False}

    sam = make_user("sam", Role.VIEWER)
    response = admin_client_api.put("/api/auth/users/sam/department", {"department_id": dept}, format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/auth/users/{username}/department", "put")
    sam_client = client_for(sam)
    mine = sam_client.get("/api/auth/me/navigation")
    assert_matches_schema(mine, "/api/auth/me/navigation", "get")
    body = mine.json()
    assert body["user"] == {"username": "sam", "role": "viewer", "department": {"id": dept, "name": "Support"}}
    assert [(g["key"], [i["key"] for i in g["items"]]) for g in body["nav_groups"]] == \
        [("infrastructure", ["servers"])]
    assert "users:read" in body["permissions"] and "users:admin" not in body["permissions"]

    # An override shows volumes to sam alone; another hides servers.
    response = admin_client_api.post("/api/nav/overrides/sam", {"nav_item_id": nav["volumes"],
                                                                "override_type": "allow",
                                                                "reason": "covers storage"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "saved"
    admin_client_api.post("/api/nav/overrides/sam", {"nav_item_id": nav["servers"], "override_type": "deny"},
                          format="json")
    listed = admin_client_api.get("/api/nav/overrides/sam")
    assert_matches_schema(listed, "/api/nav/overrides/{username}", "get")
    assert {o["nav_item_key"]: o["override_type"] for o in listed.json()["overrides"]} == \
        {"volumes": "allow", "servers": "deny"}
    items = [i["key"] for g in sam_client.get("/api/auth/me/navigation").json()["nav_groups"] for i in g["items"]]
    assert items == ["volumes"]
    deleted = admin_client_api.delete(f"/api/nav/overrides/sam/{nav['servers']}")
    assert deleted.json() == {"status": "deleted"}
    assert admin_client_api.delete(f"/api/nav/overrides/sam/{nav['servers']}").status_code == 404
    items = [i["key"] for g in sam_client.get("/api/auth/me/navigation").json()["nav_groups"] for i in g["items"]]
    assert items == ["servers", "volumes"]


def test_without_a_department_a_user_sees_what_their_role_reads(admin_client_api, nav):
    viewer = client_for(make_user("vic", Role.VIEWER))
    items = [i["key"] for g in viewer.get("/api/auth/me/navigation").json()["nav_groups"] for i in g["items"]]
    assert items == ["servers", "volumes", "branding", "users"]  # every resource here is readable by viewers
    admin = admin_client_api.get("/api/auth/me/navigation").json()
    assert "settings:admin" in admin["permissions"]


def test_navigation_edits_and_unknown_ids(admin_client_api, nav):
    assert admin_client_api.delete(f"/api/nav/groups/{nav['infra']}").status_code == 409  # still has items
    response = admin_client_api.put(f"/api/nav/items/{nav['volumes']}", {"label": "Disks", "sort_order": 5},
                                    format="json")
    assert_matches_schema(response, "/api/nav/items/{id}", "put")
    assert response.json()["label"] == "Disks"
    assert admin_client_api.post("/api/nav/items", {"nav_group_id": nav["infra"], "key": "volumes", "label": "x",
                                                    "route": "/x"}, format="json").status_code == 409
    for item in ("servers", "volumes"):
        assert admin_client_api.delete(f"/api/nav/items/{nav[item]}").json() == {"status": "deleted"}
    assert admin_client_api.delete(f"/api/nav/groups/{nav['infra']}").json() == {"status": "deleted"}
    listed = admin_client_api.get("/api/nav/groups")
    assert_matches_schema(listed, "/api/nav/groups", "get")
    assert [g["key"] for g in listed.json()["results"]] == ["operations"]
    assert admin_client_api.get("/api/departments/999999/visibility").status_code == 404
    assert admin_client_api.put("/api/departments/999999/visibility", {"nav_group_ids": [], "nav_item_ids": []},
                                format="json").status_code == 404
    dept = admin_client_api.post("/api/departments", {"name": "Ops"}, format="json").json()["id"]
    bad = admin_client_api.put(f"/api/departments/{dept}/visibility", {"nav_group_ids": [999999],
                                                                      "nav_item_ids": []}, format="json")
    assert bad.status_code == 400 and "999999" in bad.json()["detail"]
    assert admin_client_api.put("/api/auth/users/nobody/department", {"department_id": None},
                                format="json").status_code == 404
    make_user("nina", Role.VIEWER)
    assert admin_client_api.put("/api/auth/users/nina/department", {"department_id": 999999},
                                format="json").status_code == 404
    assert admin_client_api.post("/api/nav/overrides/nina", {"nav_item_id": nav["users"], "override_type": "maybe"},
                                 format="json").status_code == 400
