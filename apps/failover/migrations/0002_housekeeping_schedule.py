"""The beat entry of failover housekeeping (automatic test cleanup, final-sync checks, stale jobs), every minute.

django-celery-beat's DatabaseScheduler reads its schedule from these tables, so the entry ships with the app.
"""
from django.db import migrations

TASK = "apps.failover.tasks.failover_housekeeping"
NAME = "failover-housekeeping"


def add_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=60, period="seconds")
    task_model.objects.update_or_create(name=NAME, defaults={"task": TASK, "interval": interval, "enabled": True,
                                                             "queue": "failover",
                                                             "description": "Failover: auto cleanup, final sync, "
                                                                            "stale jobs"})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("failover", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
