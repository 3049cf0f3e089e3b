"""Authentication services: log in operators, issue and revoke session tokens (agents log in through enrollment)."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from .choices import TokenKind
from .exceptions import ApplicationError
from .models import ApiToken, hash_token

logger = logging.getLogger(__name__)


class AuthenticationFailed(ApplicationError, status_code=401):
    """Wrong or missing credentials."""


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


def login_operator(*, username: str, password: str, client_ip: str | None = None,
                   request: Request | HttpRequest | None = None) -> IssuedToken:
    # The request goes to the authentication backends: django-axes needs it (it leaves this login to the throttle).
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        logger.warning("operator login failed username=%s ip=%s", username, client_ip)
        raise AuthenticationFailed("Invalid username or password")
    logger.info("operator logged in username=%s ip=%s", username, client_ip)
    return token_issue(user=user, kind=TokenKind.OPERATOR, ttl=settings.OPERATOR_SESSION_TTL, client_ip=client_ip)


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def tokens_revoke_for_user(*, user, reason: str) -> int:
    """Revoke every live session token of ``user``; returns how many died."""
    count = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if count:
        logger.info("session tokens revoked username=%s count=%d reason=%s", user.get_username(), count, reason)
    return count
