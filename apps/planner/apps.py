"""The migration planner: from an RVTools export to assessed, grouped and approved waves (seed 004)."""
from apps.core import apps as core_apps


class PlannerConfig(core_apps.PlatformAppConfig):
    name = "apps.planner"
    label = "planner"
    verbose_name = "Migration planner"
    # The debug health answer lists the seed's own figures (core's DebugMetricsSerializer); plans are not among them.
    reports_health = False
