"""Snapshot policies, on-demand snapshot runs and restores from volume snapshots (seed 004, over CloudStack)."""
from apps.core import apps as core_apps


class SnapshotsConfig(core_apps.PlatformAppConfig):
    name = "apps.snapshots"
    label = "snapshots"
    verbose_name = "Snapshots and restore"
    connect = ("receivers",)  # the orphan sweep asks whether a run or restore still holds its resources
    reports_health = False
