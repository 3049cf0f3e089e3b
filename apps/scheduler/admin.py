"""Operations console: schedules and groups are edited through the services (so beat stays in step);
executions are read-only, with the replication job of every VM."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.core.exceptions import ApplicationError
from apps.core.models import JobEvent

from . import services, timing
from .choices import ExecutionTrigger
from .jobs import JOB_KIND
from .models import (
    ExecutionVM,
    MachineGroup,
    ScheduleExecution,
    SyncSchedule,
    VMGroupMembership,
)
from .services.schedules import SCHEDULE_FIELDS


def _job_link(job):
    if job is None:
        return "-"
    url = reverse("admin:replication_replicationjob_change", args=[job.pk])
    return format_html('<a href="{}">{}</a> ({})', url, job.job_id, job.status)


class ServiceSaveMixin:
    """Saves and deletes go through the app's services so their rules (and 409s) hold in the console too; bulk delete
    is off for that reason. A subclass names the services, the keyword they take the row by (`service_arg`) and the
    data a save hands over (`service_data(obj, form)`)."""

    service_arg = ""
    service_create = service_update = service_delete = None

    def save_model(self, request, obj, form, change):
        data = self.service_data(obj, form)
        if change:
            saved = self.service_update(**{self.service_arg: obj}, data=data)
        else:
            saved = self.service_create(data=data, created_by=request.user.username)
        obj.pk = obj.id = saved.pk

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        if request.method != "POST":
            return super().delete_view(request, object_id, extra_context)
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_delete_permission(request, obj):
            raise PermissionDenied
        base = f"admin:{self.opts.app_label}_{self.opts.model_name}"
        try:
            self.service_delete(**{self.service_arg: obj})
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(reverse(f"{base}_change", args=[obj.pk]))
        self.message_user(request, f"Deleted {self.opts.verbose_name} '{obj}'.")
        return redirect(reverse(f"{base}_changelist"))


class SyncScheduleForm(forms.ModelForm):
    class Meta:
        model = SyncSchedule
        fields = list(SCHEDULE_FIELDS)


@admin.register(SyncSchedule)
class SyncScheduleAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = SyncScheduleForm
    list_display = ("name", "timing", "window", "max_concurrent_jobs", "running_vm_policy", "max_retries", "enabled",
                    "group_count", "next_run", "last_triggered_at")
    list_filter = ("enabled", "schedule_type", "running_vm_policy")
    search_fields = ("name", "description")
    readonly_fields = ("schedule_type", "timing", "next_run", "beat_entry", "last_triggered_at", "created_by",
                       "created_at", "updated_at")
    actions = ["enable_schedules", "disable_schedules", "run_now"]

    service_arg = "schedule"
    service_create = staticmethod(services.schedule_create)
    service_update = staticmethod(services.schedule_update)
    service_delete = staticmethod(services.schedule_delete)

    def get_queryset(self, request):
        return (super().get_queryset(request).select_related("periodic_task", "periodic_task__crontab",
                                                             "periodic_task__interval")
                .annotate(group_count=Count("groups")))

    @admin.display(description="Timing")
    def timing(self, obj):
        return obj.timing_description if obj.pk else "-"

    @admin.display(description="Window")
    def window(self, obj):
        return f"{obj.window_start:%H:%M}-{obj.window_end:%H:%M}" if obj.window_start else "any time"

    @admin.display(description="Groups", ordering="group_count")
    def group_count(self, obj):
        return getattr(obj, "group_count", None)

    @admin.display(description="Next run")
    def next_run(self, obj):
        return timing.next_run_at(obj.periodic_task, timezone.now()) if obj.pk else "-"

    @admin.display(description="Beat entry")
    def beat_entry(self, obj):
        task = obj.periodic_task
        if task is None:
            return "-"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html('<a href="{}">{}</a> (kept in step by the scheduler; edit the schedule)', url, task.name)

    def service_data(self, obj, form):
        return {name: form.cleaned_data[name] for name in SCHEDULE_FIELDS if name in form.cleaned_data}

    def _each(self, request, queryset, func, verb):
        for schedule in queryset:
            try:
                result = func(schedule)
                self.message_user(request, f"{verb} '{schedule.name}'" + (f": {result}" if result else ""))
            except ApplicationError as exc:
                self.message_user(request, f"{schedule.name}: {exc.message}", messages.WARNING)

    @admin.action(description="Enable selected schedules")
    def enable_schedules(self, request, queryset):
        self._each(request, queryset, lambda s: services.schedule_set_enabled(
            schedule=s, enabled=True, changed_by=request.user.username) and None, "Enabled")

    @admin.action(description="Disable selected schedules")
    def disable_schedules(self, request, queryset):
        self._each(request, queryset, lambda s: services.schedule_set_enabled(
            schedule=s, enabled=False, changed_by=request.user.username) and None, "Disabled")

    @admin.action(description="Run selected schedules now")
    def run_now(self, request, queryset):
        def run(schedule):
            execution = services.execution_start(schedule=schedule, trigger=ExecutionTrigger.MANUAL,
                                                 triggered_by=request.user.username)
            return f"{execution.execution_id} {execution.status}"

        self._each(request, queryset, run, "Triggered")


class MembershipInline(admin.TabularInline):
    model = VMGroupMembership
    extra = 0
    raw_id_fields = ("vm_context",)
    fields = ("vm_context", "assigned_by", "created_at")
    readonly_fields = ("assigned_by", "created_at")
    verbose_name = "VM"
    verbose_name_plural = "VMs (a VM is in at most one group)"


@admin.register(MachineGroup)
class MachineGroupAdmin(ServiceSaveMixin, admin.ModelAdmin):
    fields = ("name", "description", "schedule", "priority", "created_by")
    readonly_fields = ("created_by",)
    list_display = ("name", "schedule", "priority", "vm_count", "updated_at")
    list_filter = ("schedule",)
    search_fields = ("name", "description")
    inlines = [MembershipInline]

    service_arg = "group"
    service_create = staticmethod(services.group_create)
    service_update = staticmethod(services.group_update)
    service_delete = staticmethod(services.group_delete)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("schedule").annotate(vm_count=Count("memberships"))

    @admin.display(description="VMs", ordering="vm_count")
    def vm_count(self, obj):
        return getattr(obj, "vm_count", None)

    def service_data(self, obj, form):
        return {"name": obj.name, "description": obj.description, "priority": obj.priority,
                "schedule_id": obj.schedule_id}

    def save_formset(self, request, form, formset, change):
        if formset.model is not VMGroupMembership:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        group = form.instance
        for membership in formset.deleted_objects:
            services.group_unassign_vm(group=group, vm_context=membership.vm_context)
        for membership, _fields in formset.changed_objects:
            # A row whose VM was swapped: the old VM leaves, the new one joins.
            previous = VMGroupMembership.objects.get(pk=membership.pk).vm_context
            services.group_unassign_vm(group=group, vm_context=previous)
            services.group_assign_vms(group=group, vm_contexts=[membership.vm_context],
                                      assigned_by=request.user.username)
        added = [membership.vm_context for membership in formset.new_objects]
        if added:
            services.group_assign_vms(group=group, vm_contexts=added, assigned_by=request.user.username)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ExecutionVMInline(admin.TabularInline):
    model = ExecutionVM
    fields = ("position", "vm_name", "group_name", "status", "reason", "attempts", "job", "bytes_transferred",
              "started_at", "finished_at")
    readonly_fields = fields
    ordering = ("position",)
    extra = 0
    can_delete = False
    classes = ["collapse"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("replication_job")

    @admin.display(description="Replication job")
    def job(self, obj):
        return _job_link(obj.replication_job)


@admin.register(ScheduleExecution)
class ScheduleExecutionAdmin(ReadOnlyAdmin):
    list_display = ("execution_id", "schedule_name", "status", "trigger", "started_at", "completed_at",
                    "vms_considered", "vms_started", "vms_running", "vms_queued", "vms_succeeded", "vms_failed",
                    "vms_skipped", "bytes_transferred")
    list_filter = ("status", "trigger", "schedule")
    search_fields = ("execution_id", "schedule_name", "triggered_by")
    readonly_fields = ("vm_rows", "events")
    inlines = [ExecutionVMInline]
    actions = ["cancel_executions"]

    @admin.display(description="VMs")
    def vm_rows(self, obj):
        url = reverse("admin:scheduler_executionvm_changelist") + f"?execution__id__exact={obj.pk}"
        return format_html('<a href="{}">{} VM row(s) with their jobs</a>', url, obj.vms_considered)

    @admin.display(description="Events")
    def events(self, obj):
        rows = JobEvent.objects.filter(job_kind=JOB_KIND, job_id=obj.execution_id).order_by("id")
        return format_html_join("\n", "<div>{} [{}] {}: {}</div>",
                                ((e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.level, e.step, e.message)
                                 for e in rows))

    @admin.action(description="Cancel selected executions (running syncs finish)")
    def cancel_executions(self, request, queryset):
        for execution in queryset:
            try:
                services.execution_cancel(execution=execution, cancelled_by=request.user.username)
                self.message_user(request, f"Cancelled {execution.execution_id}")
            except ApplicationError as exc:
                self.message_user(request, f"{execution.execution_id}: {exc.message}", messages.WARNING)


@admin.register(ExecutionVM)
class ExecutionVMAdmin(ReadOnlyAdmin):
    list_display = ("execution", "position", "vm_name", "group_name", "status", "reason", "attempts", "job",
                    "bytes_transferred", "started_at", "finished_at")
    list_filter = ("status", "execution__schedule")
    search_fields = ("vm_name", "execution__execution_id", "replication_job__job_id", "reason")
    list_select_related = ("execution", "replication_job")

    @admin.display(description="Replication job")
    def job(self, obj):
        return _job_link(obj.replication_job)
