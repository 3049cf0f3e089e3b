"""Replication jobs, replica volumes, NBD exports and change ids."""
from apps.core import apps as core_apps


class ReplicationConfig(core_apps.PlatformAppConfig):
    name = "apps.replication"
    label = "replication"
    connect = ("receivers",)  # a revoked agent's exports stop
