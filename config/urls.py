from django.contrib import admin
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.core.api.views import ApiRootView, HealthView

API_APPS = ["core", "settings", "inventory", "replication", "failover", "scheduler", "waves", "enrollment"]


def _api_urls():
    import importlib

    patterns = []
    for app in API_APPS:
        try:
            module = importlib.import_module(f"apps.{app}.api.urls")
        except ModuleNotFoundError as exc:
            if exc.name != f"apps.{app}.api.urls":
                raise
            continue
        patterns.append(path("", include(module)))
    return patterns


def console_redirect(request, rest: str):
    """A browser's /admin/... (the console's old place) goes to /console/...; anything else is not found."""
    if "text/html" not in request.headers.get("Accept", ""):
        return json_404(request)
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(f"/console/{rest}" + (f"?{query}" if query else ""))


urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include(_api_urls())),
    path("api/migration/", include("apps.planner.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    # Seed 004's portal paths for users, departments, branding and notifications (before the admin: /admin/user-access-log)
    path("", include("apps.accounts.api.urls")),
    # Seed 004's snapshot policies, on-demand pipeline and restore at the root (/snapshot-policies, /restore/...).
    path("", include("apps.snapshots.api.urls")),
    # Seed 004's Ops Copilot (/api/copilot/ask...): questions answered from our data, never acted on.
    path("api/copilot/", include("apps.copilot.api.urls")),
    # Seed 004's operations portal at the root; its /admin/<resource> API paths are the seed's, so the console
    # (Django's admin) lives at /console/ and an old /admin/ link from a browser is sent there (docs/portal.md).
    path("", include("apps.metering.api.urls")),  # seed 004's /api/metering/... (usage, pricing, chargeback)
    path("", include("apps.runbooks.api.urls")),  # seed 004's /api/runbooks (catalog, executions, approvals)
    path("", include("apps.portal.api.urls")),
    path("console/", admin.site.urls),
    re_path(r"^admin/(?P<rest>.*)$", console_redirect),
]


def json_404(request, exception=None):
    return JsonResponse({"success": False, "error": "Not found", "details": request.path}, status=404)


def json_500(request):
    return JsonResponse({"success": False, "error": "Internal server error"}, status=500)


handler404 = json_404
handler500 = json_500
