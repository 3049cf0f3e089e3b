"""The operations portal over CloudStack (seed 004): collected inventory, dashboards, history, drift, tenant health."""
from apps.core import apps as core_apps


class PortalConfig(core_apps.PlatformAppConfig):
    name = "apps.portal"
    label = "portal"
    verbose_name = "Operations portal"
    reports_health = False
