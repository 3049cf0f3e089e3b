"""The console's pages. Each is wrapped by the admin site (`site.py`: staff login, CSRF, the admin's look) and
checks the platform's roles (apps/core/permissions.py): a viewer reads, an operator acts, an admin decides on agents.
A request from htmx (the pages' live panels) gets only the panel."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.copilot import services as copilot_services
from apps.copilot.choices import Feedback
from apps.copilot.rbac import PERMISSIONS as copilot_rbac
from apps.core.choices import Role
from apps.core.exceptions import ApplicationError
from apps.core.permissions import user_roles
from apps.core.selectors import client_ip
from apps.enrollment.models import Appliance
from apps.enrollment.selectors import pending_enrollments
from apps.enrollment.services import Actor
from apps.failover import services as failover_services
from apps.failover import validation
from apps.failover.choices import FailoverType
from apps.inventory import selectors as inventory_selectors
from apps.inventory import services as inventory_services
from apps.inventory.models import VMContext
from apps.metering.rbac import PERMISSIONS as metering_rbac
from apps.planner import services as planner_services
from apps.replication.models import ReplicationJob
from apps.runbooks import catalog
from apps.runbooks import services as runbook_services
from apps.runbooks.choices import Decision, ExecutionStatus
from apps.runbooks.rbac import PERMISSIONS as runbook_rbac
from apps.settings.models import VMwareCredential
from apps.snapshots import services as snapshot_services
from apps.snapshots.rbac import PERMISSIONS as snapshot_rbac
from apps.waves import services as wave_services

from . import cloud, cloud_ops, operations, pages, plans, selectors
from .forms import MappingForm


def roles_context(request) -> dict:
    roles = user_roles(request.user)
    return {"can_read": Role.VIEWER in roles, "can_operate": Role.OPERATOR in roles, "is_admin": Role.ADMIN in roles}


def require(request, role: str) -> None:
    if role not in user_roles(request.user):
        raise PermissionDenied("Your role does not allow this")


def require_permission(request, rbac, permission: str) -> None:
    """Seed 004's apps name their permissions (`runbooks:admin`...) on our roles in their rbac.py: the console asks
    the app, as its API does."""
    if not rbac.allowed(request.user, permission):
        raise PermissionDenied(f"Your role does not allow this (it needs {permission})")


def cloud_ops_context(request) -> dict:
    """What the dashboard links and the pages' buttons show: each app's permissions as the user holds them."""
    user = request.user
    return {"can_snapshots": snapshot_rbac.allowed(user, "snapshots:read"),
            "can_run_snapshots": snapshot_rbac.allowed(user, "snapshots:admin"),
            "can_runbooks": runbook_rbac.allowed(user, "runbooks:read"),
            "can_trigger": runbook_rbac.allowed(user, "runbooks:write"),
            "can_approve": runbook_rbac.allowed(user, "runbooks:admin"),
            "can_metering": metering_rbac.allowed(user, "metering:read"),
            "can_copilot": copilot_rbac.allowed(user, "copilot:read")}


def actor(request) -> Actor:
    return Actor(user=request.user, ip=client_ip(request))


def found(obj, what: str):
    """``obj``, or the page's 404 "No such <what>" when it is None."""
    if obj is None:
        raise Http404(f"No such {what}")
    return obj


def fetched(get, key, what: str):
    """What a service's ``get(key)`` answers, or the page's 404 "No such <what>" when it refuses (unknown key)."""
    try:
        return get(key)
    except ApplicationError as exc:
        raise Http404(f"No such {what}") from exc


class ConsolePages:
    """The views, bound to the admin site that wraps them."""

    def __init__(self, site):
        self.site = site

    def render(self, request, template: str, context: dict, *, panel: str = "", title: str = ""):
        context = {**self.site.each_context(request), **roles_context(request), **cloud_ops_context(request),
                   "title": title, **context}
        if panel and request.htmx:
            return TemplateResponse(request, panel, context)
        return TemplateResponse(request, template, context)

    def dashboard_context(self, request) -> dict:
        require(request, Role.VIEWER)
        return {"dashboard": selectors.dashboard(), **roles_context(request), **cloud_ops_context(request)}

    # -- VM page -------------------------------------------------------------------------------------------

    def vm(self, request, pk: int):
        require(request, Role.VIEWER)
        vm = found(VMContext.objects.filter(pk=pk).select_related("ossea_config", "credential").first(), "VM")
        if request.htmx:
            return self.render(request, "console/vm_panel.html", pages.vm_live(vm), panel="console/vm_panel.html")
        context = pages.vm_page(vm)
        if Role.OPERATOR in user_roles(request.user):
            context["networks"], context["networks_error"] = self._cloud_networks(vm)
        return self.render(request, "console/vm.html", context, title=vm.vm_name)

    @staticmethod
    def _cloud_networks(vm) -> tuple[list[dict], str]:
        try:
            return failover_services.cloud_networks(vm), ""
        except ApplicationError as exc:
            return [], exc.message

    def readiness(self, request, pk: int):
        require(request, Role.VIEWER)
        vm = found(VMContext.objects.filter(pk=pk).first(), "VM")
        kind = request.GET.get("type") or FailoverType.LIVE
        if kind not in FailoverType.values:
            kind = FailoverType.LIVE
        result, _ = validation.validate(vm, kind)
        return TemplateResponse(request, "console/readiness.html",
                                {"vm": vm, "result": result, "failover_type": kind, **roles_context(request)})

    def mappings(self, request, pk: int):
        require(request, Role.OPERATOR)
        vm = found(VMContext.objects.filter(pk=pk).first(), "VM")
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:console-vm", args=[pk]) + "#mappings")
        form = MappingForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Mapping not saved: " + "; ".join(
                f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        else:
            data = form.cleaned_data
            try:
                saved = failover_services.mappings_put(vm_context=vm, items=[data])[0]
                kind = "test" if saved.is_test_network else "live"
                where = saved.destination_network_name or saved.destination_network_id
                messages.success(request, f"{saved.source_network_name} now goes to {where} ({kind} failovers)")
            except ApplicationError as exc:
                messages.error(request, f"Mapping not saved: {exc.message}")
        return HttpResponseRedirect(reverse("admin:console-vm", args=[pk]) + "#mappings")

    # -- job pages -----------------------------------------------------------------------------------------

    def replication(self, request, job_id: str):
        require(request, Role.VIEWER)
        job = found(ReplicationJob.objects.select_related("vm_context").filter(job_id=job_id).first(), "sync")
        return self.render(request, "console/replication.html", pages.replication_page(job),
                           panel="console/replication_panel.html", title=f"Sync {job.job_id}")

    def failover(self, request, job_id: str):
        require(request, Role.VIEWER)
        job = fetched(failover_services.job_get, job_id, "failover")
        return self.render(request, "console/failover.html", pages.failover_page(job),
                           panel="console/failover_panel.html", title=f"{job.get_job_type_display()} {job.job_id}")

    # -- operations ----------------------------------------------------------------------------------------

    def operation(self, request, target: str, key: str, name: str):
        op = found(operations.lookup(target, name), "operation")
        require(request, op.role)
        obj = operations.TARGETS[target](key)
        if obj is None:
            raise Http404("Not found")
        form = op.form(request.POST if request.method == "POST" else None) if op.form else None
        confirmed = request.method == "POST" and (request.POST.get("confirm") == "yes" or not op.destructive)
        if request.method == "POST" and not confirmed:
            messages.warning(request, "Nothing was done: confirm on this page to go on.")
        if confirmed and (form is None or form.is_valid()):
            options = form.options() if hasattr(form, "options") else (form.cleaned_data if form else {})
            try:
                outcome = op.run(obj, options, actor(request))
            except ApplicationError as exc:
                actions = exc.extra.get("required_actions") or []
                messages.error(request, " ".join([exc.message, *(f"To do: {a}." for a in actions)]))
            else:
                messages.success(request, outcome.message)
                return HttpResponseRedirect(outcome.url)
            if not op.destructive:
                return HttpResponseRedirect(operations.page_of(target, obj))
        return self.render(request, "console/confirm.html",
                           {"op": op, "obj": obj, "form": form, "explanation": op.explain(obj),
                            "back": operations.page_of(target, obj)},
                           title=f"{op.label}: {obj}")

    # -- migration plans and waves --------------------------------------------------------------------------

    @staticmethod
    def _project(project_id):
        return fetched(planner_services.project_get, project_id, "migration project")

    def projects(self, request):
        require(request, Role.VIEWER)
        return self.render(request, "console/projects.html", {"projects": plans.projects()},
                           title="Migration plans")

    def project(self, request, project_id):
        require(request, Role.VIEWER)
        project = self._project(project_id)
        return self.render(request, "console/project.html", plans.project_page(project, request.GET),
                           title=project.name)

    def cohort(self, request, project_id, pk: int):
        require(request, Role.VIEWER)
        project = self._project(project_id)
        cohort = found(project.cohorts.filter(pk=pk).first(), "cohort")
        return self.render(request, "console/cohort.html", plans.cohort_page(project, cohort),
                           title=f"{project.name}: {cohort.name}")

    def waves(self, request):
        require(request, Role.VIEWER)
        status = request.GET.get("status", "")
        return self.render(request, "console/waves.html", {"waves": plans.waves(status), "status": status},
                           title="Waves")

    def wave(self, request, pk: int):
        require(request, Role.VIEWER)
        wave = fetched(wave_services.wave_get, pk, "wave")
        return self.render(request, "console/wave.html", plans.wave_page(wave), panel="console/wave_panel.html",
                           title=wave.name)

    def cloud(self, request):
        require(request, Role.VIEWER)
        return self.render(request, "console/cloud.html", cloud.page(), title="Destination cloud")

    # -- agents and the inventory --------------------------------------------------------------------------

    def agents(self, request):
        require(request, Role.VIEWER)
        context = {"pending": list(pending_enrollments()),
                   "appliances": list(Appliance.objects.order_by("status", "appliance_id")),
                   "agents": {a.appliance_id: a for a in selectors.agents()}}
        return self.render(request, "console/agents.html", context, title="Agents")

    def add_vms(self, request):
        require(request, Role.OPERATOR)
        credentials = list(VMwareCredential.objects.order_by("-is_default", "name"))
        chosen = next((c for c in credentials if str(c.pk) == (request.POST.get("credential")
                                                               or request.GET.get("credential"))), None)
        chosen = chosen or (credentials[0] if credentials else None)
        found, error = [], ""
        if chosen is not None:
            try:
                found = inventory_services.discover(credential=chosen).get("vms", [])
            except ApplicationError as exc:
                error = exc.message
        known = inventory_selectors.known_vm_ids(found)
        if request.method == "POST" and chosen is not None and not error:
            wanted = set(request.POST.getlist("vm"))
            picked = [vm for vm in found if vm.get("name") in wanted]
            if not picked:
                messages.warning(request, "Nothing was added: tick the VMs to add.")
            else:
                try:
                    added = inventory_services.add_vms(credential=chosen, vms=picked)
                except ApplicationError as exc:
                    messages.error(request, exc.message)
                else:
                    names = ", ".join(context.vm_name for context, _ in added)
                    messages.success(request, f"Added to the inventory: {names}")
                    if len(added) == 1:
                        return HttpResponseRedirect(reverse("admin:console-vm", args=[added[0][0].pk]))
                    return HttpResponseRedirect(reverse("admin:index"))
        rows = [{"name": vm.get("name"), "path": vm.get("path"), "power_state": vm.get("power_state"),
                 "disks": len(vm.get("disks") or []), "known": inventory_selectors.agent_vm_id(vm) in known}
                for vm in found]
        return self.render(request, "console/add_vms.html",
                           {"credentials": credentials, "chosen": chosen, "rows": rows, "error": error},
                           title="Add VMs from vCenter")

    # -- the destination cloud's operations (seed 004: snapshots, runbooks, metering, copilot) ----------------

    def confirm(self, request, *, title: str, explanation: list[str], label: str, back: str, hidden: dict | None = None,
                danger: bool = True):
        """The page that asks before a change: what will happen, "yes" posts again with confirm=yes."""
        return self.render(request, "console/ops_confirm.html",
                           {"heading": title, "explanation": explanation, "confirm_label": label, "back": back,
                            "hidden": (hidden or {}).items(), "danger": danger}, title=title)

    def _listing(self, request, rbac, permission: str, name: str, title: str):
        """A page that only reads: the app's permission, then ``cloud_ops.<name>_page()`` in its template."""
        require_permission(request, rbac, permission)
        return self.render(request, f"console/{name}.html", getattr(cloud_ops, f"{name}_page")(), title=title)

    def snapshots(self, request):
        return self._listing(request, snapshot_rbac, "snapshots:read", "snapshots", "Snapshots")

    def snapshot_run(self, request, pk: int):
        require_permission(request, snapshot_rbac, "snapshot_runs:read")
        run = fetched(snapshot_services.run_get, pk, "snapshot run")
        return self.render(request, "console/snapshot_run.html", cloud_ops.snapshot_run_page(run),
                           title=f"Snapshot run {run.pk}")

    def snapshots_run_now(self, request):
        require_permission(request, snapshot_rbac, "snapshots:admin")
        back = reverse("admin:console-snapshots")
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if request.POST.get("confirm") != "yes":
            return self.confirm(request, title="Run the snapshot pipeline now", label="Yes, snapshot now", back=back,
                                danger=False, explanation=[
                                    "Assigns the policies, syncs the inventory, then snapshots every volume the "
                                    "enabled policies cover, whether or not they are due.",
                                    "Retention then deletes each volume's policy snapshots beyond its policy's count.",
                                    "It runs in the background; this page shows its steps and the run it makes."])
        try:
            job = snapshot_services.pipeline_trigger(user=request.user.get_username())
        except ApplicationError as exc:
            messages.error(request, f"Not started: {exc.message}")
        else:
            messages.success(request, f"Snapshot pipeline {job.job_id} queued")
        return HttpResponseRedirect(back + "#pipeline")

    def runbooks(self, request):
        return self._listing(request, runbook_rbac, "runbooks:read", "runbooks", "Runbooks")

    def runbook(self, request, name: str):
        require_permission(request, runbook_rbac, "runbooks:read")
        runbook = fetched(runbook_services.runbook_get, name, "runbook")
        if request.method != "POST":
            return self.render(request, "console/runbook.html", cloud_ops.runbook_page(runbook),
                               title=runbook.display_name)
        require_permission(request, runbook_rbac, "runbooks:write")
        dry_run = request.POST.get("dry_run") == "on"
        if not dry_run and request.POST.get("confirm") != "yes":
            messages.warning(request, "Nothing was done: a real run changes CloudStack. Tick \"I confirm\" to run it "
                                      "for real, or keep the dry run.")
            return self.render(request, "console/runbook.html", {**cloud_ops.runbook_page(runbook, request.POST),
                                                                 "confirming": True}, title=runbook.display_name)
        try:
            execution = runbook_services.trigger(user=request.user, runbook_name=runbook.name, dry_run=dry_run,
                                                 parameters=cloud_ops.parameters_from(runbook, request.POST))
        except ApplicationError as exc:
            messages.error(request, f"Not run: {exc.message}")
            return self.render(request, "console/runbook.html", cloud_ops.runbook_page(runbook, request.POST),
                               title=runbook.display_name)
        execution.refresh_from_db()  # an eager worker may have run it already
        messages.success(request, {
            ExecutionStatus.PENDING_APPROVAL: f"Waiting for an approver ({execution.approver_role}) other than you",
            ExecutionStatus.APPROVED: "Approved by its policy: queued for the worker",
        }.get(execution.status, f"{'Dry run' if dry_run else 'Run'} {execution.get_status_display().lower()}"))
        return HttpResponseRedirect(reverse("admin:console-execution", args=[execution.execution_id]))

    def execution(self, request, execution_id: str):
        require_permission(request, runbook_rbac, "runbooks:read")
        execution = fetched(runbook_services.execution_get, execution_id, "execution")
        response = self.render(request, "console/execution.html", cloud_ops.execution_page(execution),
                               title=f"{execution.runbook_name} {execution.execution_id}")
        response.render()
        # A generated password goes out in this page once and is blanked in the record, as the API answers it.
        runbook_services.shown_once(execution, {})
        return response

    def execution_decide(self, request, execution_id: str):
        require_permission(request, runbook_rbac, "runbooks:admin")
        execution = fetched(runbook_services.execution_get, execution_id, "execution")
        back = reverse("admin:console-execution", args=[execution.execution_id])
        decision = request.POST.get("decision", "")
        if request.method != "POST" or decision not in Decision.values:
            return HttpResponseRedirect(back)
        comment = request.POST.get("comment", "")[:2000]
        if request.POST.get("confirm") != "yes":
            runbook = catalog.get(execution.runbook_name)
            name, risk = (runbook.display_name, runbook.risk_level) if runbook else (execution.runbook_name, "unknown")
            verb = "Approve" if decision == Decision.APPROVED else "Reject"
            lines = [f"{name} ({risk} risk), triggered by {execution.triggered_by}.",
                     "Approved, it runs for real at once: it changes CloudStack as its dry run reported."
                     if decision == Decision.APPROVED else "Rejected, it never runs; the trigger sees your comment.",
                     "Your name, the time and your comment go into its audit trail."]
            return self.confirm(request, title=f"{verb} {name}", explanation=lines, back=back,
                                label=f"Yes, {verb.lower()} it", danger=decision == Decision.APPROVED,
                                hidden={"decision": decision, "comment": comment})
        try:
            runbook_services.decide(user=request.user, execution=execution, decision=decision, comment=comment)
        except ApplicationError as exc:
            messages.error(request, f"Not {decision}: {exc.message}")
        else:
            messages.success(request, f"Execution {decision}")
        return HttpResponseRedirect(back)

    def execution_cancel(self, request, execution_id: str):
        require_permission(request, runbook_rbac, "runbooks:write")
        execution = fetched(runbook_services.execution_get, execution_id, "execution")
        back = reverse("admin:console-execution", args=[execution.execution_id])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        try:
            execution = runbook_services.cancel(user=request.user, execution=execution)
        except ApplicationError as exc:
            messages.error(request, f"Not cancelled: {exc.message}")
        else:
            messages.success(request, "Cancel requested: the run stops before its next change"
                             if execution.cancel_requested else "Cancelled")
        return HttpResponseRedirect(back)

    def metering(self, request):
        require_permission(request, metering_rbac, "metering:read")
        project = request.GET.get("project", "")[:255]
        context = cloud_ops.metering_page(request.GET.get("hours", ""), project)
        return self.render(request, "console/metering.html", context, title="Metering and chargeback")

    def copilot(self, request):
        require_permission(request, copilot_rbac, "copilot:read")
        exchange = None
        if request.method == "POST":
            question = request.POST.get("question", "").strip()
            if not question or len(question) > 1000:
                messages.error(request, "Ask a question of 1 to 1000 characters.")
            else:
                exchange = copilot_services.ask(request.user, question)
        return self.render(request, "console/copilot.html", {**cloud_ops.copilot_page(request.user),
                                                              "exchange": exchange}, title="Ops copilot")

    def copilot_feedback(self, request, pk: int):
        require_permission(request, copilot_rbac, "copilot:read")
        verdict = request.POST.get("feedback", "")
        if request.method == "POST" and verdict in Feedback.values:
            try:
                copilot_services.feedback(request.user, pk, verdict)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Thank you: your feedback is recorded")
        return HttpResponseRedirect(reverse("admin:console-copilot") + "#history")
