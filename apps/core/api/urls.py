from django.urls import path

from . import views

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("health", views.HealthView.as_view(), name="api-health"),
    path("debug/health", views.DebugHealthView.as_view(), name="debug-health"),
    path("debug/endpoints", views.DebugEndpointsView.as_view(), name="debug-endpoints"),
    path("debug/logs", views.DebugLogsView.as_view(), name="debug-logs"),
]
