"""The ground floor: tokens, roles, errors, jobs' bookkeeping helpers, health and the apps' extension points."""
from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Platform core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported once the app registry is ready: signals read models.
        from . import schema, signals  # noqa: F401  (schema auth extension; role groups after migrate)
