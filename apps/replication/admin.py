from django.contrib import admin

from apps.core.admin import JobAdminMixin

from .models import ChangeIdRecord, ReplicationJob, ReplicaVolume, VMExportMapping


@admin.register(ReplicationJob)
class ReplicationJobAdmin(JobAdminMixin, admin.ModelAdmin):
    job_kind = "replication"
    list_display = ("job_id", "vm_context", "replication_type", "status", "progress_percent", "current_operation",
                    "throughput_mbps", "bytes_transferred", "started_at", "completed_at")
    list_filter = ("status", "replication_type", "created_at")
    search_fields = ("job_id", "vm_context__vm_name", "error_message")
    readonly_fields = [f.name for f in ReplicationJob._meta.fields] + ["events"]
    actions = ["cancel_jobs", "retry_jobs"]

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        from .services import replication_cancel

        self.run_for_each(request, queryset, replication_cancel, "Cancel requested for")

    @admin.action(description="Retry selected failed jobs (resumes the copy)")
    def retry_jobs(self, request, queryset):
        from .services import replication_retry

        self.run_for_each(request, queryset, replication_retry, "Retry queued for")


@admin.register(ReplicaVolume)
class ReplicaVolumeAdmin(admin.ModelAdmin):
    list_display = ("volume_name", "vm_context", "disk_id", "volume_id", "size_bytes", "status", "device_path")
    list_filter = ("status",)
    search_fields = ("volume_name", "volume_id", "vm_context__vm_name")


@admin.register(VMExportMapping)
class VMExportMappingAdmin(admin.ModelAdmin):
    list_display = ("export_name", "vm_name", "disk_unit_number", "device_path", "port", "pid", "status")
    list_filter = ("status",)
    search_fields = ("export_name", "vm_name", "vm_id")


@admin.register(ChangeIdRecord)
class ChangeIdRecordAdmin(admin.ModelAdmin):
    list_display = ("vm_context", "disk_id", "change_id", "job", "created_at")
    search_fields = ("vm_context__vm_name", "disk_id", "change_id")
    list_filter = ("created_at",)
