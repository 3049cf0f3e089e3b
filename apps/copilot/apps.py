"""The ops copilot (seed 004): questions in plain words answered from the platform's own data, never acted on."""
from apps.core import apps as core_apps


class CopilotConfig(core_apps.PlatformAppConfig):
    name = "apps.copilot"
    label = "copilot"
    verbose_name = "Ops copilot"
    reports_health = False
