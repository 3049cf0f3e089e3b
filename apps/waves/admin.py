"""Operations console: waves with every VM's outcome and hook output; start now, cancel and roll back as actions.

Waves are created through the API (their VMs, order and hooks are checked by the services); the console reads them
and acts on them through the same services.
"""
from __future__ import annotations

from django.contrib import admin, messages

from apps.core.admin import each_action
from apps.core.exceptions import ApplicationError

from . import services
from .models import Wave, WaveHook, WaveVM


class WaveVMInline(admin.TabularInline):
    model = WaveVM
    extra = 0
    can_delete = False
    fields = ("position", "vm_name", "depends_on", "test_first", "power_off_source", "keep_macs", "status", "reason",
              "test_job", "failover_job", "hook_log", "started_at", "finished_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


class WaveHookInline(admin.TabularInline):
    model = WaveHook
    extra = 0
    can_delete = False
    fields = ("name", "stage", "kind", "url", "command", "timeout_seconds", "retries")  # never the secret
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Wave)
class WaveAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "status", "window_start", "deadline", "max_concurrent", "summary")
    list_filter = ("status", "kind")
    search_fields = ("name", "description")
    inlines = [WaveVMInline, WaveHookInline]
    readonly_fields = ("name", "description", "kind", "status", "group", "rehearsal_of", "window_start", "deadline",
                       "max_concurrent", "test_duration", "created_by", "started_at", "completed_at", "summary")
    exclude = ("cancel_requested",)
    actions = ["start_now", "cancel", "rollback"]

    def has_add_permission(self, request):
        return False

    def run_for_each(self, request, queryset, service, done: str) -> None:
        for wave in queryset:
            try:
                service(wave=wave, requested_by=request.user.username)
            except ApplicationError as exc:
                self.message_user(request, f"{wave.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{wave.name}: {done}")

    start_now = each_action("Start the selected waves now", services.wave_start_now, "starts now")
    cancel = each_action("Cancel the selected waves (running failovers go on)", services.wave_cancel, "cancelled")
    rollback = each_action("Roll back the selected waves (what is still reversible, last first)",
                           services.wave_rollback, "rolling back")
