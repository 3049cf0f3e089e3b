"""Agents (VMA appliances), how they enroll (pairing codes, key proofs, approval), and the audit trail."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from apps.core.models import NamedStatus, NewestFirst, TimeStampedModel, user_or_null

from .choices import ApplianceStatus, AuditAction, EnrollmentStatus


class Appliance(NamedStatus, TimeStampedModel, name_field="appliance_id"):
    """One agent next to a vCenter. Its login token is stored hashed; its Django user carries the agent role.

    An enrolled agent also owns an SSH public key that the tunnel sshd accepts with per-key restrictions,
    a reverse-forward port on the control plane where its API answers, and a block of NBD ports where the exports
    of the VMs it serves are placed: its key may open those and no other agent's.
    """

    appliance_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=255, blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ApplianceStatus.choices, default=ApplianceStatus.PENDING,
                              db_index=True)
    token_hash = models.CharField(max_length=64, blank=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appliance",
                                null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_ip = models.GenericIPAddressField(null=True, blank=True)
    ssh_public_key = models.TextField(blank=True, help_text="OpenSSH public key line: type and base64 blob.")
    ssh_key_fingerprint = models.CharField(max_length=100, blank=True, db_index=True)
    # NULL when the agent has no tunnel (revoked, or created by hand); unique so two agents never share a port.
    # Where the control plane reaches the agent's API when not through its tunnel (the lab, a direct network path);
    # the tunnel's reverse forward wins when there is one.
    api_url = models.CharField(max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"])],
                               help_text="The agent's API without the tunnel (lab, direct path); empty: its tunnel")
    tunnel_reverse_port = models.PositiveIntegerField(null=True, blank=True, unique=True)
    # Its own NBD ports ("10809-10818"), NULL like the reverse port; unique so a block is never handed out twice.
    tunnel_nbd_ports = models.CharField(max_length=255, null=True, blank=True, unique=True,
                                        help_text="The NBD export ports this agent's key may open.")
    tunnel_last_seen_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = user_or_null()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = user_or_null()

    class Meta:
        ordering = ["appliance_id"]


class PairingCode(NewestFirst):
    """A short, single-use code an administrator hands to whoever installs an agent.

    Only a keyed digest is stored: the code itself is shown once, when it is created.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=255, blank=True, help_text="What the code is for, e.g. the site.")
    created_by = user_or_null()
    created_ip = models.GenericIPAddressField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pairing code #{self.pk} ({self.state})"

    @property
    def state(self) -> str:
        if self.used_at is not None:
            return "used"
        if self.expires_at <= timezone.now():
            return "expired"
        return "unused"


class Enrollment(NewestFirst):
    """An agent's request to join: its name, its SSH public key, the proof that it holds the private key,
    and the administrator's decision."""

    enrollment_id = models.CharField(max_length=64, unique=True)
    pairing_code = models.OneToOneField(PairingCode, on_delete=models.PROTECT, related_name="enrollment")
    name = models.CharField(max_length=128)
    version = models.CharField(max_length=64, blank=True)
    ssh_public_key = models.TextField()
    ssh_key_type = models.CharField(max_length=64)
    ssh_key_fingerprint = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=16, choices=EnrollmentStatus.choices,
                              default=EnrollmentStatus.AWAITING_PROOF, db_index=True)
    challenge = models.CharField(max_length=128, blank=True)
    challenge_expires_at = models.DateTimeField(null=True, blank=True)
    failed_proofs = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Only the digest of the poll token the agent uses to fetch its result.
    poll_token_hash = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = user_or_null()
    decision_reason = models.CharField(max_length=500, blank=True)
    appliance = models.OneToOneField(Appliance, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="enrollment")
    credentials_delivered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.name} ({self.status})"


class EnrollmentAuditEvent(models.Model):
    """Append-only: who did what to which agent, when, from where, and whether it worked.

    Never holds a secret: codes, tokens and signatures are not recorded, key fingerprints are.
    """

    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    success = models.BooleanField()
    actor = user_or_null()
    actor_name = models.CharField(max_length=150, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    enrollment_id = models.CharField(max_length=64, blank=True, db_index=True)
    appliance_id = models.CharField(max_length=128, blank=True, db_index=True)
    key_fingerprint = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {'ok' if self.success else 'failed'}: {self.message}"
