"""Default approval policies for the runbooks added after 0002: a real password reset waits for an admin other
than the trigger (the seed: it requires approval for anyone below superadmin); the read-only reports run at once."""
import importlib

from django.db import migrations

RISKY = ("password_reset_console",)
AUTO = ("security_compliance_audit", "upgrade_opportunity_detector", "monthly_executive_snapshot",
        "snapshot_quota_forecast")


def add(apps, schema_editor):
    importlib.import_module("apps.runbooks.migrations.0002_default_policies").install(apps, RISKY, AUTO)


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0002_default_policies")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
