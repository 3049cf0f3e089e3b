"""Writes: users and their roles and departments, departments and navigation, branding and the logo, preferences,
SMTP settings, notification preferences, and emails queued for the worker (apps/accounts/tasks.py)."""
from __future__ import annotations

import logging
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core.choices import Role
from apps.core.exceptions import Conflict, InvalidInput, NotFound, ServiceUnavailable
from apps.core.permissions import user_roles
from apps.core.utils import unique_or_conflict

from . import selectors
from .choices import SEVERITY_RANK, DeliveryMode, EventType
from .models import (
    Branding,
    Department,
    NavGroup,
    NavItem,
    NavOverride,
    Notification,
    NotificationPreference,
    SmtpSettings,
    UserAccessLog,
    UserProfile,
)
from .tasks import send_notification

logger = logging.getLogger(__name__)

LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/svg+xml": "svg",
              "image/webp": "webp"}
MAX_LOGO_BYTES = 2 * 1024 * 1024
# What makes an SVG run code in the portal's origin: script elements, javascript: links, on* handlers.
SVG_ACTIVE = re.compile(rb"<script|javascript:|\son[a-z]+\s*=", re.IGNORECASE)


# --- users -----------------------------------------------------------------------------------------------------------

def _set_role(user, role: str) -> None:
    """Exactly one of the human roles; the agent group is never given or taken here."""
    user.groups.remove(*Group.objects.filter(name__in=selectors.HUMAN_ROLES))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    user._mp_roles = None


@transaction.atomic
def user_create(*, username: str, password: str, role: str, email: str = "", first_name: str = "",
                last_name: str = "", enabled: bool = True, department_id: int | None = None):
    """A person who can log in with ``username`` + ``password`` and holds ``role``."""
    model = get_user_model()
    if model.objects.filter(username=username).exists():
        raise Conflict(f"User '{username}' already exists")
    user = model.objects.create_user(username=username, password=password, email=email, first_name=first_name,
                                     last_name=last_name, is_active=enabled)
    _set_role(user, role)
    if department_id is not None:
        user_set_department(user=user, department_id=department_id)
    logger.info("user created username=%s role=%s", username, role)
    return user


@transaction.atomic
def user_update(*, user, actor, **changes):
    """Change a person's details, role, password or whether they may log in. Nobody disables or demotes themselves
    (the platform would lose its last way in)."""
    if user.pk == actor.pk and (changes.get("enabled") is False or changes.get("role", Role.ADMIN) != Role.ADMIN):
        raise Conflict("You cannot disable your own account or take away your own admin role")
    for field in ("email", "first_name", "last_name"):
        if field in changes:
            setattr(user, field, changes[field])
    if "enabled" in changes:
        user.is_active = changes["enabled"]
    if changes.get("password"):
        user.set_password(changes["password"])  # ends the user's bearer sessions (apps/core/signals.py)
    user.save()
    if "role" in changes:
        _set_role(user, changes["role"])
    if "department_id" in changes:
        user_set_department(user=user, department_id=changes["department_id"])
    logger.info("user updated username=%s fields=%s", user.username, ",".join(sorted(k for k in changes
                                                                                     if k != "password")))
    return user


def user_set_department(*, user, department_id: int | None) -> UserProfile:
    dept = selectors.department(department_id) if department_id is not None else None
    profile, _ = UserProfile.objects.get_or_create(user=user)
    profile.department = dept
    profile.save(update_fields=["department", "updated_at"])
    return profile


def access_log_record(*, actor, username: str, action: str, resource: str = "", client_ip: str | None = None,
                      details: dict | None = None) -> UserAccessLog:
    user = get_user_model().objects.filter(username=username).first()
    return UserAccessLog.objects.create(user=user, username=username, action=action, resource=resource,
                                        client_ip=client_ip, details=details or {}, recorded_by=actor.username)


# --- departments and navigation --------------------------------------------------------------------------------------

def _save_unique(row, **fields):
    for key, value in fields.items():
        setattr(row, key, value)
    with unique_or_conflict(f"A {row._meta.verbose_name} with this name or key already exists"):
        row.save()
    return row


def department_save(row: Department | None = None, **fields) -> Department:
    if row is None and Department.objects.filter(name=fields.get("name"), is_active=False).exists():
        # A deleted department's name comes back as that department (its people's history stays with it).
        row = Department.objects.get(name=fields["name"])
        fields["is_active"] = True
    return _save_unique(row or Department(), **fields)


def department_delete(dept: Department) -> None:
    """Deactivate: off the lists and the navigation, its people back to the default navigation."""
    UserProfile.objects.filter(department=dept).update(department=None)
    dept.is_active = False
    dept.save(update_fields=["is_active", "updated_at"])


def nav_group_save(row: NavGroup | None = None, **fields) -> NavGroup:
    return _save_unique(row or NavGroup(), **fields)


def nav_item_save(row: NavItem | None = None, **fields) -> NavItem:
    return _save_unique(row or NavItem(), **fields)


@transaction.atomic
def visibility_set(dept: Department, *, nav_group_ids: list[int], nav_item_ids: list[int]) -> None:
    groups = list(NavGroup.objects.filter(pk__in=nav_group_ids))
    items = list(NavItem.objects.filter(pk__in=nav_item_ids))
    missing = sorted(set(nav_group_ids) - {g.pk for g in groups}) + sorted(set(nav_item_ids) - {i.pk for i in items})
    if missing:
        raise InvalidInput(f"Invalid request: unknown navigation ids {missing}")
    dept.nav_groups.set(groups)
    dept.nav_items.set(items)


def override_set(*, user, nav_item: NavItem, override_type: str, reason: str, actor) -> NavOverride:
    row, _ = NavOverride.objects.update_or_create(
        user=user, nav_item=nav_item, defaults={"override_type": override_type, "reason": reason,
                                                "created_by": actor.username})
    return row


def override_delete(*, user, nav_item: NavItem) -> None:
    deleted, _ = NavOverride.objects.filter(user=user, nav_item=nav_item).delete()
    if not deleted:
        raise NotFound(f"User '{user.username}' has no override for navigation item {nav_item.pk}")


# --- branding and preferences ----------------------------------------------------------------------------------------

def branding_update(**fields) -> Branding:
    row = selectors.branding()
    for key, value in fields.items():
        setattr(row, key, value)
    row.save()
    cache.delete(selectors.BRANDING_CACHE_KEY)
    return row


def _sniff(data: bytes) -> str | None:
    """The image type the bytes really are (never the client's word for it)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return None


def logo_store(*, data: bytes) -> Branding:
    """Validate and keep the logo: PNG, JPEG, GIF, SVG or WebP by content, at most 2 MB; an SVG with scripts is
    refused (it would run in the portal's origin)."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(f"Logo too large: {len(data)} bytes, at most {MAX_LOGO_BYTES} (2 MB)")
    content_type = _sniff(data)
    if content_type is None:
        raise InvalidInput("Logo must be a PNG, JPEG, GIF, SVG or WebP image")
    if content_type == "image/svg+xml" and SVG_ACTIVE.search(data):
        raise InvalidInput("Logo SVG must not contain scripts or event handlers")
    row = selectors.branding()
    row.logo = data
    row.logo_content_type = content_type
    row.logo_name = f"company_logo_{int(timezone.now().timestamp())}.{LOGO_TYPES[content_type]}"
    row.save(update_fields=["logo", "logo_content_type", "logo_name", "updated_at"])
    cache.delete(selectors.BRANDING_CACHE_KEY)
    return row


def preferences_update(*, user, values: dict) -> dict:
    """Merge ``values`` into the user's preferences (a key set to null is removed)."""
    profile, _ = UserProfile.objects.get_or_create(user=user)
    merged = {**profile.preferences, **values}
    profile.preferences = {k: v for k, v in merged.items() if v is not None}
    profile.save(update_fields=["preferences", "updated_at"])
    return profile.preferences


# --- SMTP and notifications ------------------------------------------------------------------------------------------

def smtp_update(**fields) -> SmtpSettings:
    """Change the SMTP settings; a password given replaces the stored one, an empty one removes it, none keeps it."""
    row = selectors.smtp()
    for key, value in fields.items():
        setattr(row, key, value)
    row.save()
    logger.info("smtp settings updated host=%s port=%s enabled=%s auth=%s", row.host, row.port, row.enabled,
                bool(row.username))
    return row


def preference_save(*, user, event_type: str, email: str, enabled: bool, severity_min: str,
                    delivery_mode: str) -> NotificationPreference:
    row, _ = NotificationPreference.objects.update_or_create(
        user=user, event_type=event_type,
        defaults={"email": email, "enabled": enabled, "severity_min": severity_min, "delivery_mode": delivery_mode})
    return row


def _queue(notification: Notification) -> None:
    transaction.on_commit(lambda: send_notification.delay(notification.pk))


def test_email(*, actor, recipient: str) -> Notification:
    """Queue a test email to ``recipient``; the worker sends it (GET /notifications/history shows the outcome)."""
    settings = selectors.smtp()
    if not settings.enabled or not settings.host:
        raise ServiceUnavailable("SMTP is not configured: set it with PUT /notifications/smtp-settings")
    branding = selectors.branding()
    row = Notification.objects.create(
        user=actor, username=actor.username, event_type=EventType.TEST_EMAIL, recipient=recipient,
        subject=f"{branding.company_name}: test email",
        body=f"This is a test email from {branding.company_name}, sent at {actor.username}'s request.\n"
             f"If you read this, the platform's SMTP settings work.")
    _queue(row)
    return row


def notify(*, event_type: str, severity: str, subject: str, body: str, event_id: str = "",
           role: str = "") -> list[Notification]:
    """Queue an email for everyone who asked for ``event_type`` from ``severity`` up; returns what was queued.

    Apps above call this when something worth telling happens; the request or task that calls it never waits for
    the SMTP server. With ``role``, only users who hold that role hear of it (an overdue approval is for the
    admins who may decide it, not for every viewer who subscribed).
    """
    queued = []
    prefs = NotificationPreference.objects.filter(event_type=event_type, enabled=True).select_related("user")
    for pref in prefs:
        if SEVERITY_RANK[severity] < SEVERITY_RANK[pref.severity_min]:
            continue
        if role and role not in user_roles(pref.user):
            continue
        for_digest = pref.delivery_mode == DeliveryMode.DIGEST
        row = Notification.objects.create(user=pref.user, username=pref.user.username, event_type=event_type,
                                          event_id=event_id, severity=severity, subject=subject, body=body,
                                          recipient=pref.email, for_digest=for_digest)
        if not for_digest:  # a digest's events wait for the daily digest (digests_queue)
            _queue(row)
        queued.append(row)
    return queued

