"""Waves of VMs cut over together: the wave (window, limit, kind), each VM's place, options and outcome, the hooks."""
from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.core.fields import EncryptedTextField
from apps.core.models import NamedStatus, StartedCompleted, StartedFinished, TimeStampedModel

from .choices import HookKind, HookStage, WaveKind, WaveStatus, WaveVMStatus

MAX_CONCURRENT = 100
MAX_HOOK_TIMEOUT = 3600
MAX_HOOK_RETRIES = 10


class Wave(NamedStatus, TimeStampedModel, StartedCompleted):
    """A named set of VMs failed over (or rehearsed) together from `window_start`, none started after `deadline`."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=WaveKind.choices, default=WaveKind.CUTOVER)
    status = models.CharField(max_length=24, choices=WaveStatus.choices, default=WaveStatus.SCHEDULED, db_index=True)
    # Kept for the record: the wave's VMs were copied from it when the wave was created.
    group = models.ForeignKey("scheduler.MachineGroup", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="waves")
    rehearsal_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="rehearsals", help_text="The cutover wave this one rehearses")
    # Both empty only in a draft (a planner cohort without planned dates): `wave_schedule` sets them.
    window_start = models.DateTimeField(null=True, blank=True, db_index=True,
                                        help_text="Beat starts the wave's VMs from this time")
    deadline = models.DateTimeField(null=True, blank=True,
                                    help_text="No VM of the wave starts after this time; it is skipped")
    max_concurrent = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1),
                                                                        MaxValueValidator(MAX_CONCURRENT)])
    test_duration = models.CharField(max_length=32, default="4h",
                                     help_text="How long a rehearsal's or test-first VM may run at most")
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    cancel_requested = models.BooleanField(default=False)
    summary = models.TextField(blank=True)

    class Meta:
        db_table = "waves"
        ordering = ["window_start", "name"]
        constraints = [
            models.CheckConstraint(name="wave_deadline_after_start", condition=Q(deadline__gt=models.F("window_start"))),
            models.CheckConstraint(name="wave_window_unless_draft",
                                   condition=Q(status=WaveStatus.DRAFT)
                                   | Q(window_start__isnull=False, deadline__isnull=False)),
            models.CheckConstraint(name="wave_max_concurrent_positive", condition=Q(max_concurrent__gte=1)),
        ]


class WaveVM(StartedFinished):
    """One VM in a wave: its order, dependencies and options, and what happened to it (jobs, reason, hook output)."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="vms")
    vm_context = models.ForeignKey("inventory.VMContext", null=True, on_delete=models.SET_NULL,
                                   related_name="wave_vms")
    vm_name = models.CharField(max_length=255)
    position = models.PositiveIntegerField(help_text="Dependencies first, then the given order")
    depends_on = models.JSONField(default=list, blank=True,
                                  help_text="Names of VMs of the same wave that must complete first")
    test_first = models.BooleanField(default=False, help_text="Run and end a test failover before the live one")
    power_off_source = models.BooleanField(default=True)
    keep_macs = models.BooleanField(default=True)
    final_sync = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=WaveVMStatus.choices, default=WaveVMStatus.QUEUED)
    reason = models.TextField(blank=True, help_text="Why it was skipped, failed or not rolled back")
    test_job = models.ForeignKey("failover.FailoverJob", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="wave_test_vms")
    failover_job = models.ForeignKey("failover.FailoverJob", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="wave_vms")
    hook_log = models.JSONField(default=list, blank=True, help_text="Each hook run: stage, hook, outcome, output")
    # When a worker took this VM's start (pre-hooks, failover start): another start of it waits until this lease ran
    # out (its worker died), so a redelivered or re-sent start never runs the hooks and the start twice at once.
    start_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "wave_vms"
        ordering = ["wave", "position"]
        verbose_name = "wave VM"
        constraints = [models.UniqueConstraint(fields=["wave", "vm_context"], name="uniq_wave_vm")]
        indexes = [models.Index(fields=["wave", "status", "position"], name="idx_wave_vm_queue")]

    def __str__(self) -> str:
        return f"{self.vm_name} in {self.wave_id} ({self.status})"


class WaveHook(TimeStampedModel):
    """Run at one stage of each VM's cutover: a signed webhook or a command on the control plane."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="hooks")
    name = models.CharField(max_length=100)
    stage = models.CharField(max_length=24, choices=HookStage.choices)
    kind = models.CharField(max_length=16, choices=HookKind.choices)
    url = models.URLField(max_length=2000, blank=True)
    secret = EncryptedTextField(blank=True, help_text="HMAC-SHA256 key of the webhook's signature (never shown)")
    command = models.JSONField(default=list, blank=True, help_text="argv, run without a shell")
    timeout_seconds = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1),
                                                                          MaxValueValidator(MAX_HOOK_TIMEOUT)])
    retries = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(MAX_HOOK_RETRIES)])

    class Meta:
        db_table = "wave_hooks"
        ordering = ["wave", "stage", "id"]
        constraints = [models.UniqueConstraint(fields=["wave", "name"], name="uniq_wave_hook_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage}, {self.kind})"
