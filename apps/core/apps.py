"""The ground floor: tokens, roles, errors, jobs' bookkeeping helpers, health and the apps' extension points."""
from importlib import import_module

from django.apps import AppConfig
from django.utils.module_loading import import_string

from . import registry


class PlatformAppConfig(AppConfig):
    """An app of the platform. Once the app registry is ready it imports the modules named in `connect` (signal
    receivers) and registers its `selectors.health` with core's registry when `reports_health`.

    Apps subclass it as `core_apps.PlatformAppConfig` (importing the module, not the class): Django picks the one
    AppConfig class an `apps.py` holds, and an imported class would be a second one.
    """

    default_auto_field = "django.db.models.BigAutoField"
    connect: tuple[str, ...] = ()
    reports_health = True

    def ready(self) -> None:
        # By dotted path: these modules read models, which load only once the app registry is ready.
        for module in self.connect:
            import_module(f"{self.name}.{module}")
        if self.reports_health:
            registry.register_health(self.label, import_string(f"{self.name}.selectors.health"))


class CoreConfig(PlatformAppConfig):
    default = True  # this module holds two AppConfig classes; this one is apps.core's
    name = "apps.core"
    label = "core"
    verbose_name = "Platform core"
    connect = ("schema", "signals", "checks")  # the schema's auth extension; role groups after migrate; checks
    reports_health = False
