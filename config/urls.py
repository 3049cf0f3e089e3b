from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
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


urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include(_api_urls())),
    path("api/migration/", include("apps.planner.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    # Seed 004's operations portal at the root; before the console so its /admin/<resource> API paths win over the
    # admin's catch-all (the console's own pages are /admin/<app>/..., which the portal does not use).
    path("", include("apps.portal.api.urls")),
    path("admin/", admin.site.urls),
]

def json_404(request, exception=None):
    return JsonResponse({"success": False, "error": "Not found", "details": request.path}, status=404)


def json_500(request):
    return JsonResponse({"success": False, "error": "Internal server error"}, status=500)


handler404 = json_404
handler500 = json_500
