"""Runbooks against the CloudStack emulator: the orphan cleanup and stuck-VM remediation end to end (dry run,
approval by another admin, the worker's run, CloudStack's state after), roles, and bad input as {"detail"}."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.runbooks.models import Execution
from apps.settings.choices import CloudResourceKind, CloudResourceState
from apps.settings.models import CloudResource
from tests.openapi import assert_matches_schema

CLEANUP = {"runbook_name": "orphan_resource_cleanup",
           "parameters": {"resource_types": ["volumes"], "age_threshold_days": 0}}


def _volume(cloud, name: str) -> dict:
    zone = cloud.list_zones()[0]
    return cloud.create_volume(name=name, zone_id=zone["id"], disk_offering_id=cloud.custom_disk_offering()["id"],
                               size_gb=1)


def _volume_ids(cloud) -> set[str]:
    return {v["id"] for v in cloud.list_all_volumes() if v.get("state") not in ("Destroy", "Expunging")}


@pytest.mark.django_db(transaction=True)
def test_orphan_cleanup_dry_run_approval_by_another_admin_and_the_volume_is_gone(
        cloud, admin_client_api, second_admin, operator_client):
    orphan = _volume(cloud, "left-behind")
    kept = _volume(cloud, "replica-kept")  # detached too, but the platform recorded it: not an orphan
    CloudResource.objects.create(owner="job-1", kind=CloudResourceKind.VOLUME, resource_id=kept["id"],
                                 state=CloudResourceState.RELEASED)

    dry = admin_client_api.post("/api/runbooks/trigger", {**CLEANUP, "dry_run": True}, format="json")
    assert dry.status_code == 200, dry.content
    assert_matches_schema(dry, "/api/runbooks/trigger", "post")
    body = dry.json()
    assert body["status"] == "completed" and body["dry_run"] is True and body["triggered_by"] == "admin1"
    listed = body["result"]["orphan_volumes"]
    assert [v["id"] for v in listed] == [orphan["id"]] and listed[0]["outcome"] == "would_delete"
    assert (body["items_found"], body["items_actioned"]) == (1, 0)
    assert {orphan["id"], kept["id"]} <= _volume_ids(cloud)  # the dry run deleted nothing

    real = admin_client_api.post("/api/runbooks/trigger", {**CLEANUP, "dry_run": False}, format="json").json()
    assert real["status"] == "pending_approval" and real["result"] == {}
    execution = real["execution_id"]
    pending = second_admin.get("/api/runbooks/approvals/pending").json()
    assert [p["execution_id"] for p in pending] == [execution]
    assert operator_client.get("/api/runbooks/approvals/pending").status_code == 403

    same = admin_client_api.post(f"/api/runbooks/executions/{execution}/approve", {"decision": "approved"},
                                 format="json")
    assert same.status_code == 403 and "another user" in same.json()["detail"]
    refused = operator_client.post(f"/api/runbooks/executions/{execution}/approve", {"decision": "approved"},
                                   format="json")
    assert refused.json() == {"detail": "Permission denied: requires runbooks:admin"}
    assert orphan["id"] in _volume_ids(cloud)

    approved = second_admin.post(f"/api/runbooks/executions/{execution}/approve",
                                 {"decision": "approved", "comment": "Looks good, proceed"}, format="json")
    assert approved.status_code == 200, approved.content
    detail = admin_client_api.get(f"/api/runbooks/executions/{execution}")
    assert_matches_schema(detail, "/api/runbooks/executions/{execution_id}", "get")
    done = detail.json()
    assert done["status"] == "completed", done
    assert (done["triggered_by"], done["approved_by"], done["approval_comment"]) == ("admin1", "admin2",
                                                                                      "Looks good, proceed")
    assert [e["action"] for e in done["approval_history"]] == ["approved"]
    assert done["result"]["orphan_volumes"][0]["outcome"] == "deleted" and done["items_actioned"] == 1
    assert orphan["id"] not in _volume_ids(cloud) and kept["id"] in _volume_ids(cloud)

    again = second_admin.post(f"/api/runbooks/executions/{execution}/approve", {"decision": "approved"},
                              format="json")
    assert again.status_code == 409
    history = admin_client_api.get("/api/runbooks/executions/history?runbook_name=orphan_resource_cleanup")
    assert_matches_schema(history, "/api/runbooks/executions/history", "get")
    assert history.json()["total"] == 2
    stats = admin_client_api.get("/api/runbooks/stats/summary").json()
    assert stats == [{"runbook_name": "orphan_resource_cleanup", "total_executions": 2, "completed": 2, "failed": 0,
                      "pending": 0, "rejected": 0, "total_items_found": 2, "total_items_actioned": 1,
                      "last_run": stats[0]["last_run"]}]


@pytest.mark.django_db(transaction=True)
def test_stuck_vm_is_hard_rebooted_after_approval(cloud, cs_lab, operator_client, admin_client_api):
    vms = cloud.list_virtual_machines()
    stuck = next(v for v in vms if v["state"] == "Running")
    fresh = next(v for v in vms if v["state"] == "Running" and v["id"] != stuck["id"])
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    cs_lab.leave_stuck(stuck["id"], state="Starting", since=hour_ago)
    cs_lab.leave_stuck(fresh["id"], state="Stopping", since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"))
    request = {"runbook_name": "stuck_vm_remediation", "dry_run": True,
               "parameters": {"stuck_threshold_minutes": 30, "action": "hard_reboot"}}

    dry = operator_client.post("/api/runbooks/trigger", request, format="json").json()
    assert [(v["id"], v["state"], v["outcome"]) for v in dry["result"]["stuck_vms"]] == [
        (stuck["id"], "Starting", "would_hard_reboot")]  # the VM stuck for a minute is under the threshold
    assert cloud.get_vm(stuck["id"])["state"] == "Starting"

    soft = operator_client.post("/api/runbooks/trigger", {
        **request, "dry_run": False, "parameters": {"action": "soft_reboot"}}, format="json").json()
    admin_client_api.post(f"/api/runbooks/executions/{soft['execution_id']}/approve", {"decision": "approved"},
                          format="json")
    line = Execution.objects.get(execution_id=soft["execution_id"]).result["stuck_vms"][0]
    # CloudStack refuses a plain stop of a VM stuck mid-transition: the soft reboot fails and says so.
    assert line["outcome"] == "failed" and "Starting" in line["error"]

    real = operator_client.post("/api/runbooks/trigger", {**request, "dry_run": False}, format="json").json()
    assert real["status"] == "pending_approval" and real["triggered_by"] == "operator1"
    admin_client_api.post(f"/api/runbooks/executions/{real['execution_id']}/approve", {"decision": "approved"},
                          format="json")
    done = Execution.objects.get(execution_id=real["execution_id"])
    assert done.status == "completed" and done.items_actioned == 1
    assert done.result["stuck_vms"][0]["state_after"] == "Running"
    assert cloud.get_vm(stuck["id"])["state"] == "Running" and cloud.get_vm(fresh["id"])["state"] == "Stopping"


@pytest.mark.django_db(transaction=True)
def test_low_risk_runbook_runs_at_once_and_snapshots_each_volume(cloud, operator_client):
    vm = next(v for v in cloud.list_virtual_machines() if v["state"] == "Running")
    answer = operator_client.post("/api/runbooks/trigger", {
        "runbook_name": "snapshot_before_escalation", "dry_run": False,
        "parameters": {"server_id": vm["id"], "reference_id": "INC-2026-0042"}}, format="json").json()
    assert answer["status"] == "completed", answer
    names = {s["name"] for s in cloud.list_all_snapshots()}
    made = answer["result"]["snapshots"]
    assert made and all(line["outcome"] == "created" and line["snapshot_name"] in names for line in made)
    assert all(line["snapshot_name"].startswith("Pre-T2-escalation-INC-2026-0042-") for line in made)


@pytest.mark.django_db
def test_roles_policies_and_cancel(viewer_client, operator_client, admin_client_api, second_admin):
    listed = viewer_client.get("/api/runbooks")
    assert_matches_schema(listed, "/api/runbooks", "get")
    names = {r["name"] for r in listed.json()}
    assert {"stuck_vm_remediation", "orphan_resource_cleanup", "vm_health_quickfix"} <= names
    one = viewer_client.get("/api/runbooks/stuck_vm_remediation").json()
    assert one["parameters_schema"]["properties"]["action"]["enum"] == ["soft_reboot", "hard_reboot", "report_only"]
    assert viewer_client.post("/api/runbooks/trigger", CLEANUP, format="json").json() == {
        "detail": "Permission denied: requires runbooks:write"}

    policies = viewer_client.get("/api/runbooks/policies/orphan_resource_cleanup").json()
    assert {(p["trigger_role"], p["approval_mode"]) for p in policies} == {
        ("operator", "single_approval"), ("admin", "single_approval")}
    assert operator_client.put("/api/runbooks/policies/cost_leakage_report", {"trigger_role": "operator"},
                               format="json").status_code == 403
    changed = admin_client_api.put("/api/runbooks/policies/vm_health_quickfix", {
        "trigger_role": "operator", "approver_role": "admin", "approval_mode": "single_approval",
        "escalation_timeout_minutes": 15, "max_auto_executions_per_day": 5}, format="json")
    assert changed.status_code == 200 and changed.json()["escalation_timeout_minutes"] == 15
    assert len(viewer_client.get("/api/runbooks/policies/vm_health_quickfix").json()) == 2

    # A real run waits for approval without touching CloudStack (none is configured here); it can be cancelled.
    real = operator_client.post("/api/runbooks/trigger", {**CLEANUP, "dry_run": False}, format="json").json()
    assert real["status"] == "pending_approval"
    cancelled = operator_client.post(f"/api/runbooks/executions/{real['execution_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert operator_client.post(f"/api/runbooks/executions/{real['execution_id']}/cancel").status_code == 409
    rejected = operator_client.post("/api/runbooks/trigger", {**CLEANUP, "dry_run": False}, format="json").json()
    answer = second_admin.post(f"/api/runbooks/executions/{rejected['execution_id']}/approve",
                               {"decision": "rejected", "comment": "not now"}, format="json").json()
    assert answer["status"] == "rejected" and answer["approved_by"] == "admin2"

    policy_id = changed.json()["policy_id"]
    assert admin_client_api.delete(f"/api/runbooks/policies/{policy_id}").status_code == 204
    assert admin_client_api.delete(f"/api/runbooks/policies/{policy_id}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("body, status, text", [
    ({"runbook_name": "nope"}, 404, "Runbook nope not found"),
    ({}, 400, "runbook_name"),
    ({"runbook_name": "orphan_resource_cleanup", "parameters": []}, 400, "parameters must be an object"),
    ({"runbook_name": "orphan_resource_cleanup", "parameters": {"age_threshold_days": "x"}}, 400,
     "parameters.age_threshold_days must be a whole number"),
    ({"runbook_name": "orphan_resource_cleanup", "parameters": {"resource_types": ["servers"]}}, 400,
     "parameters.resource_types[0] must be one of"),
    ({"runbook_name": "stuck_vm_remediation", "parameters": {"bogus": 1}}, 400, "parameters.bogus"),
    ({"runbook_name": "vm_health_quickfix", "dry_run": False}, 400, "parameters.server_id is required"),
    ({"runbook_name": "orphan_resource_cleanup", "dry_run": True}, 503, "CloudStack is not configured"),
])
def test_bad_input_is_4xx_detail(operator_client, body, status, text):
    answer = operator_client.post("/api/runbooks/trigger", body, format="json")
    assert answer.status_code == status and text in answer.json()["detail"], answer.content
    assert set(answer.json()) == {"detail"}


@pytest.mark.django_db
def test_bad_paths_and_queries(viewer_client, admin_client_api, anon_client):
    assert anon_client.get("/api/runbooks").json() == {"detail": "Not authenticated"}
    assert viewer_client.get("/api/runbooks/executions/not-a-uuid").status_code == 404
    assert viewer_client.get("/api/runbooks/executions/history?limit=0").json() == {
        "detail": "Invalid parameter: limit must be between 1 and 1000"}
    assert viewer_client.get("/api/runbooks/executions/history?status=weird").status_code == 400
    assert viewer_client.get("/api/runbooks/policies/nope").status_code == 404
    assert admin_client_api.post("/api/runbooks/executions/00000000-0000-0000-0000-000000000000/approve",
                                 {"decision": "maybe"}, format="json").status_code == 404
    assert viewer_client.get("/api/runbooks/executions/history").json() == {"executions": [], "total": 0}


@pytest.mark.django_db(transaction=True)
def test_health_quickfix_restarts_a_stopped_vm_and_names_an_unknown_one(cloud, operator_client, admin_client_api):
    vm = next(v for v in cloud.list_virtual_machines() if v["state"] == "Running")
    cloud.stop_virtual_machine(vm["id"])
    request = {"runbook_name": "vm_health_quickfix", "dry_run": True,
               "parameters": {"server_id": vm["id"], "auto_restart": True}}
    dry = operator_client.post("/api/runbooks/trigger", request, format="json").json()
    assert dry["result"]["issues"] == ["VM is Stopped, not Running"] and dry["result"]["restart"] == "would_soft_restart"
    assert cloud.get_vm(vm["id"])["state"] == "Stopped"
    real = operator_client.post("/api/runbooks/trigger", {**request, "dry_run": False}, format="json").json()
    admin_client_api.post(f"/api/runbooks/executions/{real['execution_id']}/approve", {"decision": "approved"},
                          format="json")
    done = admin_client_api.get(f"/api/runbooks/executions/{real['execution_id']}").json()
    assert done["status"] == "completed" and done["result"]["state_after"] == "Running"
    assert cloud.get_vm(vm["id"])["state"] == "Running"

    unknown = operator_client.post("/api/runbooks/trigger", {
        **request, "parameters": {"server_id": "0f0e0d0c-0000-0000-0000-000000000000"}}, format="json")
    assert unknown.status_code == 400 and "no VM" in unknown.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_an_executing_run_before_its_next_change(cloud, operator_client):
    from apps.runbooks import runner

    orphan = _volume(cloud, "left-behind")
    execution = Execution.objects.create(runbook_name="orphan_resource_cleanup", status="executing", dry_run=False,
                                         parameters={"resource_types": ["volumes"], "age_threshold_days": 0,
                                                     "target_project": ""}, triggered_by="operator1")
    answer = operator_client.post(f"/api/runbooks/executions/{execution.execution_id}/cancel").json()
    assert answer["status"] == "executing" and answer["cancel_requested"] is True
    runner.run(execution, cloud)  # the worker, at its first change
    execution.refresh_from_db()
    assert execution.status == "cancelled" and orphan["id"] in _volume_ids(cloud)


@pytest.mark.django_db(transaction=True)
def test_security_group_audit_flags_rules_open_to_the_internet(cloud, viewer_client, operator_client):
    group = cloud.create_security_group(name="web-sg")
    cloud.authorize_ingress(group_id=group["id"], protocol="tcp", start_port=22, end_port=22, cidr="0.0.0.0/0")
    cloud.authorize_ingress(group_id=group["id"], protocol="tcp", start_port=443, end_port=443, cidr="0.0.0.0/0")
    cloud.authorize_ingress(group_id=group["id"], protocol="tcp", start_port=1000, end_port=2000, cidr="0.0.0.0/0")
    cloud.authorize_ingress(group_id=group["id"], protocol="tcp", start_port=3306, end_port=3306, cidr="10.0.0.0/8")
    answer = operator_client.post("/api/runbooks/trigger", {"runbook_name": "security_group_audit", "dry_run": False},
                                  format="json").json()
    assert answer["status"] == "completed" and answer["items_actioned"] == 0
    assert sorted(f["finding"] for f in answer["result"]["findings"] if f["security_group"] == "web-sg") == [
        "SSH (22/tcp) open to the internet", "ports 1000-2000/tcp open to the internet"]
    history = viewer_client.get("/api/runbooks/executions/history?status=completed").json()["executions"]
    assert (history[0]["category"], history[0]["risk_level"], history[0]["display_name"]) == (
        "security", "low", "Security Group Audit")
