"""The admin site of the operations console: Django's admin (its look, login and permissions), with the dashboard
as its home and the console's pages under /console/console/. "View site" leads back to the dashboard."""
from __future__ import annotations

from django.contrib import admin
from django.urls import path

from .views import ConsolePages


class ConsoleSite(admin.AdminSite):
    site_header = "Migration Platform operations console"
    site_title = "Migration Platform"
    index_title = "Dashboard"
    site_url = "/console/"
    index_template = "console/dashboard.html"

    def index(self, request, extra_context=None):
        context = ConsolePages(self).dashboard_context(request)
        if request.htmx:
            return ConsolePages(self).render(request, "console/dashboard_panel.html", context,
                                             panel="console/dashboard_panel.html")
        return super().index(request, {**context, **(extra_context or {})})

    def get_urls(self):
        pages = ConsolePages(self)
        wrap = self.admin_view
        console = [
            path("console/vm/<int:pk>/", wrap(pages.vm), name="console-vm"),
            path("console/vm/<int:pk>/readiness/", wrap(pages.readiness), name="console-readiness"),
            path("console/vm/<int:pk>/mappings/", wrap(pages.mappings), name="console-mappings"),
            path("console/vms/add/", wrap(pages.add_vms), name="console-add-vms"),
            path("console/sync/<str:job_id>/", wrap(pages.replication), name="console-replication"),
            path("console/failover/<str:job_id>/", wrap(pages.failover), name="console-failover"),
            path("console/agents/", wrap(pages.agents), name="console-agents"),
            path("console/plans/", wrap(pages.projects), name="console-projects"),
            path("console/plan/<uuid:project_id>/", wrap(pages.project), name="console-project"),
            path("console/plan/<uuid:project_id>/cohort/<int:pk>/", wrap(pages.cohort), name="console-cohort"),
            path("console/waves/", wrap(pages.waves), name="console-waves"),
            path("console/cloud/", wrap(pages.cloud), name="console-cloud"),
            path("console/wave/<int:pk>/", wrap(pages.wave), name="console-wave"),
            path("console/snapshots/", wrap(pages.snapshots), name="console-snapshots"),
            path("console/snapshots/run-now/", wrap(pages.snapshots_run_now), name="console-snapshots-run-now"),
            path("console/snapshots/run/<int:pk>/", wrap(pages.snapshot_run), name="console-snapshot-run"),
            path("console/runbooks/", wrap(pages.runbooks), name="console-runbooks"),
            path("console/runbooks/execution/<str:execution_id>/", wrap(pages.execution), name="console-execution"),
            path("console/runbooks/execution/<str:execution_id>/decide/", wrap(pages.execution_decide),
                 name="console-execution-decide"),
            path("console/runbooks/execution/<str:execution_id>/cancel/", wrap(pages.execution_cancel),
                 name="console-execution-cancel"),
            path("console/runbooks/<str:name>/", wrap(pages.runbook), name="console-runbook"),
            path("console/metering/", wrap(pages.metering), name="console-metering"),
            path("console/copilot/", wrap(pages.copilot), name="console-copilot"),
            path("console/copilot/<int:pk>/feedback/", wrap(pages.copilot_feedback), name="console-copilot-feedback"),
            path("console/<str:target>/<str:key>/<str:name>/", wrap(pages.operation), name="console-operation"),
        ]
        return console + super().get_urls()
