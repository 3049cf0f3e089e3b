"""The failover app: test and live failovers of replicated VMs into CloudStack."""
from django.apps import AppConfig


class FailoverConfig(AppConfig):
    name = "apps.failover"
    label = "failover"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Failover"

    def ready(self) -> None:
        # Imported once the app registry is ready: the receiver's module and the selectors read models.
        from apps.core import registry

        from . import selectors, signals  # noqa: F401  (signals connects the final-sync receiver)

        registry.register_health(self.label, selectors.health)
