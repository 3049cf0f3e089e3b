"""The inventory: VM contexts with their disks and NICs."""
from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "apps.inventory"
    label = "inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: selectors read models.
        from apps.core import registry

        from . import selectors

        registry.register_health(self.label, selectors.health)
