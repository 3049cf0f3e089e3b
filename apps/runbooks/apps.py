"""Runbooks: named remediation and report procedures against CloudStack, with dry runs and approvals (seed 004)."""
from apps.core import apps as core_apps


class RunbooksConfig(core_apps.PlatformAppConfig):
    name = "apps.runbooks"
    label = "runbooks"
    verbose_name = "Runbooks"
    reports_health = False
