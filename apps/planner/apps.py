"""The migration planner: from an RVTools export to assessed, grouped and approved waves (seed 004)."""
from apps.core import apps as core_apps


class PlannerConfig(core_apps.PlatformAppConfig):
    name = "apps.planner"
    label = "planner"
    verbose_name = "Migration planner"
