"""The failover app: test and live failovers of replicated VMs into CloudStack."""
from apps.core import apps as core_apps


class FailoverConfig(core_apps.PlatformAppConfig):
    name = "apps.failover"
    label = "failover"
    verbose_name = "Failover"
    connect = ("signals",)  # the final-sync receiver; a deleted job releases its hold
