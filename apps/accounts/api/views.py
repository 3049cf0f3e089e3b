"""Seed 004's users, roles, role assignments and user activity, over our Django users and role groups."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import page_answer, page_of, query_flag, query_number
from apps.core.api.validation import validated
from apps.core.exceptions import InvalidInput
from apps.core.selectors import client_ip
from apps.core.utils import is_pk

from .. import selectors, services
from . import serializers as s
from .base import AccountsView, errors

TAGS = ["portal: users"]
UserPage = page_of(s.UserSerializer)
AssignmentPage = page_of(s.RoleAssignmentSerializer)
PAGING = [OpenApiParameter("limit", int, description="Rows per page (default 100, at most 1000)"),
          OpenApiParameter("offset", int, description="Rows to skip (default 0)")]


class UserListView(AccountsView):
    requires = {"get": "users:read", "post": "users:admin"}

    @extend_schema(parameters=[OpenApiParameter("domain_id", str), OpenApiParameter("enabled", bool), *PAGING],
                   responses={200: UserPage}, tags=TAGS, operation_id="portal_users_list",
                   summary="List users (our Django users, agents left out)")
    def get(self, request):
        users = selectors.people()
        enabled = query_flag(request, "enabled")
        if enabled is not None:
            users = users.filter(is_active=enabled)
        domain = request.query_params.get("domain_id")
        if domain and domain != selectors.DEFAULT_DOMAIN:
            users = users.none()
        return page_answer(s.UserSerializer, request, users)

    @extend_schema(request=s.UserWriteSerializer, responses={201: s.UserSerializer, **errors(409)}, tags=TAGS,
                   summary="Create a user with a role (admin)")
    def post(self, request):
        data = validated(s.UserWriteSerializer, request.data, context={"create": True})
        user = services.user_create(**data)
        return Response(s.UserSerializer(selectors.user_by_id(user.pk)).data, status=201)


class UserDetailView(AccountsView):
    requires = {"get": "users:read", "patch": "users:admin"}

    @extend_schema(responses={200: s.UserSerializer}, tags=TAGS, summary="One user")
    def get(self, request, user_id):
        return Response(s.UserSerializer(selectors.user_by_id(user_id)).data)

    @extend_schema(request=s.UserWriteSerializer, responses={200: s.UserSerializer, **errors(409)}, tags=TAGS,
                   summary="Change a user: details, role, password, enabled (admin; a new password ends their "
                           "sessions)")
    def patch(self, request, user_id):
        user = selectors.user_by_id(user_id)
        data = validated(s.UserWriteSerializer, request.data)
        services.user_update(user=user, actor=request.user, **data)
        return Response(s.UserSerializer(selectors.user_by_id(user.pk)).data)


class RoleListView(AccountsView):
    requires = {"get": "roles:read"}

    @extend_schema(responses={200: s.RoleListSerializer}, tags=TAGS, operation_id="portal_roles_list",
                   summary="The roles: viewer, operator, admin")
    def get(self, request):
        rows = selectors.roles()
        return Response(s.RoleListSerializer({"roles": rows, "total": len(rows)}).data)


class RoleDetailView(AccountsView):
    requires = {"get": "roles:read"}

    @extend_schema(responses={200: s.RoleSerializer}, tags=TAGS, summary="One role and the permissions it holds")
    def get(self, request, role_id):
        return Response(s.RoleSerializer(selectors.role(role_id)).data)


class RoleAssignmentListView(AccountsView):
    requires = {"get": "roles:read"}

    @extend_schema(parameters=[OpenApiParameter("user_id", int), OpenApiParameter("project_id", str),
                               OpenApiParameter("role_id", str), *PAGING],
                   responses={200: AssignmentPage}, tags=TAGS,
                   summary="Who holds which role (platform-wide: a project filter keeps them all)")
    def get(self, request):
        user_id = request.query_params.get("user_id")
        if user_id not in (None, "") and not is_pk(user_id):
            raise InvalidInput("Invalid parameter: user_id must be a user's numeric id")
        rows = selectors.role_assignments(user_id=int(user_id) if user_id else None,
                                          role_id=request.query_params.get("role_id", ""))
        return page_answer(s.RoleAssignmentSerializer, request, rows)


class UserActivitySummaryView(AccountsView):
    requires = {"get": "users:read"}

    @extend_schema(parameters=[OpenApiParameter("days", int, description="The period (default 30, 1 to 365)")],
                   responses={200: s.UserActivitySummarySerializer}, tags=TAGS,
                   summary="Per user: logins, sessions, console actions, audit and access events")
    def get(self, request):
        days = query_number(request, "days", 30, 1, 365)
        rows = selectors.activity_summary(days=days)
        active = sum(1 for r in rows if r["sessions_started"] or r["console_actions"] or r["audit_events"]
                     or r["access_events"] or r["replications_started"])
        return Response(s.UserActivitySummarySerializer(
            {"period_days": days, "total_users": len(rows), "active_users": active, "users": rows}).data)


class UserAccessLogView(AccountsView):
    requires = {"post": "users:admin"}

    @extend_schema(request=s.AccessLogWriteSerializer, responses={201: s.AccessLogAnswerSerializer}, tags=TAGS,
                   summary="Record a user's access event (admin)")
    def post(self, request):
        data = validated(s.AccessLogWriteSerializer, request.data)
        row = services.access_log_record(actor=request.user, client_ip=client_ip(request), **data)
        return Response(s.AccessLogAnswerSerializer({"status": "logged", "id": row.pk,
                                                     "timestamp": row.created_at or timezone.now()}).data,
                        status=201)
