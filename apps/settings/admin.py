from django.contrib import admin

from apps.core.forms import SecretPreservingForm

from .models import CloudResource, OsseaConfig, VMwareCredential


class OsseaConfigForm(SecretPreservingForm):
    secret_fields = ("secret_key",)

    class Meta:
        model = OsseaConfig
        fields = "__all__"


class VMwareCredentialForm(SecretPreservingForm):
    secret_fields = ("password",)

    class Meta:
        model = VMwareCredential
        fields = "__all__"


@admin.register(OsseaConfig)
class OsseaConfigAdmin(admin.ModelAdmin):
    form = OsseaConfigForm
    list_display = ("name", "api_url", "zone", "domain", "oma_vm_id", "is_active", "updated_at")
    list_filter = ("is_active", "zone")
    search_fields = ("name", "api_url", "zone", "oma_vm_id")
    actions = ["test_connection"]

    @admin.action(description="Test the connection to CloudStack")
    def test_connection(self, request, queryset):
        from apps.core.exceptions import ApplicationError

        from .cloudstack_service import connection_details

        for config in queryset:
            try:
                details = connection_details(api_url=config.api_url, api_key=config.api_key,
                                             secret_key=config.secret_key, zone=config.zone)
                self.message_user(request, f"{config.name}: reachable, {details['zones_found']} zone(s), "
                                           f"zone verified: {details['zone_verified']}")
            except ApplicationError as exc:
                self.message_user(request, f"{config.name}: {exc.message}", level="error")


@admin.register(VMwareCredential)
class VMwareCredentialAdmin(admin.ModelAdmin):
    form = VMwareCredentialForm
    list_display = ("name", "vcenter_host", "username", "datacenter", "is_default", "last_used_at", "updated_at")
    list_filter = ("is_default", "datacenter")
    search_fields = ("name", "vcenter_host", "username", "datacenter")
    actions = ["discover_and_add"]

    @admin.action(description="Discover the vCenter's VMs through the agent and add them to the inventory")
    def discover_and_add(self, request, queryset):
        from apps.core.exceptions import ApplicationError
        from apps.inventory import services as inventory

        for credential in queryset:
            try:
                vms = inventory.discover(credential=credential).get("vms", [])
                added = inventory.add_vms(credential=credential, vms=vms)
                self.message_user(request, f"{credential.name}: {len(vms)} VM(s) discovered, "
                                           f"{sum(c for _, c in added)} added to the inventory")
            except ApplicationError as exc:
                self.message_user(request, f"{credential.name}: {exc.message}", level="error")


@admin.register(CloudResource)
class CloudResourceAdmin(admin.ModelAdmin):
    list_display = ("kind", "resource_id", "name", "owner", "parent_id", "state", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("resource_id", "name", "owner")
