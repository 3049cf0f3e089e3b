"""Development equipment: the lab peers and `make run`'s supervisor. No product code imports this app."""
from django.apps import AppConfig


class DevlabConfig(AppConfig):
    name = "apps.devlab"
    label = "devlab"
    verbose_name = "Development lab"
