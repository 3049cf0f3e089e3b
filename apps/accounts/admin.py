"""Departments, navigation and the email history in the console, for admins only (the console's role backend
opens this app to nobody else). SMTP settings and branding are set through the API (docs/accounts.md), so the SMTP
password never passes through a form."""
from django.contrib import admin

from .models import Department, NavGroup, NavItem, Notification, UserAccessLog


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "sort_order", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)
    filter_horizontal = ("nav_groups", "nav_items")


class NavItemInline(admin.TabularInline):
    model = NavItem
    extra = 0
    fields = ("key", "label", "route", "resource", "sort_order", "is_active")


@admin.register(NavGroup)
class NavGroupAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "sort_order", "is_active")
    inlines = [NavItemInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened: read, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "recipient", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "event_type")
    search_fields = ("recipient", "subject", "username")


@admin.register(UserAccessLog)
class UserAccessLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "username", "action", "resource", "client_ip")
    search_fields = ("username", "action", "resource")
