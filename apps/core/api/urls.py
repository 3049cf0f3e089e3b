from . import views
from .routes import routes

urlpatterns = routes([
    ("auth/login", views.LoginView, "auth-login"),
    ("auth/logout", views.LogoutView, "auth-logout"),
    ("health", views.HealthView, "api-health"),
    ("debug/health", views.DebugHealthView, "debug-health"),
    ("debug/endpoints", views.DebugEndpointsView, "debug-endpoints"),
    ("debug/logs", views.DebugLogsView, "debug-logs"),
])
