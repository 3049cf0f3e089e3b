"""Write each VM context's `held_by_failover` from the failover jobs that exist (the rule of FailoverJob.save)."""
from django.db import migrations
from django.db.models import Q


def hold(apps, schema_editor):
    FailoverJob = apps.get_model("failover", "FailoverJob")
    VMContext = apps.get_model("inventory", "VMContext")
    holding = (FailoverJob.objects.filter((Q(active_slot__isnull=False) & ~Q(status="pending")) | Q(needs_cleanup=True))
               .order_by("vm_context_id", "-id"))
    seen = set()
    for job in holding:
        if job.vm_context_id in seen:
            continue
        seen.add(job.vm_context_id)
        VMContext.objects.filter(pk=job.vm_context_id).update(
            held_by_failover=f"{job.job_type} failover {job.job_id} ({job.status})"[:255])


class Migration(migrations.Migration):
    dependencies = [
        ("failover", "0003_source_power"),
        ("inventory", "0002_held_by_failover"),
    ]

    operations = [migrations.RunPython(hold, migrations.RunPython.noop)]
