from django.contrib import admin

from apps.core.admin import JobAdminMixin, each_action, job_detail_fields

from .models import FailoverJob, FailoverVolume, NetworkMapping
from .services import rollback, test_end


class FailoverVolumeInline(admin.TabularInline):
    model = FailoverVolume
    extra = 0
    can_delete = False
    fields = ("disk_id", "volume_id", "is_root", "place", "snapshot_id", "snapshot_state", "export_stopped",
              "vm_device_id")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FailoverJob)
class FailoverJobAdmin(JobAdminMixin, admin.ModelAdmin):
    job_kind = "failover"
    list_display = ("job_id", "vm_context", "job_type", "status", "progress", "current_step", "destination_vm_id",
                    "needs_cleanup", "created_at", "completed_at")
    list_filter = ("job_type", "status", "needs_cleanup", "created_at")
    search_fields = ("job_id", "vm_context__vm_name", "destination_vm_id", "error_message")
    readonly_fields = job_detail_fields(FailoverJob)
    inlines = [FailoverVolumeInline]
    actions = ["end_tests", "rollback_jobs"]

    end_tests = each_action("End selected test failovers (destroy the test VM, revert, reattach)", test_end,
                            "Cleanup queued for")
    rollback_jobs = each_action("Roll back selected jobs", rollback, "Rollback requested for")


@admin.register(NetworkMapping)
class NetworkMappingAdmin(admin.ModelAdmin):
    list_display = ("vm_context", "source_network_name", "destination_network_name", "destination_network_id",
                    "is_test_network", "updated_at")
    list_filter = ("is_test_network",)
    search_fields = ("vm_context__vm_name", "source_network_name", "destination_network_name",
                     "destination_network_id")
