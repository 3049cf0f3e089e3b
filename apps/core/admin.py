"""Tokens in the console, and the job admin's shared parts (events, per-job actions) the apps' job admins use."""
from django.contrib import admin
from django.utils.html import format_html_join

from .exceptions import ApplicationError
from .forms import SecretPreservingForm
from .models import ApiToken, JobEvent, VMJob


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "kind", "appliance_id", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("kind", "revoked_at", "expires_at")
    search_fields = ("prefix", "user__username", "appliance_id")
    # The hash is useless to an operator and the raw token is never stored.
    exclude = ("key_hash",)
    readonly_fields = ("prefix", "user", "kind", "appliance_id", "expires_at", "last_used_at", "client_ip")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "job_kind", "job_id", "step", "level", "message")
    list_filter = ("job_kind", "level", "step")
    search_fields = ("job_id", "message")


def job_detail_fields(model) -> list[str]:
    """A job's console detail, read only: the fields of its own kind first (id, VM, type, status, progress...), then
    what every job keeps (``VMJob``'s: when it ran, its slot, who asked, the error), then its events."""
    shared = {field.name for field in VMJob._meta.local_fields}
    names = [field.name for field in model._meta.fields]
    return [n for n in names if n not in shared] + [n for n in names if n in shared] + ["events"]


class JobAdminMixin:
    """Shared console behaviour for long-running jobs: an events panel and per-job actions with clear messages."""

    job_kind = ""

    def has_add_permission(self, request):
        return False

    @admin.display(description="Events")
    def events(self, obj):
        rows = JobEvent.objects.filter(job_kind=self.job_kind, job_id=obj.job_id).order_by("id")
        return format_html_join("\n", "<div>{} [{}] {}: {}</div>",
                                ((e.created_at.strftime("%H:%M:%S"), e.level, e.step, e.message) for e in rows))

    def run_for_each(self, request, queryset, func, verb):
        for job in queryset:
            try:
                func(job=job, requested_by=request.user.username)
                self.message_user(request, f"{verb} {job.job_id}")
            except ApplicationError as exc:
                self.message_user(request, f"{job.job_id}: {exc.message}", level="warning")


def each_action(description: str, func, verb: str):
    """A console action that runs `func` for each selected row through the admin's `run_for_each`, which says how
    each row went (JobAdminMixin's for jobs)."""
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        modeladmin.run_for_each(request, queryset, func, verb)
    return action


class SecretPreservingAdmin(admin.ModelAdmin):
    """A model with encrypted fields in the console: they are write-only (blank keeps the stored secret)."""

    form = SecretPreservingForm


class PlatformRecordAdmin(admin.ModelAdmin):
    """What the platform records for itself (replica volumes, exports, change ids): shown, never written by hand."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


def add_action(model, registered_admin: type[admin.ModelAdmin], action) -> None:
    """A higher app adds its action to a lower app's admin page (docs/architecture.md, "Dependencies"): the page is
    registered again as a subclass of the lower app's admin, with the action added."""
    admin.site.unregister(model)
    admin.site.register(model, type(registered_admin.__name__, (registered_admin,),
                                     {"actions": [*registered_admin.actions, action]}))
