from django.apps import AppConfig


class PlatformSettingsConfig(AppConfig):
    # A label that cannot be mistaken for django.conf.settings.
    name = "apps.settings"
    label = "platform_settings"
    verbose_name = "Platform settings"
    default_auto_field = "django.db.models.BigAutoField"
