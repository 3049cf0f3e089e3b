"""CloudStack configurations, VMware credentials and recorded CloudStack resources in the console (secrets kept)."""
from django.contrib import admin

from apps.core.admin import SecretPreservingAdmin
from apps.core.exceptions import ApplicationError

from . import volumes
from .cloudstack_service import connection_details
from .models import CloudResource, GuestOsMapping, OsseaConfig, StorageMapping, VMwareCredential


@admin.register(OsseaConfig)
class OsseaConfigAdmin(SecretPreservingAdmin):
    list_display = ("name", "api_url", "zone", "domain", "oma_vm_id", "is_active", "updated_at")
    list_filter = ("is_active", "zone")
    search_fields = ("name", "api_url", "zone", "oma_vm_id")
    actions = ["test_connection"]

    @admin.action(description="Test the connection to CloudStack")
    def test_connection(self, request, queryset):
        for config in queryset:
            try:
                details = connection_details(api_url=config.api_url, api_key=config.api_key,
                                             secret_key=config.secret_key, zone=config.zone)
                self.message_user(request, f"{config.name}: reachable, {details['zones_found']} zone(s), "
                                           f"zone verified: {details['zone_verified']}")
            except ApplicationError as exc:
                self.message_user(request, f"{config.name}: {exc.message}", level="error")


@admin.register(VMwareCredential)
class VMwareCredentialAdmin(SecretPreservingAdmin):
    list_display = ("name", "vcenter_host", "username", "datacenter", "is_default", "last_used_at", "updated_at")
    list_filter = ("is_default", "datacenter")
    search_fields = ("name", "vcenter_host", "username", "datacenter")


@admin.register(CloudResource)
class CloudResourceAdmin(admin.ModelAdmin):
    """Filter on state "Left behind" for what the orphan sweep could not remove, and why."""

    list_display = ("kind", "resource_id", "name", "owner", "parent_id", "state", "attempts", "last_error",
                    "checked_at", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("resource_id", "name", "owner", "last_error")
    readonly_fields = ("cloudstack_job_id", "checked_at", "attempts", "last_error")
    actions = ["sweep_now"]

    @admin.action(description="Run the orphan sweep now")
    def sweep_now(self, request, queryset):
        counts = volumes.sweep()
        self.message_user(request, f"Orphan sweep: {counts['removed']} removed, {counts['gone']} already gone, "
                                   f"{counts['left']} left (see their last error)",
                          level="warning" if counts["left"] else "info")


@admin.register(GuestOsMapping)
class GuestOsMappingAdmin(admin.ModelAdmin):
    list_display = ("vmware_guest_id", "os_type_description", "os_type_id", "updated_at")
    search_fields = ("vmware_guest_id", "os_type_description")


@admin.register(StorageMapping)
class StorageMappingAdmin(admin.ModelAdmin):
    list_display = ("ossea_config", "datastore", "vm_id", "disk_id", "disk_offering_id", "storage_id", "updated_at")
    list_filter = ("ossea_config",)
    search_fields = ("datastore", "vm_id", "disk_id", "disk_offering_id", "storage_id")
