"""After every migrate: the role groups exist (a fresh install has viewer/operator/admin/agent), and so does the
database cache's table when the database is the cache (the web workers' shared login throttle)."""
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django.dispatch import receiver

ROLE_GROUPS = ("viewer", "operator", "admin", "agent")


@receiver(post_migrate)
def ensure_role_groups(sender, **kwargs):
    if getattr(sender, "label", None) != "core":
        return
    from django.contrib.auth.models import Group

    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


@receiver(post_migrate)
def ensure_cache_table(sender, using="default", **kwargs):
    # A no-op with Redis or local memory, or when the table exists.
    if getattr(sender, "label", None) == "core":
        call_command("createcachetable", database=using, verbosity=0)
