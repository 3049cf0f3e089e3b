"""An approval left waiting past its policy's escalation_timeout_minutes: the execution is marked escalated once
(its approval history says so), the admins who asked for runbook_escalation emails get one, a viewer who asked does
not; it can still be approved, and then runs on the CloudStack emulator. The clock is moved by passing `now`."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.runbooks import escalation, tasks
from apps.runbooks.models import Execution
from tests.openapi import assert_matches_schema

CLEANUP = {"runbook_name": "orphan_resource_cleanup", "dry_run": False,
           "parameters": {"resource_types": ["volumes"], "age_threshold_days": 0}}


def _subscribe(client, email: str) -> None:
    response = client.put("/notifications/preferences", {"event_type": "runbook_escalation", "email": email,
                                                         "severity_min": "warning"}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.django_db(transaction=True)
def test_an_approval_waiting_past_the_timeout_is_escalated_once_to_the_admins(
        cloud, operator_client, admin_client_api, second_admin, viewer_client, settings):
    settings.CELERY_TASK_EAGER_PROPAGATES = False  # no SMTP here: the email stays queued, its row is what we read
    policy = admin_client_api.put("/api/runbooks/policies/orphan_resource_cleanup", {
        "trigger_role": "operator", "approver_role": "admin", "approval_mode": "single_approval",
        "escalation_timeout_minutes": 30}, format="json")
    assert policy.status_code == 200, policy.content
    _subscribe(admin_client_api, "admin1@example.com")
    _subscribe(viewer_client, "viewer1@example.com")  # asked, but may not approve: not told

    waiting = operator_client.post("/api/runbooks/trigger", CLEANUP, format="json").json()
    assert waiting["status"] == "pending_approval"
    execution_id = waiting["execution_id"]
    triggered = Execution.objects.get(execution_id=execution_id).triggered_at

    assert escalation.escalate_overdue(now=triggered + timedelta(minutes=29)) == []
    detail = second_admin.get(f"/api/runbooks/executions/{execution_id}").json()
    assert detail["escalated_at"] is None and detail["approval_history"] == []

    moved = triggered + timedelta(minutes=31)
    [escalated] = escalation.escalate_overdue(now=moved)
    assert str(escalated.execution_id) == execution_id
    assert escalation.escalate_overdue(now=moved + timedelta(hours=5)) == []  # once only
    assert tasks.escalate_overdue() == 0  # the beat task, at the real time: nothing new

    response = second_admin.get(f"/api/runbooks/executions/{execution_id}")
    assert_matches_schema(response, "/api/runbooks/executions/{execution_id}", "get")
    detail = response.json()
    assert detail["status"] == "pending_approval"  # still waits: any admin may decide it
    assert detail["escalated_at"] is not None
    [entry] = detail["approval_history"]
    assert (entry["action"], entry["by"]) == ("escalated", "system")
    assert "for 31 minutes" in entry["comment"] and "timeout of 30 minutes" in entry["comment"]
    pending = second_admin.get("/api/runbooks/approvals/pending").json()
    assert [(p["execution_id"], p["escalated_at"] is not None) for p in pending] == [(execution_id, True)]

    history = admin_client_api.get("/notifications/history").json()
    mails = [n for n in history["items"] if n["event_type"] == "runbook_escalation"]
    assert [(n["recipient"], n["severity"]) for n in mails] == [("admin1@example.com", "warning")]
    assert "orphan_resource_cleanup" in mails[0]["subject"]
    viewer_history = viewer_client.get("/notifications/history").json()
    assert [n for n in viewer_history["items"] if n["event_type"] == "runbook_escalation"] == []

    # Escalated, it is approved as any other and runs on CloudStack.
    approved = second_admin.post(f"/api/runbooks/executions/{execution_id}/approve", {"decision": "approved"},
                                 format="json")
    assert approved.status_code == 200, approved.content
    done = second_admin.get(f"/api/runbooks/executions/{execution_id}").json()
    assert done["status"] == "completed", done
    assert [e["action"] for e in done["approval_history"]] == ["escalated", "approved"]


@pytest.mark.django_db
def test_a_run_without_a_policy_row_escalates_after_the_default_and_decided_runs_never_do(
        operator_client, admin_client_api, second_admin):
    admin_client_api.delete(  # the installed operator policy of the cleanup: without it, the default applies
        "/api/runbooks/policies/" + next(p["policy_id"] for p in admin_client_api.get(
            "/api/runbooks/policies/orphan_resource_cleanup").json() if p["trigger_role"] == "operator"))
    first = operator_client.post("/api/runbooks/trigger", CLEANUP, format="json").json()
    second = operator_client.post("/api/runbooks/trigger", CLEANUP, format="json").json()
    assert first["status"] == second["status"] == "pending_approval"
    second_admin.post(f"/api/runbooks/executions/{second['execution_id']}/approve", {"decision": "rejected"},
                      format="json")
    now = timezone.now()
    assert escalation.escalate_overdue(now=now + timedelta(minutes=59)) == []
    assert [str(e.execution_id) for e in escalation.escalate_overdue(now=now + timedelta(minutes=61))] == [
        first["execution_id"]]
    rejected = admin_client_api.get(f"/api/runbooks/executions/{second['execution_id']}").json()
    assert rejected["escalated_at"] is None and [e["action"] for e in rejected["approval_history"]] == ["rejected"]
