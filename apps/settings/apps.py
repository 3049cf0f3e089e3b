"""CloudStack configurations and VMware credentials; reports whether CloudStack is configured."""
from apps.core import apps as core_apps


class PlatformSettingsConfig(core_apps.PlatformAppConfig):
    # A label that cannot be mistaken for django.conf.settings.
    name = "apps.settings"
    label = "platform_settings"
    verbose_name = "Platform settings"
