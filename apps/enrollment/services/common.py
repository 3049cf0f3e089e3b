"""What every enrollment service shares: who acts, the audit trail, and refusals that leave only an audit event."""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from apps.core.exceptions import ApplicationError

from ..models import EnrollmentAuditEvent

logger = logging.getLogger("apps.enrollment.services")


class Gone(ApplicationError, status_code=410, error_code="GONE"):
    """What the request names existed and is no longer usable."""


@dataclass(frozen=True)
class Actor:
    """Who acts: an authenticated user, or an anonymous agent known by the name it gave; and from where."""

    user: object | None = None
    ip: str | None = None
    name: str = ""

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return self.name or "anonymous"


def audit(action: str, *, success: bool, message: str, actor: Actor | None = None, enrollment_id: str = "",
          appliance_id: str = "", fingerprint: str = "", **data) -> EnrollmentAuditEvent:
    actor = actor or Actor()
    log = logger.info if success else logger.warning
    log("enrollment audit action=%s success=%s actor=%s ip=%s enrollment_id=%s appliance_id=%s fingerprint=%s msg=%s",
        action, success, actor.label, actor.ip, enrollment_id, appliance_id, fingerprint, message)
    return EnrollmentAuditEvent.objects.create(
        action=action, success=success, actor=actor.user, actor_name=actor.label[:150], client_ip=actor.ip,
        enrollment_id=enrollment_id[:64], appliance_id=appliance_id[:128], key_fingerprint=fingerprint[:100],
        message=message[:500], data=data)


@contextlib.contextmanager
def audit_refusal(action: str, actor: Actor, context: dict):
    """Record a refused step after its transaction rolled back, so the audit survives and nothing else does."""
    try:
        yield context
    except ApplicationError as exc:
        audit(action, success=False, message=exc.message, actor=actor, error_code=exc.error_code,
              status=exc.status_code, **context)
        raise
