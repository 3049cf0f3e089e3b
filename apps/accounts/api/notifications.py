"""Seed 004's notification endpoints: SMTP status (and, beside it, the SMTP settings), each user's preferences,
the history of what was sent, a test email, the admin's figures. Emails are queued here and sent by the worker."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core.api.detail import page_slice
from apps.core.api.validation import validated
from apps.core.exceptions import InvalidInput, NotFound
from apps.core.utils import by_pk

from .. import permissions, selectors, services
from ..choices import EventType, NotificationStatus
from . import serializers as s
from .base import AccountsView, errors

TAGS = ["portal: notifications"]


class SmtpStatusView(AccountsView, tags=TAGS, answer=s.SmtpStatusSerializer, read=selectors.smtp,
                     summary="The SMTP settings (never the password)"):
    requires = {"get": "notifications:read"}


class SmtpSettingsView(AccountsView, tags=TAGS, answer=s.SmtpStatusSerializer, read=selectors.smtp,
                       operation_id="portal_smtp_settings_read",
                       summary="The SMTP settings (as /notifications/smtp-status)",
                       body=s.SmtpSettingsWriteSerializer, write=services.smtp_update,
                       write_summary="Change the SMTP settings (admin; the password is stored encrypted, never answered)"):
    requires = {"get": "notifications:read", "put": "notifications:admin"}


class PreferenceListView(AccountsView):
    requires = {"get": "notifications:read", "put": "notifications:write"}

    @extend_schema(responses={200: s.NotificationPreferenceSerializer(many=True)}, tags=TAGS,
                   summary="My notification preferences")
    def get(self, request):
        rows = selectors.notification_preferences(request.user)
        return Response(s.NotificationPreferenceSerializer(rows, many=True).data)

    @extend_schema(request=s.PreferenceWriteSerializer, responses={200: s.SavedSerializer}, tags=TAGS,
                   summary="Create or update my preference for one event type")
    def put(self, request):
        data = validated(s.PreferenceWriteSerializer, request.data)
        row = services.preference_save(user=request.user, **data)
        return Response(s.SavedSerializer({"status": "saved", "id": row.pk}).data)


class PreferenceDetailView(AccountsView):
    requires = {"delete": "notifications:write"}

    @extend_schema(responses={200: s.StatusSerializer}, tags=TAGS, summary="Delete one of my preferences")
    def delete(self, request, pref_id):
        row = by_pk(selectors.notification_preferences(request.user), pref_id,
                    missing=NotFound("Notification preference not found"))
        row.delete()
        return Response(s.StatusSerializer({"status": "deleted"}).data)


class HistoryView(AccountsView):
    requires = {"get": "notifications:read"}

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="Default 50, at most 1000"),
                               OpenApiParameter("offset", int),
                               OpenApiParameter("status", str, enum=NotificationStatus.values),
                               OpenApiParameter("event_type", str, enum=EventType.values)],
                   responses={200: s.NotificationHistorySerializer}, tags=TAGS,
                   summary="Emails sent (mine; everyone's for the notifications admin), newest first")
    def get(self, request):
        status = request.query_params.get("status", "")
        if status and status not in NotificationStatus.values:
            raise InvalidInput(f"Invalid parameter: status must be one of {', '.join(NotificationStatus.values)}")
        event_type = request.query_params.get("event_type", "")
        if event_type and event_type not in EventType.values:
            raise InvalidInput("Invalid parameter: event_type is not a known event type")
        everyone = permissions.has_permission(request.user, "notifications:admin")
        rows, meta = page_slice(request, selectors.notification_history(request.user, everyone=everyone, status=status,
                                                                  event_type=event_type), default_limit=50)
        return Response(s.NotificationHistorySerializer({"items": rows, **meta}).data)


class TestEmailView(AccountsView):
    requires = {"post": "notifications:admin"}

    @extend_schema(request=s.TestEmailSerializer, responses={202: s.TestEmailAnswerSerializer, **errors(503)},
                   tags=TAGS, summary="Queue a test email (admin); the worker sends it, the history shows the outcome")
    def post(self, request):
        data = validated(s.TestEmailSerializer, request.data)
        row = services.test_email(actor=request.user, recipient=data["recipient"])
        return Response(s.TestEmailAnswerSerializer({
            "status": "queued", "id": row.pk,
            "message": f"Test email to {row.recipient} queued; GET /notifications/history shows when it is sent"}).data,
            status=202)


class StatsView(AccountsView, tags=TAGS, answer=s.NotificationStatsSerializer, read=selectors.notification_stats,
                summary="What was sent, failed and waits; preferences and users (admin)"):
    requires = {"get": "notifications:admin"}
