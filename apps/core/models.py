"""Core models: the shared base model and the API session tokens."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import TokenKind


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class NewestFirst(TimeStampedModel):
    """Time-stamped rows listed newest first."""

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class Named(models.Model):
    """A row shown (``str()``: admin, console, logs) by its name: the field ``name``, or the one its class line
    names, ``class SourceVM(Named, name_field="vm_name")``."""

    name_field = "name"

    class Meta:
        abstract = True

    def __init_subclass__(cls, name_field: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name_field is not None:
            cls.name_field = name_field

    def __str__(self) -> str:
        return getattr(self, self.name_field)


class NamedStatus(Named):
    """A row shown with its status: "<its name> (<status>)"."""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{super().__str__()} ({self.status})"


# A run's start and end, both empty until they happen. Two spellings of the end are in the API (completed_at for
# the jobs and runs the seed named so, finished_at for the others), hence two bases.
class StartedCompleted(models.Model):
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class StartedFinished(models.Model):
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class SlotHolder(models.Model):
    """A row that may hold a slot no other row holds at the same time (one running job per VM, one default).

    The subclass declares the slot column (``slot_field``): unique and nullable, it is written at every save with
    ``slot_value()`` (None when the row holds no slot), so its unique index lets one row at a time hold a value on
    every database (MariaDB has no partial unique indexes). ``slot_fields`` are the fields whose save can change
    the slot: a save limited to them by ``update_fields`` writes the slot too.
    """

    # Declared by the subclass: the slot column, the fields that can change it, and ``slot_value(self)``.
    slot_field: str
    slot_fields: frozenset[str]
    slot_value: Callable[[], object]

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        setattr(self, self.slot_field, self.slot_value())
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and (self.slot_fields & set(update_fields)):
            kwargs["update_fields"] = set(update_fields) | {self.slot_field}
        super().save(*args, **kwargs)


class VMJob(NamedStatus, TimeStampedModel, StartedCompleted, SlotHolder, name_field="job_id"):
    """A replication or failover job on one VM context: the bookkeeping both keep, and the one-at-a-time slot.

    ``active_slot`` holds the VM context id while the job occupies the VM, so one such job per VM runs at a time.
    A subclass declares ``job_id``, ``status`` and its ``vm_context`` (each with its own related_name), says when
    the job occupies the VM (``occupies_vm``) and which saved fields can change that (``slot_fields``).
    """

    active_slot = models.BigIntegerField(null=True, unique=True, editable=False)
    requested_by = models.CharField(max_length=150, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)

    slot_field = "active_slot"
    slot_fields = frozenset({"status"})
    occupies_vm: bool  # declared by the subclass (a property or an alias of one)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def slot_value(self) -> int | None:
        return self.vm_context_id if self.occupies_vm else None


def user_or_null() -> models.ForeignKey:
    """A record's link to the user who acted: emptied if that user is deleted (the record stays), no reverse
    accessor on the user. Rows that must still name the user keep the name in a field of their own."""
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")


def hash_token(raw: str) -> str:
    # Tokens are long random strings, so a fast unsalted digest is enough to make a stolen table useless.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(NewestFirst):
    """A bearer session token; only its SHA-256 is stored."""

    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to tell tokens apart in the console.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    kind = models.CharField(max_length=16, choices=TokenKind.choices, default=TokenKind.OPERATOR)
    appliance_id = models.CharField(max_length=128, blank=True, db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}... ({self.kind}, {self.user})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class JobEvent(models.Model):
    """Append-only log of a long job's steps (replication, failover, schedule run), shown by the API and console."""

    job_kind = models.CharField(max_length=32, db_index=True)
    job_id = models.CharField(max_length=128, db_index=True)
    step = models.CharField(max_length=64)
    level = models.CharField(max_length=16, default="info")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job_kind", "job_id", "id"])]

    def __str__(self) -> str:
        return f"{self.job_kind}:{self.job_id} {self.step}: {self.message}"
