import logging

import pytest
from django.db import connection

from apps.settings.models import OsseaConfig, VMwareCredential
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

SECRET = "uTCroKUkHZaNybhBXkcQsCb_eKDvZKbhHaZK4I1nHrGJYLKN"
CONFIG = {"name": "production-ossea", "api_url": "http://10.245.241.101:8080/client/api", "api_key": "GdsWBVHco0OOW4",
          "secret_key": SECRET, "domain": "/", "zone": "OSSEA-Zone", "oma_vm_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"}


def ossea(client, **body):
    return client.post("/api/v1/ossea/config", body, format="json")


def test_create_get_update_delete_with_secret_redacted(operator_client, caplog):
    caplog.set_level(logging.DEBUG)
    created = ossea(operator_client, action="create", configuration=CONFIG)
    assert created.status_code == 201
    assert_matches_schema(created, "/api/v1/ossea/config", "post")
    config = created.json()["configuration"]
    assert config["secret_key"] == "[REDACTED]" and config["name"] == "production-ossea" and config["is_active"] is True
    listed = ossea(operator_client, action="get")
    assert_matches_schema(listed, "/api/v1/ossea/config", "post")
    listed = listed.json()
    assert listed["success"] is True and [c["id"] for c in listed["configurations"]] == [config["id"]]
    one = ossea(operator_client, action="get", id=config["id"])
    assert_matches_schema(one, "/api/v1/ossea/config", "post")
    one = one.json()["configuration"]
    assert one["zone"] == "OSSEA-Zone" and one["secret_key"] == "[REDACTED]"

    updated = ossea(operator_client, action="update", id=config["id"],
                    configuration={"name": "production-ossea-updated", "zone": "OSSEA-Zone-Updated"})
    assert updated.status_code == 200
    assert_matches_schema(updated, "/api/v1/ossea/config", "post")
    assert updated.json()["configuration"]["zone"] == "OSSEA-Zone-Updated"
    stored = OsseaConfig.objects.get()
    assert stored.api_key == CONFIG["api_key"] and stored.secret_key == SECRET  # partial update kept the rest

    # Encrypted at rest: the raw column holds no plaintext.
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM ossea_configs")
        raw = cursor.fetchone()[0]
    assert SECRET not in raw and raw.startswith("gAAAA")

    deleted = ossea(operator_client, action="delete", id=config["id"])
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert_matches_schema(deleted, "/api/v1/ossea/config", "post")
    assert not OsseaConfig.objects.exists()
    assert SECRET not in caplog.text


@pytest.mark.parametrize("body, status, message", [
    ({}, 400, "action"),
    ({"action": "explode"}, 400, "action"),
    ({"action": "create"}, 400, "configuration"),
    ({"action": "create", "configuration": "nope"}, 400, "configuration: Expected a dictionary"),
    ({"action": "create", "configuration": {"name": "x"}}, 400, "api_url"),
    ({"action": "create", "configuration": {**CONFIG, "api_url": "not a url"}}, 400, "api_url"),
    ({"action": "create", "configuration": {**CONFIG, "secret_key": "[REDACTED]"}}, 400, "redacted"),
    ({"action": "update", "configuration": {"name": "x"}}, 400, "id"),
    ({"action": "update", "id": 999, "configuration": {"name": "x"}}, 404, "Configuration not found"),
    ({"action": "delete"}, 400, "id"),
    ({"action": "delete", "id": 999}, 404, "Configuration not found"),
    ({"action": "get", "id": 999}, 404, "Configuration not found"),
    ({"action": "get", "id": "abc"}, 400, "id"),
])
def test_bad_inputs(operator_client, body, status, message):
    response = ossea(operator_client, **body)
    assert response.status_code == status
    assert_matches_schema(response, "/api/v1/ossea/config", "post")
    assert response.json()["success"] is False
    assert message in response.json()["error"]


def test_not_found_matches_seed_shape(operator_client):
    body = ossea(operator_client, action="get", id=999).json()
    assert body == {"success": False, "error": "Configuration not found",
                    "details": "No OSSEA configuration found with ID: 999", "error_code": "NOT_FOUND",
                    "message": "Not Found", "timestamp": body["timestamp"], "request_id": body["request_id"]}


def test_duplicate_name_is_409(operator_client):
    assert ossea(operator_client, action="create", configuration=CONFIG).status_code == 201
    assert ossea(operator_client, action="create", configuration=CONFIG).status_code == 409


def test_viewer_may_get_but_not_create(viewer_client):
    assert ossea(viewer_client, action="get").status_code == 200
    denied = ossea(viewer_client, action="create", configuration=CONFIG)
    assert denied.status_code == 403
    assert_matches_schema(denied, "/api/v1/ossea/config", "post")


CRED = {"name": "lab-vcenter", "vcenter_host": "vcenter.lab", "username": "administrator@vsphere.local",
        "password": "EmyGVoBFesGQc47-", "datacenter": "DC0"}


def test_credentials_crud_and_default(operator_client, caplog):
    caplog.set_level(logging.DEBUG)
    first = operator_client.post("/api/v1/vmware-credentials", CRED, format="json")
    assert first.status_code == 201
    assert first.json()["password"] == "[REDACTED]" and first.json()["is_default"] is True  # the first is the default
    second = operator_client.post("/api/v1/vmware-credentials", {**CRED, "name": "other"}, format="json").json()
    assert second["is_default"] is False
    made_default = operator_client.put(f"/api/v1/vmware-credentials/{second['id']}/set-default")
    assert made_default.status_code == 200 and made_default.json()["is_default"] is True
    assert VMwareCredential.objects.filter(is_default=True).count() == 1
    assert operator_client.get("/api/v1/vmware-credentials/default").json()["id"] == second["id"]

    updated = operator_client.put(f"/api/v1/vmware-credentials/{first.json()['id']}", {"datacenter": "DC1"}, format="json")
    assert updated.status_code == 200 and updated.json()["datacenter"] == "DC1"
    assert VMwareCredential.objects.get(pk=first.json()["id"]).password == CRED["password"]

    listing = operator_client.get("/api/v1/vmware-credentials").json()
    assert listing["count"] == 2
    assert all(c["password"] == "[REDACTED]" for c in listing["results"])
    detail = operator_client.get(f"/api/v1/vmware-credentials/{second['id']}").json()
    assert CRED["password"] not in str(detail)

    assert operator_client.delete(f"/api/v1/vmware-credentials/{second['id']}").status_code == 204
    assert operator_client.get(f"/api/v1/vmware-credentials/{second['id']}").status_code == 404
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM vmware_credentials")
        assert all(CRED["password"] not in row[0] for row in cursor.fetchall())
    assert CRED["password"] not in caplog.text


@pytest.mark.parametrize("body, status, field", [
    ({}, 400, "name"),
    ({**CRED, "password": ""}, 400, "password"),
    ({**CRED, "password": "[REDACTED]"}, 400, "password"),
    ({**CRED, "is_default": "maybe"}, 400, "is_default"),
    ({**CRED, "name": "x" * 300}, 400, "name"),
])
def test_credentials_bad_inputs(operator_client, body, status, field):
    response = operator_client.post("/api/v1/vmware-credentials", body, format="json")
    assert response.status_code == status
    assert field in response.json()["error"]


def test_credentials_duplicate_and_unknown(operator_client):
    operator_client.post("/api/v1/vmware-credentials", CRED, format="json")
    assert operator_client.post("/api/v1/vmware-credentials", CRED, format="json").status_code == 409
    assert operator_client.get("/api/v1/vmware-credentials/999").status_code == 404
    assert operator_client.put("/api/v1/vmware-credentials/999/set-default").status_code == 404
    assert operator_client.get("/api/v1/vmware-credentials/abc").status_code == 404


def test_default_when_none_is_404(operator_client):
    response = operator_client.get("/api/v1/vmware-credentials/default")
    assert response.status_code == 404


def test_credentials_test_without_agent_is_clear_503(operator_client, settings):
    settings.AGENT_API_URL = "http://127.0.0.1:1"
    cred = operator_client.post("/api/v1/vmware-credentials", CRED, format="json").json()
    response = operator_client.post(f"/api/v1/vmware-credentials/{cred['id']}/test")
    assert response.status_code == 503
    assert "No agent is connected" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/vmware-credentials/{id}/test", "post")


def test_credentials_test_counts_the_vms_the_agent_sees(operator_client, monkeypatch):
    from apps.enrollment.agent_client import AgentClient

    monkeypatch.setattr(AgentClient, "discover", lambda self, **kwargs: {"vms": [{"id": "vm-1", "name": "a"}]})
    cred = operator_client.post("/api/v1/vmware-credentials", CRED, format="json").json()
    response = operator_client.post(f"/api/v1/vmware-credentials/{cred['id']}/test")
    assert response.status_code == 200 and response.json()["details"]["vm_count"] == 1
    assert_matches_schema(response, "/api/v1/vmware-credentials/{id}/test", "post")
