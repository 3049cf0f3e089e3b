from django.contrib import admin

from .models import VMContext, VMDisk, VMNic


class VMDiskInline(admin.TabularInline):
    model = VMDisk
    extra = 0
    fields = ("disk_id", "label", "unit_number", "capacity_bytes", "datastore", "file_path", "cbt_enabled")
    readonly_fields = fields


class VMNicInline(admin.TabularInline):
    model = VMNic
    extra = 0
    fields = ("label", "network_name", "mac_address", "adapter_type")
    readonly_fields = fields


@admin.register(VMContext)
class VMContextAdmin(admin.ModelAdmin):
    list_display = ("vm_name", "current_status", "power_state", "cpu_count", "memory_mb", "vcenter_host",
                    "datacenter", "successful_jobs", "failed_jobs", "last_sync_at")
    list_filter = ("current_status", "power_state", "vcenter_host", "datacenter")
    search_fields = ("vm_name", "vm_id", "moref", "context_id", "vm_path")
    readonly_fields = ("context_id", "vm_id", "moref", "bios_uuid", "created_at", "updated_at", "last_discovered_at")
    inlines = [VMDiskInline, VMNicInline]
    actions = ["start_incremental_sync"]

    @admin.action(description="Start an incremental sync of the selected VMs")
    def start_incremental_sync(self, request, queryset):
        from apps.core.exceptions import ApplicationError
        from apps.replication.services import replication_start

        started, refused = [], []
        for context in queryset:
            try:
                started.append(replication_start(vm_context=context, replication_type="incremental",
                                                 requested_by=request.user.username).job_id)
            except ApplicationError as exc:
                refused.append(f"{context.vm_name}: {exc.message}")
        if started:
            self.message_user(request, f"Started {', '.join(started)}")
        if refused:
            self.message_user(request, "Not started: " + "; ".join(refused), level="warning")
