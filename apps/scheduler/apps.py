"""Schedules, machine groups and their executions."""
from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: the receivers read models.
        from . import receivers  # noqa: F401 - connects the signal receivers
