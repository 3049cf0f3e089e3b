"""After every migrate: the role groups exist (a fresh install has viewer/operator/admin/agent), and so does the
database cache's table when the database is the cache (the web workers' shared login throttle). A changed password
ends the user's bearer sessions."""
from django.conf import settings
from django.core.management import call_command
from django.db.models.signals import post_migrate, post_save, pre_save
from django.dispatch import receiver

from .services import tokens_revoke_for_user

ROLE_GROUPS = ("viewer", "operator", "admin", "agent")


@receiver(post_migrate)
def ensure_role_groups(sender, **kwargs):
    if getattr(sender, "label", None) != "core":
        return
    from django.contrib.auth.models import Group

    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def note_password_change(sender, instance, update_fields=None, **kwargs):
    """Mark a save that replaces a stored password (admin form, set_password, changepassword, a new hash)."""
    instance._mp_password_changed = False
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    # Django re-hashes a password at login when the hasher changed (check_password's setter: _password cleared,
    # only "password" saved): same password, so the sessions stay.
    if update_fields == frozenset({"password"}) and getattr(instance, "_password", None) is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._mp_password_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def revoke_sessions_after_password_change(sender, instance, **kwargs):
    # A stolen bearer token must not outlive the password change that answers the theft.
    if getattr(instance, "_mp_password_changed", False):
        instance._mp_password_changed = False
        tokens_revoke_for_user(user=instance, reason="password changed")


@receiver(post_migrate)
def ensure_cache_table(sender, using="default", **kwargs):
    # A no-op with Redis or local memory, or when the table exists.
    if getattr(sender, "label", None) == "core":
        call_command("createcachetable", database=using, verbosity=0)
