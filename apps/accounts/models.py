"""Departments and what their people see in the navigation, each user's profile (department, preferences), the
portal's branding, SMTP settings, notification preferences and the history of what was sent, and the access log."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.fields import EncryptedTextField
from apps.core.models import Named, TimeStampedModel, user_or_null

from .choices import DeliveryMode, EventType, NotificationStatus, OverrideType, Severity


class Department(Named, TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    sort_order = models.IntegerField(default=0)
    # Deleting a department keeps its people's history readable: it goes inactive and off the lists.
    is_active = models.BooleanField(default=True)
    nav_groups = models.ManyToManyField("NavGroup", blank=True, related_name="departments")
    nav_items = models.ManyToManyField("NavItem", blank=True, related_name="departments")

    class Meta:
        ordering = ["sort_order", "name"]


class NavGroup(Named, TimeStampedModel, name_field="label"):
    """A heading of the portal's navigation (e.g. "Infrastructure")."""

    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    icon = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "label"]


class NavItem(Named, TimeStampedModel, name_field="label"):
    """One link of the navigation, under a group."""

    # A group is deleted once it is empty (409 before): its items would vanish from every department silently.
    group = models.ForeignKey(NavGroup, on_delete=models.PROTECT, related_name="items")
    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    route = models.CharField(max_length=255, help_text="Where the link goes, e.g. /servers")
    icon = models.CharField(max_length=64, blank=True)
    resource = models.CharField(max_length=64, blank=True,
                                help_text="The permission resource the page needs, e.g. servers (servers:read)")
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["group__sort_order", "sort_order", "label"]


class UserProfile(TimeStampedModel):
    """What the portal keeps about a Django user beyond auth: department and preferences."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_profile")
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="members")
    preferences = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class NavOverride(TimeStampedModel):
    """One user's exception to their department's navigation: an item shown or hidden for them alone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nav_overrides")
    nav_item = models.ForeignKey(NavItem, on_delete=models.CASCADE, related_name="overrides")
    override_type = models.CharField(max_length=8, choices=OverrideType.choices)
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "nav_item"], name="one_nav_override_per_item")]
        ordering = ["nav_item__sort_order", "id"]


class UserAccessLog(models.Model):
    """Append-only: a user's access event a client reported (page opened, export downloaded...)."""

    user = user_or_null()
    username = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=64)
    resource = models.CharField(max_length=255, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    recorded_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.resource}"


class Branding(TimeStampedModel):
    """The portal's one branding row (pk 1): names, colours, the login page's words and the logo."""

    company_name = models.CharField(max_length=100, default="Migration Platform")
    company_subtitle = models.CharField(max_length=200, default="VMware to CloudStack")
    primary_color = models.CharField(max_length=7, default="#1f6feb")
    secondary_color = models.CharField(max_length=7, default="#6e40c9")
    login_hero_title = models.CharField(max_length=200, default="Welcome to the Migration Platform")
    login_hero_description = models.CharField(max_length=1000, blank=True,
                                              default="Replicate VMware VMs into CloudStack and cut over safely.")
    login_hero_features = models.JSONField(default=list, blank=True)
    # The logo lives in the database: every web host serves the same one without a shared disk.
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_name = models.CharField(max_length=100, blank=True)
    logo_content_type = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"branding: {self.company_name}"


class SmtpSettings(TimeStampedModel):
    """The portal's one SMTP row (pk 1). The password is encrypted at rest and never answered or logged."""

    enabled = models.BooleanField(default=False)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=25)
    use_tls = models.BooleanField(default=False, help_text="STARTTLS after connecting")
    use_ssl = models.BooleanField(default=False, help_text="TLS from the first byte (usually port 465)")
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    from_address = models.EmailField(default="migration-platform@localhost")
    timeout_seconds = models.PositiveIntegerField(default=10)

    def __str__(self) -> str:
        return f"SMTP {self.host}:{self.port}" if self.host else "SMTP (not configured)"


class NotificationPreference(TimeStampedModel):
    """A user wants email for one event type, from a severity up."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs")
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    email = models.EmailField()
    enabled = models.BooleanField(default=True)
    severity_min = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    delivery_mode = models.CharField(max_length=16, choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event_type"], name="one_preference_per_event")]
        ordering = ["user_id", "event_type"]


class Notification(models.Model):
    """One email: queued by a request or an event, sent by the worker (retried), with the outcome kept."""

    user = user_or_null()
    username = models.CharField(max_length=150, blank=True, db_index=True)
    event_type = models.CharField(max_length=32, choices=EventType.choices, db_index=True)
    event_id = models.CharField(max_length=128, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    recipient = models.EmailField()
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING,
                              db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error_message = models.CharField(max_length=1000, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A digest preference's event waits (pending, for_digest) until the daily digest takes it (digest set); it is
    # sent or failed with that digest.
    for_digest = models.BooleanField(default=False)
    digest = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="entries")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.recipient}: {self.status}"
