"""The failover app: test and live failovers of replicated VMs into CloudStack."""
from django.apps import AppConfig


class FailoverConfig(AppConfig):
    name = "apps.failover"
    label = "failover"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Failover"

    def ready(self) -> None:
        # Inside ready(): the receiver's module imports models, which cannot load before the app registry is ready.
        from . import signals  # noqa: F401  (connects the final-sync receiver)
