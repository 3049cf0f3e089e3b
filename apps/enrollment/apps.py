"""Enrollment: agents' identities, their SSH tunnel, their login and the client of their API."""
from django.utils.module_loading import import_string

from apps.core import apps as core_apps
from apps.core import registry


class EnrollmentConfig(core_apps.PlatformAppConfig):
    name = "apps.enrollment"
    label = "enrollment"

    def ready(self) -> None:
        super().ready()
        registry.register_agent_login(import_string("apps.enrollment.services.login_agent"))
