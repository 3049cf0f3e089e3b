"""CloudStack configurations and VMware credentials; reports whether CloudStack is configured."""
from django.apps import AppConfig


class PlatformSettingsConfig(AppConfig):
    # A label that cannot be mistaken for django.conf.settings.
    name = "apps.settings"
    label = "platform_settings"
    verbose_name = "Platform settings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: selectors read models.
        from apps.core import registry

        from . import selectors

        registry.register_health(self.label, selectors.health)
