"""The failover app: test and live failovers of replicated VMs into CloudStack."""
from apps.core import apps as core_apps


class FailoverConfig(core_apps.PlatformAppConfig):
    name = "apps.failover"
    label = "failover"
    verbose_name = "Failover"
    connect = ("signals",)  # the final-sync receiver; a deleted job releases its hold

    def ready(self) -> None:
        super().ready()
        # After the app registry is ready: the selectors read models.
        from apps.settings import volumes

        from .selectors import owns_live_resources

        volumes.register_owner_check(owns_live_resources)
