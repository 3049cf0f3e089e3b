"""The catalog's default approval policies, so GET /api/runbooks/policies/<name> shows what applies: real runs of
the medium and high risk runbooks wait for an admin other than the trigger; the low risk ones run at once."""
from django.db import migrations

RISKY = ("stuck_vm_remediation", "orphan_resource_cleanup", "vm_health_quickfix")
AUTO = ("snapshot_before_escalation", "cost_leakage_report", "security_group_audit")


def add(apps, schema_editor):
    install(apps, RISKY, AUTO)


def install(apps, risky, auto):
    """Single approval by an admin for the risky ones, auto approval for the others, for operators and admins."""
    policy = apps.get_model("runbooks", "ApprovalPolicy")
    for names, mode in ((risky, "single_approval"), (auto, "auto_approve")):
        for name in names:
            for role in ("operator", "admin"):
                policy.objects.get_or_create(runbook_name=name, trigger_role=role,
                                             defaults={"approver_role": "admin", "approval_mode": mode})


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0001_initial")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
