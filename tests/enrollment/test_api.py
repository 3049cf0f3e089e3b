"""The enrollment API end to end in-process: codes, proofs, decisions, results, revocation, audit, bad input."""
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.models import ApiToken
from apps.enrollment.choices import ApplianceStatus, EnrollmentStatus
from apps.enrollment.models import Appliance, Enrollment, EnrollmentAuditEvent, PairingCode
from tests.conftest import make_user
from tests.openapi import assert_matches_schema

from .conftest import enroll_and_prove, new_code, new_key, public_line, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(admin_client_api, tunnel_files):
    return admin_client_api


def result(client, agent, token=None):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or agent.poll_token}")
    try:
        return client.get("/api/v1/vma/enroll/result", {"enrollment_id": agent.enrollment_id})
    finally:
        client.credentials()


def audit(action=None, success=None):
    events = EnrollmentAuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if success is not None:
        events = events.filter(success=success)
    return list(events)


def test_full_flow_enroll_prove_approve_fetch_once_login_revoke(admin, anon_client, tunnel_files, caplog):
    caplog.set_level(logging.DEBUG)
    code = new_code(admin, label="site A")
    agent = enroll_and_prove(anon_client, code, name="Site A agent")

    pending = admin.get("/api/v1/admin/vma/pending").json()
    assert pending["count"] == 1
    entry = pending["enrollments"][0]
    assert entry["id"] == agent.enrollment_id and entry["status"] == "pending" and entry["key_verified"] is True
    assert entry["ssh_key_fingerprint"] == agent.key.fingerprint

    waiting = result(anon_client, agent)
    assert waiting.status_code == 200 and waiting.json()["status"] == "pending"

    approved = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}", {}, format="json")
    assert approved.status_code == 200, approved.content
    appliance_id = approved.json()["appliance"]["appliance_id"]
    assert appliance_id == "vma-site-a-agent"

    # The key is authorized with per-key restrictions.
    keys_file = Path(tunnel_files / "authorized_keys").read_text()
    line = next(row for row in keys_file.splitlines() if agent.key.get_base64() in row)
    assert line.startswith('restrict,port-forwarding,command="/bin/false",permitopen="127.0.0.1:8082"')
    assert 'permitlisten="127.0.0.1:9081"' in line and 'permitopen="127.0.0.1:10809"' in line

    delivered = result(anon_client, agent)
    assert delivered.status_code == 200
    body = delivered.json()
    assert body["status"] == "approved" and body["appliance_id"] == appliance_id
    token = body["credentials"]["token"]
    assert body["credentials"]["appliance_id"] == appliance_id and token.startswith("vma_")
    tunnel = body["tunnel"]
    assert tunnel["ssh_host"] == "testserver" and tunnel["ssh_user"] == "nobody"
    assert tunnel["reverse_port"] == 9081 and tunnel["api_port"] == 8082 and 10809 in tunnel["nbd_ports"]
    assert tunnel["cipher"] == "aes128-gcm@openssh.com"

    # Shown once.
    again = result(anon_client, agent)
    assert again.status_code == 410 and again.json()["error_code"] == "CREDENTIALS_DELIVERED"

    login = anon_client.post("/api/v1/auth/login", {"appliance_id": appliance_id, "token": token}, format="json")
    assert login.status_code == 200
    session = login.json()["session_token"]

    active = admin.get("/api/v1/admin/vma/active").json()
    assert [a["appliance_id"] for a in active["appliances"]] == [appliance_id]
    assert active["appliances"][0]["last_seen_at"] is not None
    assert active["appliances"][0]["tunnel"]["connected"] is False

    revoked = admin.delete(f"/api/v1/admin/vma/revoke/{appliance_id}")
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["tokens_revoked"] == 1
    assert agent.key.get_base64() not in Path(tunnel_files / "authorized_keys").read_text()
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session}")
    assert anon_client.get("/api/v1/vmware-credentials").status_code == 401
    anon_client.credentials()
    assert anon_client.post("/api/v1/auth/login", {"appliance_id": appliance_id, "token": token},
                            format="json").status_code == 401
    assert admin.get("/api/v1/admin/vma/active").json()["count"] == 0

    actions = [e.action for e in reversed(audit(success=True))]
    assert actions == ["pairing_code_created", "enroll", "verify", "approve", "result", "revoke"]
    trail = admin.get("/api/v1/admin/vma/audit").json()
    assert trail["count"] == 7  # the six steps and the refused second fetch
    revoke_event = trail["events"][0]
    assert revoke_event["action"] == "revoke" and revoke_event["actor"] == "admin1"
    assert revoke_event["client_ip"] == "127.0.0.1" and revoke_event["appliance_id"] == appliance_id

    # Secrets never reach the logs or the audit trail.
    for secret in (code, agent.poll_token, token, session):
        assert secret not in caplog.text
        assert not EnrollmentAuditEvent.objects.filter(data__icontains=secret).exists()
    assert not PairingCode.objects.filter(code_hash__icontains=code.replace("-", "")).exists()


def test_pairing_code_defaults_to_15_minutes_and_takes_a_ttl(admin):
    body = admin.post("/api/v1/admin/vma/pairing-code", {}, format="json").json()
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14, seconds=50) < expires - timezone.now() <= timedelta(minutes=15)
    assert body["success"] is True and "once" in body["message"]
    body = admin.post("/api/v1/admin/vma/pairing-code", {"ttl_minutes": 60, "label": "x"}, format="json").json()
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires - timezone.now() > timedelta(minutes=59)


@pytest.mark.parametrize("body, message", [
    ({"ttl_minutes": 0}, "ttl_minutes"),
    ({"ttl_minutes": 100000}, "ttl_minutes"),
    ({"ttl_minutes": "soon"}, "ttl_minutes"),
    ({"label": "x" * 300}, "label"),
])
def test_pairing_code_bad_input_is_400(admin, body, message):
    response = admin.post("/api/v1/admin/vma/pairing-code", body, format="json")
    assert response.status_code == 400 and message in response.json()["error"]


def test_admin_endpoints_need_the_admin_role(anon_client, operator_client, tunnel_files):
    from apps.enrollment.services import appliance_create

    _, token = appliance_create(appliance_id="vma-x")
    agent_client = APIClient()
    session = agent_client.post("/api/v1/auth/login", {"appliance_id": "vma-x", "token": token},
                                format="json").json()["session_token"]
    agent_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session}")
    calls = [("post", "/api/v1/admin/vma/pairing-code"), ("get", "/api/v1/admin/vma/pending"),
             ("post", "/api/v1/admin/vma/approve/enr-x"), ("post", "/api/v1/admin/vma/reject/enr-x"),
             ("get", "/api/v1/admin/vma/active"), ("delete", "/api/v1/admin/vma/revoke/vma-x"),
             ("get", "/api/v1/admin/vma/audit")]
    for method, path in calls:
        assert getattr(anon_client, method)(path).status_code == 401, path
        assert getattr(operator_client, method)(path).status_code == 403, path
        assert getattr(agent_client, method)(path).status_code == 403, path
    assert Appliance.objects.get(appliance_id="vma-x").status == ApplianceStatus.APPROVED


def test_reused_code_is_409_audited_and_creates_nothing(admin, anon_client):
    code = new_code(admin)
    enroll_and_prove(anon_client, code)
    response = anon_client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": "second",
                                                       "ssh_public_key": public_line(new_key())}, format="json")
    assert response.status_code == 409
    assert response.json()["error_code"] == "PAIRING_CODE_USED" and "already used" in response.json()["error"]
    assert Enrollment.objects.count() == 1
    refused = audit("enroll", success=False)
    assert len(refused) == 1 and refused[0].data["error_code"] == "PAIRING_CODE_USED"
    assert refused[0].client_ip == "127.0.0.1" and refused[0].actor_name == "agent:second"


def test_expired_code_is_410_and_creates_nothing(admin, anon_client):
    code = new_code(admin)
    PairingCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = anon_client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": "late",
                                                       "ssh_public_key": public_line(new_key())}, format="json")
    assert response.status_code == 410 and response.json()["error_code"] == "PAIRING_CODE_EXPIRED"
    assert not Enrollment.objects.exists() and PairingCode.objects.get().used_at is None
    assert audit("enroll", success=False)[0].data["error_code"] == "PAIRING_CODE_EXPIRED"


@pytest.mark.parametrize("code, error_code", [("ZZZZ-ZZZZ", "INVALID_PAIRING_CODE"), ("hello", "INVALID_PAIRING_CODE")])
def test_wrong_code_is_400(admin, anon_client, code, error_code):
    new_code(admin)
    response = anon_client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": "x",
                                                       "ssh_public_key": public_line(new_key())}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "Invalid pairing code"
    assert response.json()["error_code"] == error_code
    assert not Enrollment.objects.exists()
    assert len(audit("enroll", success=False)) == 1


def test_bad_key_is_400_and_leaves_the_code_usable(admin, anon_client):
    code = new_code(admin)
    response = anon_client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": "x",
                                                       "ssh_public_key": "ssh-ed25519 AAAA"}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_SSH_KEY"
    assert PairingCode.objects.get().used_at is None and not Enrollment.objects.exists()
    enroll_and_prove(anon_client, code)


def test_a_key_cannot_enroll_twice(admin, anon_client):
    key = new_key()
    enroll_and_prove(anon_client, new_code(admin), key=key)
    response = anon_client.post("/api/v1/vma/enroll", {"pairing_code": new_code(admin), "name": "again",
                                                       "ssh_public_key": public_line(key)}, format="json")
    assert response.status_code == 409 and response.json()["error_code"] == "SSH_KEY_IN_USE"


@pytest.mark.parametrize("body, message", [
    ({}, "pairing_code"),
    ({"pairing_code": "ABCD-EFGH", "ssh_public_key": "x"}, "name"),
    ({"pairing_code": "ABCD-EFGH", "name": "x"}, "ssh_public_key"),
    ({"pairing_code": "ABCD-EFGH", "name": "bad/name", "ssh_public_key": "x"}, "name"),
    ({"pairing_code": "ABCD-EFGH", "name": "x", "version": "1 2", "ssh_public_key": "x"}, "version"),
    ({"pairing_code": ["A"], "name": 5, "ssh_public_key": "x"}, "pairing_code"),
])
def test_enroll_bad_input_is_400(anon_client, tunnel_files, body, message):
    response = anon_client.post("/api/v1/vma/enroll", body, format="json")
    assert response.status_code == 400 and message in response.json()["error"]


def test_malformed_json_is_400(anon_client, tunnel_files):
    response = anon_client.post("/api/v1/vma/enroll", data="{oops", content_type="application/json")
    assert response.status_code == 400 and "Malformed" in response.json()["error"]


def _start(client, code, key):
    body = client.post("/api/v1/vma/enroll", {"pairing_code": code, "name": "x",
                                              "ssh_public_key": public_line(key)}, format="json").json()
    return body["enrollment_id"], body["challenge"]


def test_wrong_key_proof_is_403_and_enough_of_them_fail_the_enrollment(admin, anon_client, settings):
    settings.MP_ENROLL_MAX_FAILED_PROOFS = 2
    settings.MP_ENROLL_THROTTLE_RATE = "100/min"
    key, impostor = new_key(), new_key()
    enrollment_id, challenge = _start(anon_client, new_code(admin), key)
    forged = sign(impostor, enrollment_id, challenge)
    first = anon_client.post("/api/v1/vma/enroll/verify", {"enrollment_id": enrollment_id, "signature": forged},
                             format="json")
    assert first.status_code == 403 and first.json()["error_code"] == "INVALID_SIGNATURE"
    assert first.json()["details"] == {"attempts_left": 1}
    assert Enrollment.objects.get().status == EnrollmentStatus.AWAITING_PROOF
    anon_client.post("/api/v1/vma/enroll/verify", {"enrollment_id": enrollment_id, "signature": forged},
                     format="json")
    assert Enrollment.objects.get().status == EnrollmentStatus.FAILED
    # Even the right signature is too late now.
    late = anon_client.post("/api/v1/vma/enroll/verify", {
        "enrollment_id": enrollment_id, "signature": sign(key, enrollment_id, challenge)}, format="json")
    assert late.status_code == 409
    assert len(audit("verify", success=False)) == 3
    assert admin.post(f"/api/v1/admin/vma/approve/{enrollment_id}").status_code == 409


def test_replayed_proof_is_409(admin, anon_client):
    key = new_key()
    enrollment_id, challenge = _start(anon_client, new_code(admin), key)
    proof = {"enrollment_id": enrollment_id, "signature": sign(key, enrollment_id, challenge)}
    assert anon_client.post("/api/v1/vma/enroll/verify", proof, format="json").status_code == 200
    replay = anon_client.post("/api/v1/vma/enroll/verify", proof, format="json")
    assert replay.status_code == 409 and replay.json()["error_code"] == "ALREADY_VERIFIED"
    assert audit("verify", success=False)[0].data["error_code"] == "ALREADY_VERIFIED"


def test_proof_for_another_enrollment_does_not_transfer(admin, anon_client):
    key = new_key()
    first_id, first_challenge = _start(anon_client, new_code(admin), key)
    second_id, _ = _start(anon_client, new_code(admin), new_key())
    response = anon_client.post("/api/v1/vma/enroll/verify", {
        "enrollment_id": second_id, "signature": sign(key, first_id, first_challenge)}, format="json")
    assert response.status_code == 403


def test_expired_challenge_is_410(admin, anon_client):
    key = new_key()
    enrollment_id, challenge = _start(anon_client, new_code(admin), key)
    Enrollment.objects.update(challenge_expires_at=timezone.now() - timedelta(seconds=1))
    response = anon_client.post("/api/v1/vma/enroll/verify", {
        "enrollment_id": enrollment_id, "signature": sign(key, enrollment_id, challenge)}, format="json")
    assert response.status_code == 410 and response.json()["error_code"] == "CHALLENGE_EXPIRED"
    assert Enrollment.objects.get().status == EnrollmentStatus.FAILED


@pytest.mark.parametrize("body, status", [
    ({"enrollment_id": "enr-nope", "signature": "AAAA"}, 404),
    ({"enrollment_id": "enr-nope"}, 400),
    ({"signature": "AAAA"}, 400),
])
def test_verify_bad_input(anon_client, tunnel_files, body, status):
    response = anon_client.post("/api/v1/vma/enroll/verify", body, format="json")
    assert response.status_code == status and response.json()["success"] is False


def test_result_needs_the_poll_token(admin, anon_client):
    agent = enroll_and_prove(anon_client, new_code(admin))
    assert result(anon_client, agent, token="enr_wrong").status_code == 401
    assert anon_client.get("/api/v1/vma/enroll/result", {"enrollment_id": agent.enrollment_id}).status_code == 401
    assert anon_client.get("/api/v1/vma/enroll/result").status_code == 400
    unknown = type(agent)(key=agent.key, enrollment_id="enr-unknown", poll_token=agent.poll_token, name="x")
    assert result(anon_client, unknown).status_code == 401
    assert len(audit("result", success=False)) == 3


def test_rejection_reaches_the_agent_and_is_final(admin, anon_client):
    agent = enroll_and_prove(anon_client, new_code(admin))
    rejected = admin.post(f"/api/v1/admin/vma/reject/{agent.enrollment_id}", {"reason": "unknown site"},
                          format="json")
    assert rejected.status_code == 200 and rejected.json()["enrollment"]["status"] == "rejected"
    body = result(anon_client, agent).json()
    assert body["status"] == "rejected" and body["reason"] == "unknown site" and "credentials" not in body
    assert admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").status_code == 409
    assert admin.post(f"/api/v1/admin/vma/reject/{agent.enrollment_id}").status_code == 409
    assert not Appliance.objects.exists()


def test_decisions_on_unknown_or_unproven_enrollments(admin, anon_client):
    assert admin.post("/api/v1/admin/vma/approve/enr-nope").status_code == 404
    assert admin.post("/api/v1/admin/vma/reject/enr-nope").status_code == 404
    enrollment_id, _ = _start(anon_client, new_code(admin), new_key())
    response = admin.post(f"/api/v1/admin/vma/approve/{enrollment_id}")
    assert response.status_code == 409 and response.json()["error_code"] == "NOT_VERIFIED"
    assert admin.get("/api/v1/admin/vma/pending").json()["enrollments"][0]["key_verified"] is False
    # An unproven enrollment can still be turned down.
    assert admin.post(f"/api/v1/admin/vma/reject/{enrollment_id}").status_code == 200


def test_approve_with_a_chosen_id_and_conflicts(admin, anon_client):
    first = enroll_and_prove(anon_client, new_code(admin))
    response = admin.post(f"/api/v1/admin/vma/approve/{first.enrollment_id}", {"appliance_id": "vma-001"},
                          format="json")
    assert response.status_code == 200 and response.json()["appliance"]["appliance_id"] == "vma-001"
    second = enroll_and_prove(anon_client, new_code(admin))
    taken = admin.post(f"/api/v1/admin/vma/approve/{second.enrollment_id}", {"appliance_id": "vma-001"},
                       format="json")
    assert taken.status_code == 409 and taken.json()["error_code"] == "APPLIANCE_EXISTS"
    bad = admin.post(f"/api/v1/admin/vma/approve/{second.enrollment_id}", {"appliance_id": "Bad Id!"},
                     format="json")
    assert bad.status_code == 400 and "appliance_id" in bad.json()["error"]
    assert Enrollment.objects.get(enrollment_id=second.enrollment_id).status == EnrollmentStatus.PENDING


def test_each_agent_gets_its_own_reverse_port_until_none_is_left(admin, anon_client, settings):
    settings.MP_TUNNEL_REVERSE_PORTS = "9081-9082"
    settings.MP_ENROLL_THROTTLE_RATE = "100/min"
    ports = []
    for name in ("a", "b", "c"):
        agent = enroll_and_prove(anon_client, new_code(admin), name=name)
        response = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}")
        if name == "c":
            assert response.status_code == 409 and response.json()["error_code"] == "NO_TUNNEL_PORT"
        else:
            ports.append(Appliance.objects.get(appliance_id=response.json()["appliance"]["appliance_id"])
                         .tunnel_reverse_port)
    assert ports == [9081, 9082]
    # Revoking frees the port for the next agent.
    admin.delete("/api/v1/admin/vma/revoke/vma-a")
    assert admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").status_code == 200
    assert Appliance.objects.get(appliance_id="vma-c").tunnel_reverse_port == 9081


def test_unwritable_keys_file_is_503_and_nothing_is_approved(admin, anon_client, settings, tmp_path):
    agent = enroll_and_prove(anon_client, new_code(admin))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.MP_SSH_AUTHORIZED_KEYS = str(blocker / "authorized_keys")
    response = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}")
    assert response.status_code == 503 and response.json()["error_code"] == "KEYS_FILE_UNWRITABLE"
    assert not Appliance.objects.exists()
    assert Enrollment.objects.get().status == EnrollmentStatus.PENDING
    assert audit("approve", success=False)[0].data["error_code"] == "KEYS_FILE_UNWRITABLE"


def test_revoke_unknown_or_twice(admin, anon_client):
    assert admin.delete("/api/v1/admin/vma/revoke/vma-nope").status_code == 404
    agent = enroll_and_prove(anon_client, new_code(admin))
    appliance_id = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").json()["appliance"]["appliance_id"]
    assert admin.delete(f"/api/v1/admin/vma/revoke/{appliance_id}").status_code == 200
    again = admin.delete(f"/api/v1/admin/vma/revoke/{appliance_id}")
    assert again.status_code == 409 and again.json()["error_code"] == "INVALID_STATE"


def test_revoked_before_delivery_gets_no_credentials(admin, anon_client):
    agent = enroll_and_prove(anon_client, new_code(admin))
    appliance_id = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").json()["appliance"]["appliance_id"]
    admin.delete(f"/api/v1/admin/vma/revoke/{appliance_id}")
    response = result(anon_client, agent)
    assert response.status_code == 410 and response.json()["error_code"] == "REVOKED"
    assert Appliance.objects.get().token_hash == ""


def test_audit_filters_and_pages(admin, anon_client):
    agent = enroll_and_prove(anon_client, new_code(admin))
    anon_client.post("/api/v1/vma/enroll", {"pairing_code": "ZZZZ-ZZZZ", "name": "x",
                                            "ssh_public_key": public_line(new_key())}, format="json")
    failed = admin.get("/api/v1/admin/vma/audit", {"success": "false"}).json()
    assert failed["count"] == 1 and failed["events"][0]["action"] == "enroll"
    mine = admin.get("/api/v1/admin/vma/audit", {"enrollment_id": agent.enrollment_id}).json()
    assert {e["action"] for e in mine["events"]} == {"enroll", "verify"}
    page = admin.get("/api/v1/admin/vma/audit", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 4 and len(page["events"]) == 2 and page["limit"] == 2
    for bad in ({"limit": "abc"}, {"limit": 0}, {"offset": -1}, {"action": "explode"}, {"success": "maybe"}):
        response = admin.get("/api/v1/admin/vma/audit", bad)
        assert response.status_code == 400 and response.json()["success"] is False, bad


def test_active_bad_query_is_400(admin):
    assert admin.get("/api/v1/admin/vma/active", {"probe": "perhaps"}).status_code == 400


def test_public_enrollment_is_throttled(anon_client, tunnel_files, settings):
    settings.MP_ENROLL_THROTTLE_RATE = "3/min"
    codes = [anon_client.post("/api/v1/vma/enroll", {"pairing_code": "ZZZZ-ZZZZ", "name": "x",
                                                     "ssh_public_key": "x"}, format="json").status_code
             for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_create_agent_command_still_makes_a_keyless_agent(tunnel_files):
    from django.core.management import call_command

    call_command("create_agent", "vma-manual", stdout=open("/dev/null", "w"))
    appliance = Appliance.objects.get(appliance_id="vma-manual")
    assert appliance.status == ApplianceStatus.APPROVED and appliance.ssh_public_key == ""
    assert ApiToken.objects.count() == 0


def test_admin_console_revoke_action(tunnel_files, anon_client, admin):
    from django.test import Client

    agent = enroll_and_prove(anon_client, new_code(admin))
    appliance_id = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").json()["appliance"]["appliance_id"]
    superuser = make_user("root1", "admin")
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    console = Client()
    console.force_login(superuser)
    pk = Appliance.objects.get(appliance_id=appliance_id).pk
    for page in ("appliance/", f"appliance/{pk}/change/", "enrollment/",
                 f"enrollment/{Enrollment.objects.get().pk}/change/", "pairingcode/", "enrollmentauditevent/"):
        assert console.get(f"/console/enrollment/{page}").status_code == 200, page
    response = console.post("/console/enrollment/appliance/", {"action": "revoke", "_selected_action": [pk]},
                            follow=True)
    assert response.status_code == 200
    assert Appliance.objects.get(pk=pk).status == ApplianceStatus.REVOKED


def test_a_racing_approval_that_loses_the_port_is_409_not_500(admin, anon_client, monkeypatch):
    from apps.enrollment.services import enrollment as enrollment_services

    first = enroll_and_prove(anon_client, new_code(admin), name="one")
    admin.post(f"/api/v1/admin/vma/approve/{first.enrollment_id}")
    second = enroll_and_prove(anon_client, new_code(admin), name="two")
    # As if another worker committed between our read of the free ports and our insert.
    monkeypatch.setattr(enrollment_services, "_free_reverse_port", lambda: 9081)
    response = admin.post(f"/api/v1/admin/vma/approve/{second.enrollment_id}")
    assert response.status_code == 409 and response.json()["error_code"] == "CONCURRENT_APPROVAL"
    assert Enrollment.objects.get(enrollment_id=second.enrollment_id).status == EnrollmentStatus.PENDING
    assert Appliance.objects.count() == 1


def test_an_unreadable_session_registry_is_a_warning_not_a_500(admin, anon_client, settings, tmp_path):
    agent = enroll_and_prove(anon_client, new_code(admin))
    appliance_id = admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}").json()["appliance"]["appliance_id"]
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    settings.MP_SSH_SESSIONS_DIR = str(not_a_dir)
    active = admin.get("/api/v1/admin/vma/active")
    assert active.status_code == 200 and "session registry" in active.json()["warnings"][0]
    revoked = admin.delete(f"/api/v1/admin/vma/revoke/{appliance_id}")
    assert revoked.status_code == 200 and "session registry" in revoked.json()["warnings"][0]
    assert Appliance.objects.get().status == ApplianceStatus.REVOKED


@pytest.mark.parametrize("body", [
    [], "text", {"pairing_code": None}, {"pairing_code": "A" * 40}, {"pairing_code": "ABCD-EFGH", "name": "x",
                                                                    "ssh_public_key": "ssh-ed25519 \x00\x01"},
    {"pairing_code": "ÄBCD-EFGH", "name": "ünïcode", "ssh_public_key": "ssh-ed25519 AAAA"},
    {"enrollment_id": ["x"], "signature": {"a": 1}}, {"enrollment_id": "e" * 100, "signature": "s"},
    {"enrollment_id": "enr-x", "signature": "€€€"}, {"appliance_id": None}, {"reason": ["x"]},
])
def test_odd_input_is_never_a_500(admin, anon_client, body, settings):
    settings.MP_ENROLL_THROTTLE_RATE = "1000/min"
    agent = enroll_and_prove(anon_client, new_code(admin))
    for client, method, path in ((anon_client, "post", "/api/v1/vma/enroll"),
                                 (anon_client, "post", "/api/v1/vma/enroll/verify"),
                                 (admin, "post", "/api/v1/admin/vma/pairing-code"),
                                 (admin, "post", f"/api/v1/admin/vma/approve/{agent.enrollment_id}"),
                                 (admin, "post", f"/api/v1/admin/vma/reject/{agent.enrollment_id}"),
                                 (admin, "post", "/api/v1/admin/vma/approve/%E2%82%AC")):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code < 500, (path, body, response.content)
        if response.status_code >= 400:
            assert response.json()["success"] is False
    for query in ({"enrollment_id": "\x00"}, {"enrollment_id": "x" * 200}):
        anon_client.credentials(HTTP_AUTHORIZATION="Bearer \xff\xfe")
        response = anon_client.get("/api/v1/vma/enroll/result", query)
        anon_client.credentials()
        assert 400 <= response.status_code < 500


def test_audit_offset_beyond_what_the_database_takes_is_400(admin_client_api):
    # Past a 64-bit integer SQLite refused the slice ("datatype mismatch"): a 500 before.
    response = admin_client_api.get("/api/v1/admin/vma/audit", {"offset": "99999999999999999999"})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and "offset: Ensure this value is less than or equal to 2147483647" in body["error"]
    assert admin_client_api.get("/api/v1/admin/vma/audit", {"offset": 2**31 - 1}).json()["events"] == []


def test_active_appliance_whose_approver_is_gone_matches_the_schema(admin, anon_client):
    # approved_by is null once the approving user is deleted: the schema must say it may be.
    agent = enroll_and_prove(anon_client, new_code(admin, label="site B"), name="Site B agent")
    assert admin.post(f"/api/v1/admin/vma/approve/{agent.enrollment_id}", {}, format="json").status_code == 200
    appliance = Appliance.objects.get()
    # Another admin approved it and has left (the test's admin must stay to read the list).
    appliance.approved_by = make_user("admin2", "admin")
    appliance.save(update_fields=["approved_by"])
    appliance.approved_by.delete()
    active = admin.get("/api/v1/admin/vma/active")
    assert active.status_code == 200 and active.json()["appliances"][0]["approved_by"] is None
    assert_matches_schema(active, "/api/v1/admin/vma/active", "get")
