"""The operations console: the Django admin with a dashboard for its home, and pages to drive and watch a migration.

It sits at the top of the layering beside devlab (docs/architecture.md): its pages span every app, so it may import
them all, and no app imports it.
"""
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    default = True
    name = "apps.console"
    label = "console"
    verbose_name = "Operations console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the console's site as `admin.site` (its look, login and permissions unchanged)."""

    default = False  # the console app's own config stays apps.console's default
    default_site = "apps.console.site.ConsoleSite"
