"""Replication in the console: jobs (cancel, retry), replica volumes, exports, change ids; syncs from the VM list."""
from django.contrib import admin

from apps.core.admin import JobAdminMixin, PlatformRecordAdmin, add_action, each_action, job_detail_fields
from apps.core.exceptions import ApplicationError
from apps.inventory.admin import VMContextAdmin
from apps.inventory.models import VMContext

from . import services
from .models import ChangeIdRecord, ReplicationJob, ReplicaVolume, VMExportMapping


@admin.register(ReplicationJob)
class ReplicationJobAdmin(JobAdminMixin, admin.ModelAdmin):
    job_kind = "replication"
    list_display = ("job_id", "vm_context", "replication_type", "status", "progress_percent", "current_operation",
                    "throughput_mbps", "bytes_transferred", "started_at", "completed_at")
    list_filter = ("status", "replication_type", "created_at")
    search_fields = ("job_id", "vm_context__vm_name", "error_message")
    readonly_fields = job_detail_fields(ReplicationJob)
    actions = ["cancel_jobs", "retry_jobs"]

    cancel_jobs = each_action("Cancel selected jobs", services.replication_cancel, "Cancel requested for")
    retry_jobs = each_action("Retry selected failed jobs (resumes the copy)", services.replication_retry,
                             "Retry queued for")


@admin.register(ReplicaVolume)
class ReplicaVolumeAdmin(PlatformRecordAdmin):
    list_display = ("volume_name", "vm_context", "disk_id", "volume_id", "size_bytes", "status", "device_path")
    list_filter = ("status",)
    search_fields = ("volume_name", "volume_id", "vm_context__vm_name")


@admin.register(VMExportMapping)
class VMExportMappingAdmin(PlatformRecordAdmin):
    list_display = ("export_name", "vm_name", "disk_unit_number", "device_path", "port", "pid", "status")
    list_filter = ("status",)
    search_fields = ("export_name", "vm_name", "vm_id")


@admin.register(ChangeIdRecord)
class ChangeIdRecordAdmin(PlatformRecordAdmin):
    list_display = ("vm_context", "disk_id", "change_id", "job", "created_at")
    search_fields = ("vm_context__vm_name", "disk_id", "change_id")
    list_filter = ("created_at",)


@admin.action(description="Start an incremental sync of the selected VMs")
def start_incremental_sync(modeladmin, request, queryset):
    started, refused = [], []
    for context in queryset:
        try:
            started.append(services.replication_start(vm_context=context, replication_type="incremental",
                                                     requested_by=request.user.username).job_id)
        except ApplicationError as exc:
            refused.append(f"{context.vm_name}: {exc.message}")
    if started:
        modeladmin.message_user(request, f"Started {', '.join(started)}")
    if refused:
        modeladmin.message_user(request, "Not started: " + "; ".join(refused), level="warning")


# Starting a sync belongs to replication, so replication adds the action to the inventory's VM list.
add_action(VMContext, VMContextAdmin, start_incremental_sync)
