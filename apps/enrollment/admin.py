from django.contrib import admin, messages

from apps.core.exceptions import ApplicationError
from apps.core.selectors import client_ip

from . import services
from .choices import ApplianceStatus, EnrollmentStatus
from .models import Appliance, Enrollment, EnrollmentAuditEvent, PairingCode


def _actor(request) -> services.Actor:
    return services.Actor(user=request.user, ip=client_ip(request))


@admin.register(Appliance)
class ApplianceAdmin(admin.ModelAdmin):
    list_display = ("appliance_id", "name", "status", "version", "last_seen_at", "tunnel_last_seen_at",
                    "tunnel_reverse_port", "tunnel_nbd_ports", "created_at")
    list_filter = ("status",)
    search_fields = ("appliance_id", "name", "ssh_key_fingerprint")
    exclude = ("token_hash",)
    readonly_fields = ("user", "last_seen_at", "last_seen_ip", "ssh_public_key", "ssh_key_fingerprint",
                       "tunnel_reverse_port", "tunnel_nbd_ports", "tunnel_last_seen_at", "approved_at", "approved_by",
                       "revoked_at", "revoked_by")
    actions = ["revoke"]

    @admin.action(description="Revoke selected agents (credentials, tunnel key, live tunnel sessions)")
    def revoke(self, request, queryset):
        for appliance in queryset.exclude(status=ApplianceStatus.REVOKED):
            try:
                result = services.appliance_revoke(appliance=appliance, actor=_actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"{appliance.appliance_id}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{appliance.appliance_id}: revoked, {result.sessions_ended} tunnel "
                                       f"session(s) ended. {' '.join(result.warnings)}")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("enrollment_id", "name", "status", "version", "ssh_key_fingerprint", "client_ip", "created_at",
                    "verified_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("enrollment_id", "name", "ssh_key_fingerprint")
    exclude = ("challenge", "poll_token_hash")
    readonly_fields = [f.name for f in Enrollment._meta.fields if f.name not in ("challenge", "poll_token_hash")]
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve selected enrollments")
    def approve(self, request, queryset):
        for enrollment in queryset.filter(status=EnrollmentStatus.PENDING):
            try:
                appliance = services.enrollment_approve(enrollment_id=enrollment.enrollment_id, actor=_actor(request))
            except ApplicationError as exc:
                self.message_user(request, f"{enrollment.enrollment_id}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{enrollment.enrollment_id}: approved as {appliance.appliance_id}")

    @admin.action(description="Reject selected enrollments")
    def reject(self, request, queryset):
        for enrollment in queryset:
            try:
                services.enrollment_reject(enrollment_id=enrollment.enrollment_id, actor=_actor(request),
                                           reason="rejected in the console")
            except ApplicationError as exc:
                self.message_user(request, f"{enrollment.enrollment_id}: {exc.message}", messages.ERROR)


@admin.register(PairingCode)
class PairingCodeAdmin(admin.ModelAdmin):
    """Read-only: a code is shown once, by the API that creates it."""

    list_display = ("id", "label", "state", "created_by", "created_at", "expires_at", "used_at")
    exclude = ("code_hash",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EnrollmentAuditEvent)
class EnrollmentAuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "success", "actor_name", "client_ip", "enrollment_id", "appliance_id",
                    "message")
    list_filter = ("action", "success")
    search_fields = ("enrollment_id", "appliance_id", "actor_name", "key_fingerprint", "message")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
