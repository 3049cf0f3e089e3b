"""The console's additions to the VM list: a link to each VM's page and the bulk actions (initial syncs, a machine
group, readiness). The inventory's VM admin is registered again as a subclass with them, as `apps.core.admin.add_action`
does for one action."""
from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from apps.core.exceptions import ApplicationError
from apps.failover import validation
from apps.failover.choices import FailoverType
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.replication import services as replication_services
from apps.replication.models import ReplicationJob, ReplicaVolume
from apps.scheduler import services as scheduler_services
from apps.scheduler.models import MachineGroup

from . import units
from .forms import GroupForm

# Raw numbers in the apps' job lists, shown in human units by the console (the columns' names stay the apps').
HUMAN_COLUMNS = {"progress_percent": "progress_bar", "progress": "progress_bar", "bytes_transferred": "copied",
                 "throughput_mbps": "speed", "size_bytes": "size"}


@admin.action(description="Start an initial (full) sync of the selected VMs")
def start_initial_sync(modeladmin, request, queryset):
    started, refused = [], []
    for context in queryset:
        try:
            started.append(replication_services.replication_start(
                vm_context=context, replication_type="initial", requested_by=request.user.username).job_id)
        except ApplicationError as exc:
            refused.append(f"{context.vm_name}: {exc.message}")
    if started:
        modeladmin.message_user(request, f"Started {', '.join(started)}")
    if refused:
        modeladmin.message_user(request, "Not started: " + "; ".join(refused), level=messages.WARNING)


@admin.action(description="Add the selected VMs to a machine group")
def add_to_group(modeladmin, request, queryset):
    groups = MachineGroup.objects.order_by("name")
    form = GroupForm(request.POST if "apply" in request.POST else None, groups=groups)
    if form.is_bound and form.is_valid():
        group = form.cleaned_data["group"]
        try:
            result = scheduler_services.group_assign_vms(group=group, vm_contexts=list(queryset),
                                                         assigned_by=request.user.username)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"Not added: {exc.message}", level=messages.ERROR)
            return None
        modeladmin.message_user(request, f"{len(result.assigned)} VM(s) added to {group.name}"
                                + (f", {len(result.already_in_group)} already in it" if result.already_in_group else ""))
        return None
    if not groups.exists():
        modeladmin.message_user(request, "There is no machine group yet: add one first.", level=messages.WARNING)
        return None
    return TemplateResponse(request, "console/admin_group.html", {
        **modeladmin.admin_site.each_context(request), "title": "Add VMs to a machine group", "form": form,
        "vms": queryset, "action": "add_to_group", "opts": modeladmin.model._meta})


@admin.action(description="Check the readiness of the selected VMs (live failover)")
def check_readiness(modeladmin, request, queryset):
    rows = []
    for context in queryset:
        result, _ = validation.validate(context, FailoverType.LIVE)
        rows.append({"vm": context, "result": result})
    return TemplateResponse(request, "console/admin_readiness.html", {
        **modeladmin.admin_site.each_context(request), "title": "Readiness for a live failover", "rows": rows,
        "opts": modeladmin.model._meta})


class HumanUnitsMixin:
    @admin.display(description="Progress")
    def progress_bar(self, obj):
        value = getattr(obj, "progress_percent", None)
        value = getattr(obj, "progress", 0) if value is None else value
        return format_html('<progress max="100" value="{}"></progress> {}%', units.percent(value), round(value or 0))

    @admin.display(description="Copied", ordering="bytes_transferred")
    def copied(self, obj):
        return units.human_bytes(obj.bytes_transferred)

    @admin.display(description="Speed", ordering="throughput_mbps")
    def speed(self, obj):
        return units.human_speed(obj.throughput_mbps)

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj):
        return units.human_bytes(obj.size_bytes)


def _job_page_admin(model, url_name: str):
    """The job's console page (progress per disk, events, plan and validation as tables) stands for its admin page."""
    registered = type(admin.site.get_model_admin(model))

    class JobPageAdmin(HumanUnitsMixin, registered):
        list_display = ("console_page", *(HUMAN_COLUMNS.get(name, name) for name in registered.list_display))

        @admin.display(description="Page")
        def console_page(self, obj):
            return format_html('<a href="{}">open</a>', reverse(url_name, args=[obj.job_id]))

        def change_view(self, request, object_id, form_url="", extra_context=None):
            job = self.get_object(request, object_id)
            if job is None:
                return super().change_view(request, object_id, form_url, extra_context)
            return HttpResponseRedirect(reverse(url_name, args=[job.job_id]))

    JobPageAdmin.__name__ = registered.__name__
    admin.site.unregister(model)
    admin.site.register(model, JobPageAdmin)


_job_page_admin(ReplicationJob, "admin:console-replication")
_job_page_admin(FailoverJob, "admin:console-failover")

_Volumes = type(admin.site.get_model_admin(ReplicaVolume))


class ReplicaVolumeHumanAdmin(HumanUnitsMixin, _Volumes):
    list_display = tuple(HUMAN_COLUMNS.get(name, name) for name in _Volumes.list_display)


admin.site.unregister(ReplicaVolume)
admin.site.register(ReplicaVolume, ReplicaVolumeHumanAdmin)

_Registered = type(admin.site.get_model_admin(VMContext))


class ConsoleVMContextAdmin(_Registered):
    actions = [*_Registered.actions, start_initial_sync, add_to_group, check_readiness]
    list_display = ("console_page", *_Registered.list_display)

    @admin.display(description="Page")
    def console_page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("admin:console-vm", args=[obj.pk]))


admin.site.unregister(VMContext)
admin.site.register(VMContext, ConsoleVMContextAdmin)
