"""People and the portal's own settings (seed 004): users and roles, departments and navigation, branding and
preferences, notifications by email, the portal's monitoring answers."""
from apps.core import apps as core_apps


class AccountsConfig(core_apps.PlatformAppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users, branding and notifications"
    # The debug health answer lists the seed's own figures; users and settings are not among them.
    reports_health = False
    connect = ("receivers",)  # replication failures become replication_failed emails
