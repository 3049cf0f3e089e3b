"""Appliance lifecycle: create an agent identity by hand, revoke an agent (credentials, key, live sessions)."""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.core.choices import Role, TokenKind
from apps.core.exceptions import Conflict
from apps.core.models import ApiToken, hash_token
from apps.core.services import AuthenticationFailed, IssuedToken, token_issue

from .. import conf, selectors, sshd
from ..choices import ApplianceStatus, AuditAction
from ..models import Appliance
from ..signals import appliance_revoked
from .common import Actor, audit, audit_refusal
from .tunnel import authorized_keys_resync, authorized_keys_sync, tunnel_login_uid

logger = logging.getLogger("apps.enrollment.services")


def new_agent_token() -> str:
    return "vma_" + secrets.token_urlsafe(32)


@transaction.atomic
def login_agent(*, appliance_id: str, token: str, version: str = "", client_ip: str | None = None) -> IssuedToken:
    """Check an agent's appliance id and token, stamp it seen and issue its session (`POST /api/v1/auth/login`)."""
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


def appliance_token_reset(*, appliance: Appliance) -> str:
    """A new login token for an existing agent identity (the old one stops working); returns the raw token once."""
    token = new_agent_token()
    Appliance.objects.filter(pk=appliance.pk).update(token_hash=hash_token(token), updated_at=timezone.now())
    return token


def appliance_identity_create(*, appliance_id: str, name: str, version: str, status: str,
                               token_hash: str, **fields) -> Appliance:
    if Appliance.objects.filter(appliance_id=appliance_id).exists():
        raise Conflict(f"Appliance '{appliance_id}' already exists", error_code="APPLIANCE_EXISTS")
    user = get_user_model().objects.create_user(username=f"agent:{appliance_id}"[:150])
    user.set_unusable_password()
    user.save(update_fields=["password"])
    user.groups.add(Group.objects.get_or_create(name=Role.AGENT)[0])
    return Appliance.objects.create(appliance_id=appliance_id, name=name or appliance_id, version=version,
                                    status=status, token_hash=token_hash, user=user, **fields)


@transaction.atomic
def appliance_create(*, appliance_id: str, name: str = "", version: str = "",
                     status: str = ApplianceStatus.APPROVED) -> tuple[Appliance, str]:
    """Create an agent identity by hand (no tunnel key) and return it with its login token (shown once)."""
    token = new_agent_token()
    appliance = appliance_identity_create(appliance_id=appliance_id, name=name, version=version, status=status,
                                           token_hash=hash_token(token))
    return appliance, token


@dataclass
class Revocation:
    appliance: Appliance
    tokens_revoked: int = 0
    sessions_ended: int = 0
    warnings: list[str] = field(default_factory=list)


def appliance_revoke(*, appliance: Appliance, actor: Actor | None = None) -> Revocation:
    """Revoke an agent: its login and every live session token die at once, its SSH key leaves the tunnel's keys
    file, and its live tunnel sessions are ended. Its reverse port and NBD block are freed (``appliance_revoked``
    lets replication stop the exports left in the block)."""
    actor = actor or Actor()
    context = {"appliance_id": appliance.appliance_id, "fingerprint": appliance.ssh_key_fingerprint}
    with audit_refusal(AuditAction.REVOKE, actor, context):
        with transaction.atomic():
            row = Appliance.objects.select_for_update().get(pk=appliance.pk)
            if row.status == ApplianceStatus.REVOKED:
                raise Conflict(f"Appliance '{row.appliance_id}' is already revoked", error_code="INVALID_STATE")
            freed_nbd_ports = selectors.appliance_nbd_ports(row)
            now = timezone.now()
            row.status = ApplianceStatus.REVOKED
            row.revoked_at = now
            row.revoked_by = actor.user
            row.tunnel_reverse_port = None
            row.tunnel_nbd_ports = None
            row.save(update_fields=["status", "revoked_at", "revoked_by", "tunnel_reverse_port", "tunnel_nbd_ports",
                                    "updated_at"])
            tokens = 0
            if row.user_id:
                tokens = ApiToken.objects.filter(user_id=row.user_id, revoked_at__isnull=True).update(revoked_at=now)
            # Inside the transaction: if the key cannot leave the file, the revocation does not happen either.
            if row.ssh_public_key:
                authorized_keys_sync()
                transaction.on_commit(authorized_keys_resync, robust=True)
    result = Revocation(appliance=row, tokens_revoked=tokens)
    if row.ssh_key_fingerprint:
        try:
            result.sessions_ended = sshd.terminate_sessions(conf.sessions_dir(), row.ssh_key_fingerprint)
        except OSError as exc:  # not allowed to signal (SessionKillError), or the registry is unreadable
            result.warnings.append(str(exc) if isinstance(exc, sshd.SessionKillError)
                                   else f"cannot read the tunnel session registry: {exc}")
            logger.error("revoked appliance_id=%s but its tunnel session may live on: %s", row.appliance_id, exc)
    if freed_nbd_ports:
        appliance_revoked.send(sender=Appliance, appliance_id=row.appliance_id, nbd_ports=freed_nbd_ports)
    audit(AuditAction.REVOKE, success=True, actor=actor, appliance_id=row.appliance_id,
          fingerprint=row.ssh_key_fingerprint,
          message=f"Revoked: {tokens} session token(s) and {result.sessions_ended} tunnel session(s) ended",
          tokens_revoked=tokens, sessions_ended=result.sessions_ended, warnings=result.warnings)
    for name in ("status", "revoked_at", "revoked_by_id", "tunnel_reverse_port", "tunnel_nbd_ports"):
        setattr(appliance, name, getattr(row, name))
    return result


def appliances_mark_tunnel_seen(*, appliance_ids: list[int]) -> None:
    if appliance_ids:
        Appliance.objects.filter(pk__in=appliance_ids).update(tunnel_last_seen_at=timezone.now())


def appliances_refresh_tunnel_seen() -> list[int]:
    """Stamp ``tunnel_last_seen_at`` on every approved agent whose tunnel is logged in now; returns their ids.

    Beat runs this every minute, so "last seen through the tunnel" stays true when nobody reads the agent list.
    An unreadable session registry raises OSError (the caller says why)."""
    sessions = selectors.tunnel_sessions_by_fingerprint(tunnel_login_uid())
    connected = [a.pk for a in selectors.active_appliances() if sessions.get(a.ssh_key_fingerprint)]
    appliances_mark_tunnel_seen(appliance_ids=connected)
    return connected
