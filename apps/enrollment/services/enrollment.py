"""Enrollment: pairing codes, the agent's enroll / verify / result, the administrator's approve / reject."""
from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound
from apps.core.jobs import slug
from apps.core.models import hash_token
from apps.core.services import AuthenticationFailed

from .. import conf, keys
from ..choices import ENROLLMENT_OPEN, ApplianceStatus, AuditAction, EnrollmentStatus
from ..models import Appliance, Enrollment, PairingCode
from .appliances import appliance_identity_create, new_agent_token
from .common import Actor, Gone, audit, audit_refusal
from .tunnel import authorized_keys_resync, authorized_keys_sync, tunnel_settings

# --- pairing codes -------------------------------------------------------------------------------------------------


def pairing_code_create(*, actor: Actor, label: str = "", ttl_minutes: int | None = None) -> tuple[PairingCode, str]:
    """A new single-use pairing code; the code itself is returned once and only its keyed digest is stored."""
    ttl = conf.pairing_code_ttl() if ttl_minutes is None else timedelta(minutes=ttl_minutes)
    with transaction.atomic():
        while True:
            code = keys.new_pairing_code()
            digest = keys.pairing_code_digest(keys.normalize_pairing_code(code), settings.SECRET_KEY)
            if not PairingCode.objects.filter(code_hash=digest).exists():
                break
        pairing = PairingCode.objects.create(code_hash=digest, label=label, created_by=actor.user,
                                             created_ip=actor.ip, expires_at=timezone.now() + ttl)
    audit(AuditAction.PAIRING_CODE_CREATED, success=True, actor=actor,
          message=f"Pairing code #{pairing.pk} created, valid until {pairing.expires_at:%Y-%m-%d %H:%M:%S} UTC",
          pairing_code_id=pairing.pk, label=label)
    return pairing, code


# --- the agent's side of enrollment (public endpoints) -------------------------------------------------------------


def _key_in_use(fingerprint: str, *, exclude_enrollment: int | None = None) -> bool:
    if Appliance.objects.filter(ssh_key_fingerprint=fingerprint, status=ApplianceStatus.APPROVED).exists():
        return True
    open_enrollments = Enrollment.objects.filter(ssh_key_fingerprint=fingerprint, status__in=ENROLLMENT_OPEN)
    if exclude_enrollment is not None:
        open_enrollments = open_enrollments.exclude(pk=exclude_enrollment)
    return open_enrollments.exists()


def enrollment_start(*, pairing_code: str, name: str, version: str, ssh_public_key: str,
                     actor: Actor) -> Enrollment:
    """Redeem a pairing code for an enrollment bound to the agent's public key; returns it with its challenge.

    Unknown, used or expired codes and unacceptable keys are refused without consuming the code.
    """
    context: dict = {}
    with audit_refusal(AuditAction.ENROLL, actor, context):
        try:
            public_key = keys.parse_public_key(ssh_public_key)
        except keys.InvalidKey as exc:
            raise InvalidInput(f"Invalid SSH public key: {exc}", error_code="INVALID_SSH_KEY") from exc
        context["fingerprint"] = public_key.fingerprint
        normalized = keys.normalize_pairing_code(pairing_code)
        if normalized is None:
            raise InvalidInput("Invalid pairing code", error_code="INVALID_PAIRING_CODE")
        digest = keys.pairing_code_digest(normalized, settings.SECRET_KEY)
        with transaction.atomic():
            code = PairingCode.objects.select_for_update().filter(code_hash=digest).first()
            if code is None:
                raise InvalidInput("Invalid pairing code", error_code="INVALID_PAIRING_CODE")
            context["pairing_code_id"] = code.pk
            now = timezone.now()
            if code.used_at is not None:
                raise Conflict("This pairing code was already used; ask an administrator for a new one",
                               error_code="PAIRING_CODE_USED")
            if code.expires_at <= now:
                raise Gone("This pairing code has expired; ask an administrator for a new one",
                           error_code="PAIRING_CODE_EXPIRED")
            if _key_in_use(public_key.fingerprint):
                raise Conflict("This SSH key already belongs to an enrolled or enrolling agent",
                               error_code="SSH_KEY_IN_USE")
            # A conditional update claims the code atomically on every database, locks or not.
            if PairingCode.objects.filter(pk=code.pk, used_at__isnull=True).update(used_at=now) != 1:
                raise Conflict("This pairing code was already used; ask an administrator for a new one",
                               error_code="PAIRING_CODE_USED")
            enrollment = Enrollment.objects.create(
                enrollment_id="enr-" + secrets.token_urlsafe(12), pairing_code=code, name=name, version=version,
                ssh_public_key=public_key.openssh, ssh_key_type=public_key.key_type,
                ssh_key_fingerprint=public_key.fingerprint, challenge=secrets.token_urlsafe(32),
                challenge_expires_at=now + conf.challenge_ttl(), client_ip=actor.ip)
    audit(AuditAction.ENROLL, success=True, actor=actor, enrollment_id=enrollment.enrollment_id,
          fingerprint=public_key.fingerprint, message=f"Agent '{name}' enrolled with pairing code #{code.pk}",
          name=name, version=version, key_type=public_key.key_type)
    return enrollment


def _locked_enrollment(context: dict) -> Enrollment:
    """The enrollment `context` names, row-locked; its key's fingerprint joins the context the audit records."""
    enrollment = Enrollment.objects.select_for_update().filter(enrollment_id=context["enrollment_id"]).first()
    if enrollment is None:
        raise NotFound("Unknown enrollment", error_code="ENROLLMENT_NOT_FOUND")
    context["fingerprint"] = enrollment.ssh_key_fingerprint
    return enrollment


def enrollment_verify(*, enrollment_id: str, signature: str, actor: Actor) -> tuple[Enrollment, str]:
    """Check the agent's signature of its challenge; on success the enrollment waits for an administrator and the
    agent gets its poll token (returned once, stored hashed). A challenge is good for one proof only."""
    context: dict = {"enrollment_id": enrollment_id}
    failure: ApplicationError | None = None
    with audit_refusal(AuditAction.VERIFY, actor, context):
        with transaction.atomic():
            enrollment = _locked_enrollment(context)
            if enrollment.status != EnrollmentStatus.AWAITING_PROOF:
                if enrollment.verified_at is not None:
                    raise Conflict("This enrollment's key was already proven; a replayed proof is refused",
                                   error_code="ALREADY_VERIFIED")
                raise Conflict(f"This enrollment is {enrollment.status}; enroll again with a new pairing code",
                               error_code="INVALID_STATE")
            now = timezone.now()
            if enrollment.challenge_expires_at is None or enrollment.challenge_expires_at <= now:
                enrollment.status = EnrollmentStatus.FAILED
                enrollment.challenge = ""
                enrollment.save(update_fields=["status", "challenge", "updated_at"])
                failure = Gone("The challenge has expired; enroll again with a new pairing code",
                               error_code="CHALLENGE_EXPIRED")
            else:
                public_key = keys.parse_public_key(enrollment.ssh_public_key)
                message = keys.signing_message(enrollment.enrollment_id, enrollment.challenge)
                if keys.verify_signature(public_key, message, signature):
                    poll_token = "enr_" + secrets.token_urlsafe(32)
                    enrollment.status = EnrollmentStatus.PENDING
                    enrollment.verified_at = now
                    enrollment.challenge = ""  # spent: the same proof can never be accepted twice
                    enrollment.poll_token_hash = hash_token(poll_token)
                    enrollment.save(update_fields=["status", "verified_at", "challenge", "poll_token_hash",
                                                   "updated_at"])
                else:
                    enrollment.failed_proofs += 1
                    fields = ["failed_proofs", "updated_at"]
                    if enrollment.failed_proofs >= conf.max_failed_proofs():
                        enrollment.status = EnrollmentStatus.FAILED
                        enrollment.challenge = ""
                        fields += ["status", "challenge"]
                    enrollment.save(update_fields=fields)
                    left = max(conf.max_failed_proofs() - enrollment.failed_proofs, 0)
                    failure = Forbidden("The signature does not prove possession of the enrolled key",
                                        error_code="INVALID_SIGNATURE",
                                        details={"attempts_left": left})
        # Raised after the commit: the failed attempt counts even though the request fails.
        if failure is not None:
            raise failure
    audit(AuditAction.VERIFY, success=True, actor=actor, enrollment_id=enrollment.enrollment_id,
          fingerprint=enrollment.ssh_key_fingerprint, message="Key possession proven; waiting for approval")
    return enrollment, poll_token


def enrollment_result(*, enrollment_id: str, poll_token: str, actor: Actor, request_host: str) -> dict:
    """What the agent learns when it polls: pending, rejected, or (once) approved with its credentials."""
    context: dict = {"enrollment_id": enrollment_id}
    with audit_refusal(AuditAction.RESULT, actor, context):
        if not poll_token:
            raise AuthenticationFailed("Give the poll token from verify as 'Authorization: Bearer <token>'",
                                       error_code="INVALID_TOKEN")
        with transaction.atomic():
            enrollment = (Enrollment.objects.select_for_update().select_related("appliance")
                          .filter(enrollment_id=enrollment_id).first())
            expected = enrollment.poll_token_hash if enrollment and enrollment.poll_token_hash else "0" * 64
            # Constant time, and an unknown enrollment costs the same as a wrong token.
            if not hmac.compare_digest(expected, hash_token(poll_token)) or enrollment is None:
                raise AuthenticationFailed("Invalid enrollment id or enrollment token", error_code="INVALID_TOKEN")
            context["fingerprint"] = enrollment.ssh_key_fingerprint
            body = {"enrollment_id": enrollment.enrollment_id, "status": enrollment.status}
            if enrollment.status == EnrollmentStatus.PENDING:
                return {**body, "message": "Waiting for an administrator to approve this agent"}
            if enrollment.status == EnrollmentStatus.REJECTED:
                return {**body, "message": "An administrator rejected this agent", "reason": enrollment.decision_reason}
            if enrollment.status != EnrollmentStatus.APPROVED:
                return {**body, "message": f"This enrollment is {enrollment.status}"}
            appliance = enrollment.appliance
            context["appliance_id"] = appliance.appliance_id if appliance else ""
            if enrollment.credentials_delivered_at is not None:
                raise Gone("The credentials were already delivered; they are shown once",
                           error_code="CREDENTIALS_DELIVERED")
            if appliance is None or appliance.status != ApplianceStatus.APPROVED:
                raise Gone("This agent was revoked before it fetched its credentials", error_code="REVOKED")
            # The login token is made now, at delivery, so no usable raw token ever waits in the database.
            token = new_agent_token()
            appliance.token_hash = hash_token(token)
            appliance.save(update_fields=["token_hash", "updated_at"])
            enrollment.credentials_delivered_at = timezone.now()
            enrollment.save(update_fields=["credentials_delivered_at", "updated_at"])
            result = {**body, "message": "Approved: credentials and tunnel settings follow (shown once)",
                      "appliance_id": appliance.appliance_id,
                      "credentials": {"appliance_id": appliance.appliance_id, "token": token},
                      "tunnel": tunnel_settings(appliance, request_host=request_host)}
    audit(AuditAction.RESULT, success=True, actor=actor, enrollment_id=enrollment_id,
          appliance_id=appliance.appliance_id, fingerprint=enrollment.ssh_key_fingerprint,
          message="Credentials and tunnel settings delivered to the agent")
    return result


# --- the administrator's decisions ---------------------------------------------------------------------------------


def _derive_appliance_id(name: str) -> str:
    base = slug(name, limit=48)
    if not base.startswith("vma"):
        base = f"vma-{base}"
    candidate = base
    while Appliance.objects.filter(appliance_id=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(2)}"
    return candidate


def _free_reverse_port() -> int:
    taken = set(Appliance.objects.filter(tunnel_reverse_port__isnull=False)
                .values_list("tunnel_reverse_port", flat=True))
    for port in conf.tunnel_conf().reverse_ports:
        if port not in taken:
            return port
    raise Conflict("Every reverse-forward port is taken: widen MP_TUNNEL_REVERSE_PORTS or revoke an agent",
                   error_code="NO_TUNNEL_PORT")


def _free_nbd_block() -> str:
    taken = Appliance.objects.filter(tunnel_nbd_ports__isnull=False).values_list("tunnel_nbd_ports", flat=True)
    block = conf.free_nbd_block(conf.tunnel_conf(), taken)
    if block is None:
        raise Conflict("Every agent's block of NBD ports is taken: widen MP_TUNNEL_NBD_PORTS (or lower "
                       "MP_TUNNEL_NBD_PORTS_PER_AGENT) or revoke an agent", error_code="NO_TUNNEL_PORT")
    if len(block) > Appliance._meta.get_field("tunnel_nbd_ports").max_length:
        raise Conflict("The agent's block of NBD ports is too scattered to record: give MP_TUNNEL_NBD_PORTS as "
                       "ranges", details=block, error_code="NO_TUNNEL_PORT")
    return block


def enrollment_approve(*, enrollment_id: str, actor: Actor, appliance_id: str = "", name: str = "") -> Appliance:
    """Approve a proven enrollment: create the appliance (agent role, reverse port, its own block of NBD ports) and
    authorize its key for the tunnel. The login token is made when the agent fetches its result."""
    context: dict = {"enrollment_id": enrollment_id}
    with audit_refusal(AuditAction.APPROVE, actor, context):
        with transaction.atomic():
            enrollment = _locked_enrollment(context)
            if enrollment.status == EnrollmentStatus.AWAITING_PROOF:
                raise Conflict("This agent has not proven possession of its key yet", error_code="NOT_VERIFIED")
            if enrollment.status != EnrollmentStatus.PENDING:
                raise Conflict(f"This enrollment is already {enrollment.status}", error_code="INVALID_STATE")
            if Appliance.objects.filter(ssh_key_fingerprint=enrollment.ssh_key_fingerprint,
                                        status=ApplianceStatus.APPROVED).exists():
                raise Conflict("An approved agent already uses this SSH key", error_code="SSH_KEY_IN_USE")
            chosen = appliance_id or _derive_appliance_id(enrollment.name)
            context["appliance_id"] = chosen
            now = timezone.now()
            try:
                with transaction.atomic():
                    appliance = appliance_identity_create(
                        appliance_id=chosen, name=name or enrollment.name, version=enrollment.version,
                        status=ApplianceStatus.APPROVED, token_hash="", ssh_public_key=enrollment.ssh_public_key,
                        ssh_key_fingerprint=enrollment.ssh_key_fingerprint, tunnel_reverse_port=_free_reverse_port(),
                        tunnel_nbd_ports=_free_nbd_block(), approved_at=now, approved_by=actor.user)
            except IntegrityError as exc:
                # A concurrent approval took the same id, reverse port or NBD block between our read and our insert.
                raise Conflict("Another approval took the same appliance id or tunnel ports; try again",
                               error_code="CONCURRENT_APPROVAL") from exc
            enrollment.status = EnrollmentStatus.APPROVED
            enrollment.decided_at = now
            enrollment.decided_by = actor.user
            enrollment.appliance = appliance
            enrollment.save(update_fields=["status", "decided_at", "decided_by", "appliance", "updated_at"])
            authorized_keys_sync()
            transaction.on_commit(authorized_keys_resync, robust=True)
    audit(AuditAction.APPROVE, success=True, actor=actor, enrollment_id=enrollment_id,
          appliance_id=appliance.appliance_id, fingerprint=appliance.ssh_key_fingerprint,
          message=f"Approved agent '{enrollment.name}' as {appliance.appliance_id}",
          reverse_port=appliance.tunnel_reverse_port, nbd_ports=appliance.tunnel_nbd_ports)
    return appliance


def enrollment_reject(*, enrollment_id: str, actor: Actor, reason: str = "") -> Enrollment:
    context: dict = {"enrollment_id": enrollment_id}
    with audit_refusal(AuditAction.REJECT, actor, context):
        with transaction.atomic():
            enrollment = _locked_enrollment(context)
            if enrollment.status not in ENROLLMENT_OPEN:
                raise Conflict(f"This enrollment is already {enrollment.status}", error_code="INVALID_STATE")
            enrollment.status = EnrollmentStatus.REJECTED
            enrollment.challenge = ""
            enrollment.decided_at = timezone.now()
            enrollment.decided_by = actor.user
            enrollment.decision_reason = reason
            enrollment.save(update_fields=["status", "challenge", "decided_at", "decided_by", "decision_reason",
                                           "updated_at"])
    audit(AuditAction.REJECT, success=True, actor=actor, enrollment_id=enrollment_id,
          fingerprint=enrollment.ssh_key_fingerprint, message=f"Rejected agent '{enrollment.name}'", reason=reason)
    return enrollment
