"""Replication jobs, replica volumes, NBD exports and change ids."""
from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "apps.replication"
    label = "replication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: selectors read models.
        from apps.core import registry

        from . import selectors

        registry.register_health(self.label, selectors.health)
