"""Seed 004's portal paths for people and the portal's settings; they live at the root (config/urls.py)."""
from django.urls import path

from . import branding, notifications, views

urlpatterns = [
    path("users", views.UserListView.as_view(), name="portal-users"),
    path("users/<str:user_id>", views.UserDetailView.as_view(), name="portal-user"),
    path("roles", views.RoleListView.as_view(), name="portal-roles"),
    path("roles/<str:role_id>", views.RoleDetailView.as_view(), name="portal-role"),
    path("role-assignments", views.RoleAssignmentListView.as_view(), name="portal-role-assignments"),
    path("user-activity-summary", views.UserActivitySummaryView.as_view(), name="portal-user-activity"),
    path("admin/user-access-log", views.UserAccessLogView.as_view(), name="portal-user-access-log"),
    path("notifications/smtp-status", notifications.SmtpStatusView.as_view(), name="portal-smtp-status"),
    path("notifications/smtp-settings", notifications.SmtpSettingsView.as_view(), name="portal-smtp-settings"),
    path("notifications/preferences", notifications.PreferenceListView.as_view(), name="portal-notification-prefs"),
    path("notifications/preferences/<str:pref_id>", notifications.PreferenceDetailView.as_view(),
         name="portal-notification-pref"),
    path("notifications/history", notifications.HistoryView.as_view(), name="portal-notification-history"),
    path("notifications/test-email", notifications.TestEmailView.as_view(), name="portal-test-email"),
    path("notifications/admin/stats", notifications.StatsView.as_view(), name="portal-notification-stats"),
    path("settings/branding", branding.BrandingView.as_view(), name="portal-branding"),
    path("settings/branding/logo", branding.LogoUploadView.as_view(), name="portal-branding-logo-upload"),
    path("settings/branding/logo/<str:name>", branding.LogoView.as_view(), name="portal-branding-logo"),
    path("user-preferences", branding.UserPreferencesView.as_view(), name="portal-user-preferences"),
]
