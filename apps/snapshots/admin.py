"""The console's read of policies, runs and restores; changes go through the API's services (rules, CloudStack)."""
from django.contrib import admin

from .models import RestoreJob, SnapshotPolicy, SnapshotRun


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SnapshotPolicy)
class SnapshotPolicyAdmin(ReadOnly):
    list_display = ("name", "interval_minutes", "retention_count", "enabled", "last_run_at")


@admin.register(SnapshotRun)
class SnapshotRunAdmin(ReadOnly):
    list_display = ("id", "trigger", "status", "started_at", "snapshots_created", "snapshots_deleted", "failed",
                    "quota_blocked")
    list_filter = ("status", "trigger")


@admin.register(RestoreJob)
class RestoreJobAdmin(ReadOnly):
    list_display = ("job_id", "mode", "vm_name", "status", "progress_pct", "created_at")
    list_filter = ("status", "mode")
