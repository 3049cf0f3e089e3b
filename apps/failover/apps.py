from django.apps import AppConfig


class FailoverConfig(AppConfig):
    name = "apps.failover"
    label = "failover"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Failover"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the final-sync receiver)
