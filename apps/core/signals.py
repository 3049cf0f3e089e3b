"""Role groups exist after every migrate, so a fresh install has viewer/operator/admin/agent."""
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
