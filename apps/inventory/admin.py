"""The inventory in the console: VM contexts with their disks and NICs; discovery from the credentials' page."""
from django.contrib import admin

from apps.core.admin import add_action
from apps.core.exceptions import ApplicationError
from apps.settings.admin import VMwareCredentialAdmin
from apps.settings.models import VMwareCredential

from . import services
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
    # What discovery and the jobs record is the platform's: shown, never edited by hand.
    readonly_fields = ("context_id", "vm_id", "moref", "bios_uuid", "vm_path", "vcenter_host", "datacenter",
                       "power_state", "guest_os_id", "guest_os_name", "cpu_count", "memory_mb", "firmware",
                       "current_status", "total_jobs_run", "successful_jobs", "failed_jobs", "last_successful_job_id",
                       "last_sync_at", "last_discovered_at", "snapshots", "held_by_failover", "created_at",
                       "updated_at")
    inlines = [VMDiskInline, VMNicInline]


@admin.action(description="Discover the vCenter's VMs through the agent and add them to the inventory")
def discover_and_add(modeladmin, request, queryset):
    for credential in queryset:
        try:
            vms = services.discover(credential=credential).get("vms", [])
            added = services.add_vms(credential=credential, vms=vms)
            modeladmin.message_user(request, f"{credential.name}: {len(vms)} VM(s) discovered, "
                                             f"{sum(c for _, c in added)} added to the inventory")
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{credential.name}: {exc.message}", level="error")


# Discovery belongs to the inventory, so the inventory adds it to the credentials' page rather than the settings app
# reaching up into the inventory.
add_action(VMwareCredential, VMwareCredentialAdmin, discover_and_add)
