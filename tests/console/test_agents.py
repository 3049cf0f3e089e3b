"""Agents in the console: an admin approves, rejects and revokes enrollments with the pairing details in view; the
same services as the API do it and audit who did."""
from __future__ import annotations

import pytest

from apps.enrollment.choices import ApplianceStatus, EnrollmentStatus
from apps.enrollment.models import Appliance, Enrollment, EnrollmentAuditEvent
from tests.enrollment.conftest import enroll_and_prove, new_code, tunnel_dir, tunnel_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def proven(admin_client_api, anon_client, tunnel_files):  # noqa: F811 - the fixture
    return enroll_and_prove(anon_client, new_code(admin_client_api), name="site-b")


def test_an_admin_approves_an_enrollment_after_seeing_its_key(admin, proven):
    enrollment = Enrollment.objects.get(enrollment_id=proven.enrollment_id)
    page = admin.get("/console/console/agents/").content.decode()
    assert "site-b" in page and enrollment.ssh_key_fingerprint in page and ">Approve<" in page
    confirm = admin.get(f"/console/console/enrollment/{proven.enrollment_id}/approve/").content.decode()
    assert enrollment.ssh_key_fingerprint in confirm and "What will happen" in confirm
    # Not confirmed: nothing happens.
    admin.post(f"/console/console/enrollment/{proven.enrollment_id}/approve/")
    assert Enrollment.objects.get(pk=enrollment.pk).status == EnrollmentStatus.PENDING
    done = admin.post(f"/console/console/enrollment/{proven.enrollment_id}/approve/", {"confirm": "yes"}, follow=True)
    assert "approved as agent" in done.content.decode()
    appliance = Appliance.objects.get(enrollment__enrollment_id=proven.enrollment_id)
    assert appliance.status == ApplianceStatus.APPROVED
    assert EnrollmentAuditEvent.objects.get(action="approve", enrollment_id=proven.enrollment_id).actor_name == "admin-c"
    # Revoke it again.
    admin.post(f"/console/console/appliance/{appliance.appliance_id}/revoke/", {"confirm": "yes"})
    assert Appliance.objects.get(pk=appliance.pk).status == ApplianceStatus.REVOKED


def test_an_admin_rejects_and_an_operator_may_not_decide(admin, operator, proven):
    assert ">Approve<" not in operator.get("/console/console/agents/").content.decode()
    assert operator.post(f"/console/console/enrollment/{proven.enrollment_id}/approve/",
                         {"confirm": "yes"}).status_code == 403
    admin.post(f"/console/console/enrollment/{proven.enrollment_id}/reject/", {"confirm": "yes", "reason": "unknown site"})
    enrollment = Enrollment.objects.get(enrollment_id=proven.enrollment_id)
    assert enrollment.status == EnrollmentStatus.REJECTED and enrollment.decision_reason == "unknown site"
