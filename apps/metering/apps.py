"""Metering and pricing (seed 004): usage per tenant and resource sampled from the portal's collected tables."""
from apps.core import apps as core_apps


class MeteringConfig(core_apps.PlatformAppConfig):
    name = "apps.metering"
    label = "metering"
    verbose_name = "Metering and pricing"
    reports_health = False
