"""Schedules, machine groups and their executions."""
from apps.core import apps as core_apps


class SchedulerConfig(core_apps.PlatformAppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"
    connect = ("receivers",)  # advance runs as replications finish; the sweep's beat entry
    reports_health = False
