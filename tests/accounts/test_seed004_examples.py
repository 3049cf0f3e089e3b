"""Seed 004's examples for users, monitoring, departments/navigation, branding and notifications, replayed: each
answer has the documented status and every documented key with its type (tests/contracts/shape.py). The examples
are copied here as data, each under the seed section it comes from; docs/api-compatibility.md lists what differs."""
from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts import services
from apps.accounts.choices import EventType, Severity
from apps.core.choices import Role
from tests.conftest import client_for, make_user
from tests.contracts.shape import assert_seed_answer

pytestmark = pytest.mark.django_db

# "Branding & Settings Endpoints"
BRANDING = {"company_name": "CCC", "company_subtitle": "Infrastructure Management",
            "company_logo_url": "/static/logos/logo.png", "primary_color": "#667eea", "secondary_color": "#764ba2",
            "login_hero_title": "Welcome to PF9 Management",
            "login_hero_description": "Enterprise-grade OpenStack infrastructure management.",
            "login_hero_features": ["Real-time monitoring & alerting", "Automated snapshot management",
                                    "Full audit trail & compliance"]}
BRANDING_UPDATE = {"company_name": "CCC", "company_subtitle": "Infrastructure Management", "primary_color": "#667eea",
                   "secondary_color": "#764ba2", "login_hero_title": "Welcome to PF9 Management",
                   "login_hero_description": "Enterprise-grade OpenStack infrastructure management.",
                   "login_hero_features": ["Feature 1", "Feature 2"]}
LOGO = {"logo_url": "/static/logos/company_logo_1708099200.png"}
PREFERENCES = {"tab_order": ["dashboard", "servers", "volumes", "snapshots"], "custom_setting": "value"}
PREFERENCES_SAVED = {"status": "saved", "username": "admin"}
# "Notification Endpoints"
SMTP_STATUS = {"smtp_enabled": True, "smtp_host": "smtp.example.com", "smtp_port": 25, "smtp_use_tls": False,
               "smtp_has_auth": False, "smtp_from": "pf9-mgmt@pf9mgmt.local"}
PREFERENCE = {"id": 1, "username": "admin", "event_type": "drift_critical", "email": "admin@company.com",
              "enabled": True, "severity_min": "warning", "delivery_mode": "immediate",
              "created_at": "2026-02-16T10:30:00Z", "updated_at": "2026-02-16T10:30:00Z"}
PREFERENCE_WRITE = {"event_type": "drift_critical", "email": "admin@company.com", "enabled": True,
                    "severity_min": "warning", "delivery_mode": "immediate"}
PREFERENCE_SAVED = {"status": "saved", "id": 1}
PREFERENCE_DELETED = {"status": "deleted"}
HISTORY = {"items": [{"id": 42, "username": "admin", "event_type": "drift_critical", "event_id": "123",
                     "subject": "Drift Alert: server power_state changed", "recipient": "admin@company.com",
                     "status": "sent", "sent_at": "2026-02-16T12:00:00Z", "error_message": None}], "total": 1}
TEST_EMAIL = {"status": "sent", "message": "Test email sent to admin@company.com"}
STATS = {"total_sent": 156, "total_failed": 3, "total_pending": 0, "total_preferences": 12, "active_users": 4,
         "last_sent_at": "2026-02-16T12:00:00Z",
         "events_by_type": {"drift_critical": 45, "drift_warning": 67, "snapshot_failure": 12,
                            "compliance_violation": 29, "health_score_drop": 3}}
# "Monitoring Endpoints"
METRICS = {"uptime_seconds": 86400, "request_count": 15234, "avg_response_time_ms": 45.2, "error_rate": 0.02,
           "active_sessions": 12}
# "Pagination"
PAGE = {"total": 500, "limit": 100, "offset": 0, "results": []}
# "Error Responses"
ERROR = {"detail": "Invalid parameter: limit must be between 1 and 20"}
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def admin():
    return client_for(make_user("admin", Role.ADMIN))


def test_branding_examples(admin, anon_client):
    assert_seed_answer(admin.put("/settings/branding", BRANDING_UPDATE, format="json"), 200, {
        **BRANDING, "company_logo_url": None})
    assert_seed_answer(admin.post("/settings/branding/logo", {"file": SimpleUploadedFile("l.png", PNG)},
                                  format="multipart"), 200, LOGO)
    assert_seed_answer(anon_client.get("/settings/branding"), 200, BRANDING)
    assert_seed_answer(admin.put("/user-preferences", PREFERENCES, format="json"), 200, PREFERENCES_SAVED)
    assert_seed_answer(admin.get("/user-preferences"), 200, PREFERENCES)


def test_notification_examples(admin, smtp_server, eager_worker, django_capture_on_commit_callbacks):
    assert_seed_answer(admin.put("/notifications/smtp-settings", {"smtp_enabled": True, "smtp_host": "127.0.0.1",
                                                                  "smtp_port": smtp_server.port}, format="json"), 200,
                       SMTP_STATUS)
    assert_seed_answer(admin.get("/notifications/smtp-status"), 200, SMTP_STATUS)
    saved = assert_seed_answer(admin.put("/notifications/preferences", PREFERENCE_WRITE, format="json"), 200,
                               PREFERENCE_SAVED)
    assert_seed_answer(admin.get("/notifications/preferences"), 200, [PREFERENCE], nonempty=("",))
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(event_type=EventType.DRIFT_CRITICAL, severity=Severity.CRITICAL, event_id="123",
                        subject="Drift Alert: server power_state changed", body="web01 was powered off")
        response = admin.post("/notifications/test-email", {"recipient": "admin@company.com"}, format="json")
    assert_seed_answer(response, 202, TEST_EMAIL)
    assert_seed_answer(admin.get("/notifications/history?limit=50&offset=0"), 200, HISTORY, nonempty=("items",))
    assert_seed_answer(admin.get("/notifications/admin/stats"), 200, STATS)
    assert_seed_answer(admin.delete(f"/notifications/preferences/{saved['id']}"), 200, PREFERENCE_DELETED)


def test_monitoring_and_paging_and_error_examples(admin, anon_client):
    assert_seed_answer(anon_client.get("/metrics"), 200, METRICS)
    assert_seed_answer(admin.get("/api/metrics"), 200, METRICS)
    for path in ("/users", "/role-assignments", "/api/departments", "/api/nav/groups", "/api/nav/items"):
        assert_seed_answer(admin.get(path), 200, PAGE)
    assert_seed_answer(admin.get("/users?limit=0"), 400, ERROR)
    assert_seed_answer(anon_client.get("/users"), 401, ERROR)
    assert_seed_answer(client_for(make_user("v", Role.VIEWER)).post("/api/departments", {"name": "x"},
                                                                    format="json"), 403, ERROR)
    assert_seed_answer(admin.get("/users/999999"), 404, ERROR)


def test_department_example_bodies_are_accepted(admin):
    # "Department & Navigation Visibility Endpoints": the request bodies the seed shows.
    dept = assert_seed_answer(admin.post("/api/departments", {"name": "Engineering", "description": "Engineering team",
                                                              "sort_order": 1}, format="json"), 201, None)
    group = admin.post("/api/nav/groups", {"key": "g", "label": "G"}, format="json").json()["id"]
    item = admin.post("/api/nav/items", {"nav_group_id": group, "key": "i", "label": "I", "route": "/i"},
                      format="json").json()["id"]
    assert admin.put(f"/api/departments/{dept['id']}/visibility", {"nav_group_ids": [group], "nav_item_ids": [item]},
                     format="json").status_code == 200
    make_user("user5", Role.VIEWER)
    assert admin.post("/api/nav/overrides/user5", {"nav_item_id": item, "override_type": "deny",
                                                   "reason": "Not needed for this user"},
                      format="json").status_code == 200
    assert admin.put("/api/auth/users/user5/department", {"department_id": dept["id"]},
                     format="json").status_code == 200
