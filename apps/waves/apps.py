"""Waves: VMs cut over (or rehearsed) together in a window, with a limit, an order and hooks."""
from apps.core import apps as core_apps


class WavesConfig(core_apps.PlatformAppConfig):
    name = "apps.waves"
    label = "waves"
    verbose_name = "Waves"
    connect = ("receivers",)  # after-power-off and after-boot hooks follow the failover's steps
    reports_health = False
