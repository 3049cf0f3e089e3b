"""The console's read of policies, runs and restores (changes go through the API's services)."""
from django.contrib import admin

from .models import RestoreJob, SnapshotPolicy, SnapshotRun


@admin.register(SnapshotPolicy)
class SnapshotPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "interval_minutes", "retention_count", "enabled", "last_run_at")


@admin.register(SnapshotRun)
class SnapshotRunAdmin(admin.ModelAdmin):
    list_display = ("id", "trigger", "status", "started_at", "snapshots_created", "snapshots_deleted", "failed")
    list_filter = ("status", "trigger")


@admin.register(RestoreJob)
class RestoreJobAdmin(admin.ModelAdmin):
    list_display = ("job_id", "mode", "vm_name", "status", "progress_pct", "created_at")
    list_filter = ("status", "mode")
