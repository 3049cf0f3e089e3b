"""Reads: users with their roles and departments, roles, assignments, activity, navigation as a user sees it."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from apps.core.choices import Role, TokenKind
from apps.core.exceptions import NotFound
from apps.core.models import ApiToken
from apps.core.utils import by_pk
from apps.enrollment.selectors import audit_events
from apps.replication.selectors import jobs_requested_by

from . import permissions
from .choices import EventType, NotificationStatus, OverrideType
from .models import (
    Branding,
    Department,
    NavGroup,
    NavItem,
    Notification,
    NotificationPreference,
    SmtpSettings,
    UserAccessLog,
    UserProfile,
)

# Our users live in one place; the seed's domains are OpenStack's. Every user is in this one.
DEFAULT_DOMAIN = "default"
HUMAN_ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
ROLE_DESCRIPTIONS = {
    Role.VIEWER: "Reads everything: VMs, jobs, plans, the portal's lists.",
    Role.OPERATOR: "Viewer, and starts and stops work (replications, failovers, waves) and edits configuration.",
    Role.ADMIN: "Operator, and approves agents, manages users, roles, departments, branding and SMTP.",
}


def people() -> QuerySet:
    """Users who are people (agents' own identities left out), with what their answers show."""
    return (get_user_model().objects.exclude(groups__name=Role.AGENT)
            .select_related("portal_profile__department").prefetch_related("groups").order_by("username"))


def user_by_id(user_id) -> object:
    return by_pk(people(), user_id, missing=NotFound("User not found"))


def user_by_name(username: str):
    user = people().filter(username=username).first()
    if user is None:
        raise NotFound(f"User '{username}' not found")
    return user


def department_of(user) -> Department | None:
    try:
        return user.portal_profile.department
    except UserProfile.DoesNotExist:
        return None


def role_names(user) -> list[str]:
    if user.is_superuser:
        return [Role.ADMIN]
    return sorted(g.name for g in user.groups.all() if g.name in HUMAN_ROLES)


def highest_role(user) -> str | None:
    """The user's highest role from their prefetched groups (``people()``): no query per user in a list."""
    names = set(role_names(user))
    return next((role for role in reversed(HUMAN_ROLES) if role in names), None)


def roles() -> list[dict]:
    counts = dict(Group.objects.filter(name__in=HUMAN_ROLES).annotate(n=Count("user")).values_list("name", "n"))
    return [role(name, counts.get(name, 0)) for name in HUMAN_ROLES]


def role(name: str, user_count: int | None = None) -> dict:
    if name not in HUMAN_ROLES:
        raise NotFound(f"Role '{name}' not found (roles: {', '.join(HUMAN_ROLES)})")
    if user_count is None:
        user_count = get_user_model().objects.filter(groups__name=name).count()
    held = [p for p in (f"{r}:{level}" for r in permissions.RESOURCES for level in permissions.LEVEL_ROLE)
            if permissions.role_for(p) in _implied(name)]
    return {"id": name, "name": name, "description": ROLE_DESCRIPTIONS[name], "permissions": held,
            "user_count": user_count}


def _implied(name: str) -> set[str]:
    return set(HUMAN_ROLES[: HUMAN_ROLES.index(name) + 1])


def role_assignments(*, user_id: int | None = None, role_id: str = "") -> list[dict]:
    """One row per user and role group; our roles hold across the platform (``scope`` "platform", no project)."""
    users = people()
    if user_id is not None:
        users = users.filter(pk=user_id)
    rows = []
    for user in users:
        for name in role_names(user):
            if not role_id or name == role_id:
                rows.append({"user_id": user.pk, "username": user.username, "role_id": name, "role_name": name,
                             "project_id": None, "domain_id": DEFAULT_DOMAIN, "scope": "platform"})
    return rows


def activity_summary(days: int = 30) -> list[dict]:
    """Per person: sessions, last use, what they did in the console, the enrollment audit, the replications they
    started and reported accesses."""
    since = timezone.now() - timedelta(days=days)
    users = list(people())
    tokens = {row["user"]: row for row in ApiToken.objects.filter(kind=TokenKind.OPERATOR).values("user").annotate(
        sessions=Count("id", filter=Q(created_at__gte=since)), last_seen=Max("last_used_at"),
        live=Count("id", filter=Q(revoked_at__isnull=True, expires_at__gt=timezone.now())))}
    console = dict(LogEntry.objects.filter(action_time__gte=since).values("user").annotate(n=Count("id"))
                   .values_list("user", "n"))
    audit = dict(audit_events().filter(created_at__gte=since).exclude(actor=None).order_by()
                 .values("actor").annotate(n=Count("id")).values_list("actor", "n"))
    access = {row["user"]: row for row in UserAccessLog.objects.filter(created_at__gte=since).exclude(user=None)
              .values("user").annotate(n=Count("id"), last=Max("created_at"))}
    jobs = jobs_requested_by(since)
    summary = []
    for user in users:
        token = tokens.get(user.pk, {})
        seen = [t for t in (token.get("last_seen"), access.get(user.pk, {}).get("last"), user.last_login) if t]
        summary.append({
            "user_id": user.pk, "username": user.username, "role": highest_role(user),
            "enabled": user.is_active, "last_login": user.last_login, "last_activity": max(seen) if seen else None,
            "sessions_started": token.get("sessions", 0), "active_sessions": token.get("live", 0),
            "console_actions": console.get(user.pk, 0), "audit_events": audit.get(user.pk, 0),
            "access_events": access.get(user.pk, {}).get("n", 0), "replications_started": jobs.get(user.username, 0)})
    return summary


def active_sessions() -> int:
    return ApiToken.objects.live().filter(kind=TokenKind.OPERATOR).count()


# --- departments and navigation ------------------------------------------------------------------------------------

def departments(*, active_only: bool = True) -> QuerySet[Department]:
    rows = Department.objects.annotate(member_count=Count("members"))
    return rows.filter(is_active=True) if active_only else rows


def department(department_id) -> Department:
    return by_pk(Department.objects.filter(is_active=True), department_id, missing=NotFound("Department not found"))


def nav_group(group_id) -> NavGroup:
    return by_pk(NavGroup.objects.all(), group_id, missing=NotFound("Navigation group not found"))


def nav_item(item_id) -> NavItem:
    return by_pk(NavItem.objects.select_related("group"), item_id, missing=NotFound("Navigation item not found"))


def visibility(dept: Department) -> dict:
    return {"department_id": dept.pk, "department_name": dept.name,
            "nav_group_ids": sorted(dept.nav_groups.values_list("pk", flat=True)),
            "nav_item_ids": sorted(dept.nav_items.values_list("pk", flat=True))}


def visibility_matrix() -> dict:
    depts = list(departments().prefetch_related("nav_items", "nav_groups"))
    items = list(NavItem.objects.select_related("group").filter(is_active=True))
    return {
        "departments": [{"id": d.pk, "name": d.name} for d in depts],
        "nav_groups": [{"id": g.pk, "key": g.key, "label": g.label} for g in NavGroup.objects.filter(is_active=True)],
        "nav_items": [{"id": i.pk, "key": i.key, "label": i.label, "nav_group_id": i.group_id} for i in items],
        "matrix": {str(d.pk): {str(i.pk): i.pk in {x.pk for x in d.nav_items.all()} for i in items} for d in depts},
    }


def navigation_for(user) -> dict:
    """The user's navigation: their department's groups and items (everything when they have no department or
    the department chose nothing), then their own overrides; items whose resource the role cannot read are left out."""
    dept = department_of(user)
    groups = list(NavGroup.objects.filter(is_active=True).prefetch_related("items"))
    if dept is not None and dept.is_active and (dept.nav_items.exists() or dept.nav_groups.exists()):
        item_ids = set(dept.nav_items.values_list("pk", flat=True))
        group_ids = set(dept.nav_groups.values_list("pk", flat=True))
    else:
        item_ids = {i.pk for g in groups for i in g.items.all()}
        group_ids = {g.pk for g in groups}
    overrides = {o.nav_item_id: o.override_type for o in user.nav_overrides.all()}
    tree = []
    for group in groups:
        shown = []
        for item in group.items.all():
            base = group.pk in group_ids and item.pk in item_ids
            visible = overrides.get(item.pk, OverrideType.ALLOW if base else OverrideType.DENY) == OverrideType.ALLOW
            readable = not item.resource or permissions.has_permission(user, f"{item.resource}:read")
            if item.is_active and visible and readable:
                shown.append({"id": item.pk, "key": item.key, "label": item.label, "route": item.route,
                              "icon": item.icon, "sort_order": item.sort_order})
        if shown:
            tree.append({"id": group.pk, "key": group.key, "label": group.label, "icon": group.icon,
                         "sort_order": group.sort_order, "items": shown})
    return {"user": {"username": user.username, "role": highest_role(user),
                     "department": {"id": dept.pk, "name": dept.name} if dept else None},
            "nav_groups": tree, "permissions": permissions.permissions_of(user)}


# --- branding, preferences, SMTP -----------------------------------------------------------------------------------

def branding() -> Branding:
    return Branding.objects.get_or_create(pk=1)[0]


def preferences(user) -> dict:
    profile = UserProfile.objects.filter(user=user).first()
    return dict(profile.preferences) if profile else {}


def smtp() -> SmtpSettings:
    return SmtpSettings.objects.get_or_create(pk=1)[0]



def notification_preferences(user) -> QuerySet[NotificationPreference]:
    return NotificationPreference.objects.filter(user=user).select_related("user")


def notification_history(user, *, everyone: bool, status: str = "", event_type: str = "") -> QuerySet[Notification]:
    """The emails sent to or for ``user``; everyone's for ``everyone`` (the notifications admin)."""
    rows = Notification.objects.all() if everyone else Notification.objects.filter(user=user)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return rows


def notification_stats() -> dict:
    by_status = dict(Notification.objects.values("status").annotate(n=Count("id")).values_list("status", "n"))
    enabled = NotificationPreference.objects.filter(enabled=True)
    by_type = dict(Notification.objects.order_by().values("event_type").annotate(n=Count("id"))
                   .values_list("event_type", "n"))
    return {
        "total_sent": by_status.get(NotificationStatus.SENT, 0),
        "total_failed": by_status.get(NotificationStatus.FAILED, 0),
        "total_pending": by_status.get(NotificationStatus.PENDING, 0),
        "total_preferences": NotificationPreference.objects.count(),
        "active_users": enabled.values("user").distinct().count(),
        "last_sent_at": Notification.objects.aggregate(last=Max("sent_at"))["last"],
        # Every event type, 0 for those never sent: a chart's series stay the same from day to day.
        "events_by_type": {event: by_type.get(event, 0) for event in EventType.values},
    }


BRANDING_CACHE_KEY = "accounts:branding"


def logo_url(row: Branding) -> str | None:
    return f"/settings/branding/logo/{row.logo_name}" if row.logo_name else None


def branding_answer() -> dict:
    """The branding as the API and every console page show it; cached (each page reads it), dropped on change."""
    cached = cache.get(BRANDING_CACHE_KEY)
    if cached is None:
        row = Branding.objects.defer("logo").get_or_create(pk=1)[0]
        cached = {field: getattr(row, field) for field in (
            "company_name", "company_subtitle", "primary_color", "secondary_color", "login_hero_title",
            "login_hero_description", "login_hero_features")}
        cached["company_logo_url"] = logo_url(row)
        cache.set(BRANDING_CACHE_KEY, cached, 300)
    return cached
