"""Seed 004's notifications: SMTP settings (password encrypted, never answered or logged), per-user preferences,
history, a test email through a real SMTP server, retries on a failing one."""
from __future__ import annotations

import logging

import pytest
from django.db import connection

from apps.accounts import services
from apps.accounts.choices import EventType, Severity
from apps.accounts.models import Notification
from apps.core.choices import Role
from tests.conftest import client_for, make_user
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db
PASSWORD = "s3cret-smtp-pass"


def configure(client, server, **extra):
    body = {"smtp_enabled": True, "smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_username": "mailer",
            "smtp_password": PASSWORD, "smtp_from": "platform@example.com", **extra}
    response = client.put("/notifications/smtp-settings", body, format="json")
    assert response.status_code == 200, response.content
    return response


def test_smtp_settings_keep_the_password_encrypted_and_never_answer_or_log_it(admin_client_api, smtp_server,
                                                                              caplog):
    caplog.set_level(logging.DEBUG)
    response = configure(admin_client_api, smtp_server)
    assert_matches_schema(response, "/notifications/smtp-settings", "put")
    assert PASSWORD not in response.content.decode()
    status = admin_client_api.get("/notifications/smtp-status")
    assert_matches_schema(status, "/notifications/smtp-status", "get")
    assert status.json()["smtp_has_auth"] is True and status.json()["smtp_port"] == smtp_server.port
    assert PASSWORD not in status.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_smtpsettings")
        stored = cursor.fetchone()[0]
    assert stored and PASSWORD not in stored
    assert PASSWORD not in caplog.text
    # Leaving the password out keeps it; the worker still logs in with it.
    admin_client_api.put("/notifications/smtp-settings", {"smtp_port": smtp_server.port}, format="json")
    from apps.accounts.selectors import smtp

    assert smtp().password == PASSWORD


@pytest.mark.parametrize("body, field", [({"smtp_port": 0}, "smtp_port"), ({"smtp_port": "x"}, "smtp_port"),
                                         ({"smtp_from": "not-an-address"}, "smtp_from"),
                                         ({"smtp_host": "evil host;"}, "smtp_host"),
                                         ({"smtp_use_tls": True, "smtp_use_ssl": True}, "exclude each other")])
def test_bad_smtp_settings_are_400(admin_client_api, body, field):
    response = admin_client_api.put("/notifications/smtp-settings", body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_smtp_and_test_email_and_stats_are_admin_only(role):
    client = client_for(make_user(f"n-{role}", role))
    assert client.get("/notifications/smtp-status").status_code == 200
    for response in (client.put("/notifications/smtp-settings", {"smtp_host": "mx.example.com"}, format="json"),
                     client.post("/notifications/test-email", {"recipient": "a@example.com"}, format="json"),
                     client.get("/notifications/admin/stats")):
        assert response.status_code == 403
        assert response.json() == {"detail": "Permission denied: requires notifications:admin"}


def test_test_email_arrives_through_a_real_smtp_server(admin_client_api, smtp_server, eager_worker,
                                                       django_capture_on_commit_callbacks):
    configure(admin_client_api, smtp_server)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"}, format="json")
    assert response.status_code == 202, response.content
    assert_matches_schema(response, "/notifications/test-email", "post")
    assert response.json()["status"] == "queued"
    [mail] = smtp_server.recorder.received
    assert mail.recipients == ["ops@example.com"] and mail.sender == "platform@example.com"
    assert mail.message["Subject"] == "Migration Platform: test email"
    assert "the platform's SMTP settings work" in mail.message.get_content()
    assert smtp_server.recorder.logins == [("mailer", PASSWORD)]
    history = admin_client_api.get("/notifications/history?limit=50&offset=0")
    assert_matches_schema(history, "/notifications/history", "get")
    [item] = history.json()["items"]
    assert (item["status"], item["recipient"], item["attempts"], item["error_message"]) == \
        ("sent", "ops@example.com", 1, None)
    assert item["sent_at"] and history.json()["total"] == 1
    stats = admin_client_api.get("/notifications/admin/stats")
    assert_matches_schema(stats, "/notifications/admin/stats", "get")
    assert stats.json()["total_sent"] == 1 and stats.json()["events_by_type"]["test_email"] == 1
    assert stats.json()["events_by_type"]["drift_critical"] == 0


def test_a_failing_smtp_server_gives_recorded_retries_then_a_failure_not_a_500(admin_client_api, smtp_server,
                                                                                eager_worker,
                                                                                django_capture_on_commit_callbacks):
    configure(admin_client_api, smtp_server)
    smtp_server.recorder.refuse = "451 4.3.0 Mailbox temporarily unavailable"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"}, format="json")
    assert response.status_code == 202
    row = Notification.objects.get(pk=response.json()["id"])
    assert row.status == "failed" and row.attempts == 4  # the first try and three retries
    assert "451" in row.error_message and "temporarily unavailable" in row.error_message
    assert admin_client_api.get("/notifications/admin/stats").json()["total_failed"] == 1


def test_a_retry_sends_once_the_server_is_back(admin_client_api, smtp_server, eager_worker,
                                              django_capture_on_commit_callbacks):
    configure(admin_client_api, smtp_server)
    smtp_server.recorder.refuse, smtp_server.recorder.refuse_times = "451 4.3.0 try later", 1
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"}, format="json")
    row = Notification.objects.get(pk=response.json()["id"])
    assert (row.status, row.attempts, row.error_message) == ("sent", 2, None)
    assert len(smtp_server.recorder.received) == 1


def test_the_request_only_queues_the_email(admin_client_api, smtp_server, settings,
                                           django_capture_on_commit_callbacks):
    # No worker runs: the answer comes back at once, the message waits on the broker for the worker.
    from celery.signals import before_task_publish

    settings.CELERY_TASK_ALWAYS_EAGER = False
    published = []

    def record(sender=None, body=None, **kwargs):
        published.append((sender, list(body[0])))

    configure(admin_client_api, smtp_server)
    before_task_publish.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"},
                                             format="json")
    finally:
        before_task_publish.disconnect(record)
    assert response.status_code == 202
    assert published == [("apps.accounts.tasks.send_notification", [response.json()["id"]])]
    assert not smtp_server.recorder.received
    assert Notification.objects.get(pk=response.json()["id"]).status == "pending"


def test_wrong_smtp_login_is_a_recorded_failure(admin_client_api, smtp_server, eager_worker,
                                                django_capture_on_commit_callbacks):
    configure(admin_client_api, smtp_server, smtp_password="wrong-one")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"}, format="json")
    row = Notification.objects.get(pk=response.json()["id"])
    assert row.status == "failed" and "SMTPAuthenticationError" in row.error_message
    assert "wrong-one" not in row.error_message
    assert not smtp_server.recorder.received


def test_test_email_without_smtp_is_503_and_bad_recipient_400(admin_client_api):
    response = admin_client_api.post("/notifications/test-email", {"recipient": "ops@example.com"}, format="json")
    assert response.status_code == 503 and "SMTP is not configured" in response.json()["detail"]
    response = admin_client_api.post("/notifications/test-email", {"recipient": "nope"}, format="json")
    assert response.status_code == 400 and "recipient" in response.json()["detail"]


def test_preferences_are_per_user_and_events_reach_who_asked(viewer_client, smtp_server, eager_worker,
                                                              admin_client_api, django_capture_on_commit_callbacks):
    configure(admin_client_api, smtp_server)
    response = viewer_client.put("/notifications/preferences", {"event_type": "drift_critical",
                                                                "email": "viewer@example.com",
                                                                "severity_min": "critical"}, format="json")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/notifications/preferences", "put")
    assert response.json()["status"] == "saved"
    again = viewer_client.put("/notifications/preferences", {"event_type": "drift_critical",
                                                             "email": "v2@example.com"}, format="json")
    assert again.json()["id"] == response.json()["id"]  # one preference per event type: updated
    listed = viewer_client.get("/notifications/preferences")
    assert_matches_schema(listed, "/notifications/preferences", "get")
    assert [(p["username"], p["email"], p["severity_min"], p["delivery_mode"]) for p in listed.json()] == \
        [("viewer1", "v2@example.com", "warning", "immediate")]
    assert admin_client_api.get("/notifications/preferences").json() == []  # someone else's are not mine
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(event_type=EventType.DRIFT_CRITICAL, severity=Severity.INFO, subject="ignored", body="x")
        services.notify(event_type=EventType.DRIFT_CRITICAL, severity=Severity.CRITICAL, event_id="123",
                        subject="Drift Alert: server power_state changed", body="web01 was powered off")
    [mail] = smtp_server.recorder.received
    assert mail.recipients == ["v2@example.com"] and mail.message["Subject"] == "Drift Alert: server power_state changed"
    [item] = viewer_client.get("/notifications/history").json()["items"]
    assert (item["username"], item["event_id"], item["status"]) == ("viewer1", "123", "sent")
    pref_id = response.json()["id"]
    assert admin_client_api.delete(f"/notifications/preferences/{pref_id}").status_code == 404
    deleted = viewer_client.delete(f"/notifications/preferences/{pref_id}")
    assert deleted.status_code == 200 and deleted.json() == {"status": "deleted"}
    assert viewer_client.get("/notifications/preferences").json() == []


@pytest.mark.parametrize("body, field", [({"event_type": "nope", "email": "a@example.com"}, "event_type"),
                                         ({"event_type": "drift_critical", "email": "x"}, "email"),
                                         ({"event_type": "drift_critical", "email": "a@example.com",
                                           "severity_min": "loud"}, "severity_min"),
                                         ({"email": "a@example.com"}, "event_type")])
def test_bad_preferences_are_400(viewer_client, body, field):
    response = viewer_client.put("/notifications/preferences", body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]


def test_history_filters_are_checked(viewer_client):
    assert viewer_client.get("/notifications/history?status=lost").status_code == 400
    assert viewer_client.get("/notifications/history?limit=5000").status_code == 400
    assert viewer_client.get("/notifications/history?status=sent").json() == \
        {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_a_failed_replication_emails_who_asked(viewer_client, admin_client_api, smtp_server, eager_worker,
                                               django_capture_on_commit_callbacks):
    from apps.replication.jobs import replication_finish
    from apps.replication.models import ReplicationJob
    from tests.factories import vm_with_disks

    configure(admin_client_api, smtp_server)
    viewer_client.put("/notifications/preferences", {"event_type": "replication_failed",
                                                     "email": "oncall@example.com", "severity_min": "critical"},
                      format="json")
    vm = vm_with_disks(1, vm_name="pgtest2")
    job = ReplicationJob.objects.create(job_id="job-20261207-101500", vm_context=vm, replication_type="incremental",
                                        status="replicating")
    with django_capture_on_commit_callbacks(execute=True):
        replication_finish(job=job, status="failed", error="agent lost the NBD connection")
    [mail] = smtp_server.recorder.received
    assert mail.recipients == ["oncall@example.com"]
    assert mail.message["Subject"] == "Replication failed: pgtest2"
    assert "agent lost the NBD connection" in mail.message.get_content()
    [item] = viewer_client.get("/notifications/history?event_type=replication_failed").json()["items"]
    assert (item["event_id"], item["status"]) == ("job-20261207-101500", "sent")
    # A job that completes tells nobody.
    other = ReplicationJob.objects.create(job_id="job-ok", vm_context=vm_with_disks(1, vm_name="web01"),
                                          replication_type="initial", status="replicating")
    with django_capture_on_commit_callbacks(execute=True):
        replication_finish(job=other, status="completed")
    assert len(smtp_server.recorder.received) == 1


def test_digest_preferences_get_one_daily_email(viewer_client, admin_client_api, smtp_server, eager_worker,
                                                django_capture_on_commit_callbacks):
    from apps.accounts.tasks import send_digests

    configure(admin_client_api, smtp_server)
    viewer_client.put("/notifications/preferences", {"event_type": "drift_warning", "email": "lead@example.com",
                                                     "severity_min": "info", "delivery_mode": "digest"},
                      format="json")
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("web01", "db01"):
            services.notify(event_type=EventType.DRIFT_WARNING, severity=Severity.WARNING,
                            subject=f"Drift: {name} flavor changed", body="...")
    assert not smtp_server.recorder.received  # they wait for the digest
    assert {i["status"] for i in viewer_client.get("/notifications/history").json()["items"]} == {"pending"}
    with django_capture_on_commit_callbacks(execute=True):
        assert send_digests.apply().get() == 1
    [mail] = smtp_server.recorder.received
    assert mail.recipients == ["lead@example.com"] and "2 events since the last digest" in mail.message["Subject"]
    text = mail.message.get_content()
    assert "Drift: web01 flavor changed" in text and "Drift: db01 flavor changed" in text
    statuses = {i["event_type"]: i["status"] for i in viewer_client.get("/notifications/history").json()["items"]}
    assert statuses == {"digest": "sent", "drift_warning": "sent"}
    with django_capture_on_commit_callbacks(execute=True):
        assert send_digests.apply().get() == 0  # nothing waits any more
    assert viewer_client.put("/notifications/preferences", {"event_type": "digest", "email": "a@example.com"},
                             format="json").status_code == 400


def test_the_digests_are_on_the_beat_schedule():
    from django.conf import settings

    from apps.accounts.tasks import send_digests

    assert settings.CELERY_BEAT_SCHEDULE["notification-digests"]["task"] == send_digests.name
