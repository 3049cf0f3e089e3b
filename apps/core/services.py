"""Authentication services: log in operators and agents, issue and revoke session tokens."""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from .choices import TokenKind
from .exceptions import ApplicationError
from .models import ApiToken, hash_token

logger = logging.getLogger(__name__)


class AuthenticationFailed(ApplicationError):
    status_code = 401


@dataclass(frozen=True)
class IssuedToken:
    raw: str
    token: ApiToken

    @property
    def expires_at(self) -> datetime:
        return self.token.expires_at


def token_issue(*, user, kind: str, ttl, appliance_id: str = "", client_ip: str | None = None) -> IssuedToken:
    raw = "oma_session_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(key_hash=hash_token(raw), prefix=raw[:16], user=user, kind=kind,
                                    appliance_id=appliance_id, expires_at=timezone.now() + ttl, client_ip=client_ip)
    return IssuedToken(raw=raw, token=token)


def login_operator(*, username: str, password: str, client_ip: str | None = None) -> IssuedToken:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        logger.warning("operator login failed username=%s ip=%s", username, client_ip)
        raise AuthenticationFailed("Invalid username or password")
    logger.info("operator logged in username=%s ip=%s", username, client_ip)
    return token_issue(user=user, kind=TokenKind.OPERATOR, ttl=settings.OPERATOR_SESSION_TTL, client_ip=client_ip)


@transaction.atomic
def login_agent(*, appliance_id: str, token: str, version: str = "", client_ip: str | None = None) -> IssuedToken:
    from apps.enrollment.choices import ApplianceStatus
    from apps.enrollment.models import Appliance

    appliance = Appliance.objects.select_for_update().filter(appliance_id=appliance_id).first()
    # Compare digests in constant time; an unknown appliance costs the same as a wrong token.
    expected = appliance.token_hash if appliance and appliance.token_hash else "0" * 64
    if not hmac.compare_digest(expected, hash_token(token)) or appliance is None:
        logger.warning("agent login failed appliance_id=%s ip=%s", appliance_id, client_ip)
        raise AuthenticationFailed("Invalid appliance credentials")
    if appliance.status != ApplianceStatus.APPROVED:
        logger.warning("agent login refused appliance_id=%s status=%s", appliance_id, appliance.status)
        raise AuthenticationFailed(f"Appliance is {appliance.status}, not approved")
    appliance.last_seen_at = timezone.now()
    appliance.last_seen_ip = client_ip
    fields = ["last_seen_at", "last_seen_ip", "updated_at"]
    if version:
        appliance.version = version
        fields.append("version")
    appliance.save(update_fields=fields)
    logger.info("agent logged in appliance_id=%s version=%s", appliance_id, version)
    return token_issue(user=appliance.user, kind=TokenKind.AGENT, ttl=settings.AGENT_SESSION_TTL,
                       appliance_id=appliance_id, client_ip=client_ip)


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
