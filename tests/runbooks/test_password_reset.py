"""Password Reset + Console Access against the CloudStack emulator: CloudStack's own refusals (template not password
enabled), a dry run that changes nothing, approval by another admin, the password shown once and never logged."""
from __future__ import annotations

import logging

import pytest

from tests.openapi import assert_matches_schema


def _web(cloud) -> dict:
    return next(vm for vm in cloud.list_virtual_machines() if vm["name"] == "web-01")


def _trigger(client, vm_id: str, dry_run: bool, **params):
    return client.post("/api/runbooks/trigger", {"runbook_name": "password_reset_console", "dry_run": dry_run,
                                                 "parameters": {"server_id": vm_id, **params}}, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_template_without_passwords_is_named_and_nothing_changes(cloud, admin_client_api):
    vm = _web(cloud)
    body = _trigger(admin_client_api, vm["id"], True).json()
    assert body["status"] == "completed", body
    assert body["result"]["password_enabled"] is False
    assert body["result"]["password_reset"].startswith("not_possible: the VM's template is not password enabled")
    assert cloud.get_vm(vm["id"])["state"] == "Running"


@pytest.mark.django_db(transaction=True)
def test_reset_waits_for_another_admin_shows_the_password_once_and_never_logs_it(
        cloud, admin_client_api, second_admin, caplog):
    vm = _web(cloud)
    cloud.call("updateTemplate", id=vm["templateid"], passwordenabled=True)

    dry = _trigger(admin_client_api, vm["id"], True)
    assert dry.status_code == 200, dry.content
    assert_matches_schema(dry, "/api/runbooks/trigger", "post")
    result = dry.json()["result"]
    assert result["steps"] == ["would_stop", "would_reset_password", "would_start"] and "password" not in result
    assert result["console"]["url"].endswith(f"/console?cmd=access&vm={vm['id']}")
    assert cloud.get_vm(vm["id"])["state"] == "Running"  # the dry run stopped nothing

    caplog.set_level(logging.DEBUG)
    chosen = "Given-Pa55word-9"
    real = _trigger(admin_client_api, vm["id"], False, new_password=chosen).json()
    assert real["status"] == "pending_approval" and real["parameters"]["new_password"] == "********"
    approved = second_admin.post(f"/api/runbooks/executions/{real['execution_id']}/approve",
                                 {"decision": "approved"}, format="json").json()
    assert approved["status"] == "completed", approved
    done = approved["result"]
    # The emulator stored and answered the password it was given; the VM runs again after its stop.
    assert done["password"] == chosen and done["password_reset"] == "done"
    assert done["steps"] == ["stopped", "password_reset", "started"] and done["state_after"] == "Running"
    assert approved["parameters"]["new_password"] == "********"

    later = admin_client_api.get(f"/api/runbooks/executions/{real['execution_id']}").json()
    assert later["result"]["password"] == "" and later["result"]["password_shown"] is True
    assert chosen not in caplog.text

    generated = _trigger(admin_client_api, vm["id"], False)
    execution = generated.json()["execution_id"]
    answer = second_admin.post(f"/api/runbooks/executions/{execution}/approve", {"decision": "approved"},
                               format="json").json()
    assert len(answer["result"]["password"]) >= 8 and answer["result"]["password"] != chosen
    assert answer["result"]["password"] not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_unknown_vm_is_a_400(cloud, admin_client_api):
    answer = _trigger(admin_client_api, "no-such-vm", True)
    assert answer.status_code == 400 and "no VM no-such-vm" in answer.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_a_rejected_reset_keeps_no_password_and_the_vm_is_untouched(cloud, admin_client_api, second_admin):
    from apps.runbooks.models import Execution

    vm = _web(cloud)
    cloud.call("updateTemplate", id=vm["templateid"], passwordenabled=True)
    pending = _trigger(admin_client_api, vm["id"], False, new_password="Never-Used-1").json()
    # While it waits, the chosen password is stored encrypted (the platform's secrets key), never in the clear.
    stored = Execution.objects.get(execution_id=pending["execution_id"]).parameters["new_password"]
    assert stored.startswith("fernet:") and "Never-Used-1" not in stored
    from apps.core import crypto
    assert crypto.decrypt(stored[len("fernet:"):]) == "Never-Used-1"
    rejected = second_admin.post(f"/api/runbooks/executions/{pending['execution_id']}/approve",
                                 {"decision": "rejected", "comment": "not today"}, format="json").json()
    assert rejected["status"] == "rejected" and rejected["result"] == {}
    assert Execution.objects.get(execution_id=pending["execution_id"]).parameters["new_password"] == "********"
    assert cloud.get_vm(vm["id"])["state"] == "Running"
