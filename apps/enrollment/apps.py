"""Enrollment: agents' identities, their SSH tunnel, their login and the client of their API."""
from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "apps.enrollment"
    label = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: services and selectors read models.
        from apps.core import registry

        from . import selectors, services

        registry.register_agent_login(services.login_agent)
        registry.register_health(self.label, selectors.health)
