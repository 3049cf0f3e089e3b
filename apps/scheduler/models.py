"""Machine groups of VMs, the schedules that sync them on Celery beat, and the record of every run."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.core.models import Named, NamedStatus, StartedCompleted, StartedFinished, TimeStampedModel

from . import timing
from .choices import (
    ExecutionStatus,
    ExecutionTrigger,
    ExecutionVMStatus,
    RunningVMPolicy,
    ScheduleType,
)

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 31 * 24 * 3600
MAX_CONCURRENT_LIMIT = 1000


class SyncSchedule(Named, TimeStampedModel):
    """When and how a group's VMs are synced; beat reads it through the linked django-celery-beat PeriodicTask."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    schedule_type = models.CharField(max_length=16, choices=ScheduleType.choices, editable=False)
    cron_expression = models.CharField(max_length=255, blank=True,
                                       help_text="Five fields (minute hour day-of-month month day-of-week) or a "
                                                 "macro such as @daily; leave empty for an interval schedule.")
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(MIN_INTERVAL_SECONDS),
                                           MaxValueValidator(MAX_INTERVAL_SECONDS)],
        help_text="Run every N seconds; leave empty for a cron schedule.")
    timezone = models.CharField(max_length=64, default="UTC",
                                help_text="IANA time zone of the cron expression and of the sync window.")
    window_start = models.TimeField(null=True, blank=True, help_text="Syncs only start from this local time ...")
    window_end = models.TimeField(null=True, blank=True, help_text="... until this one (may cross midnight).")
    max_concurrent_jobs = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(MAX_CONCURRENT_LIMIT)],
        help_text="At most this many syncs of one run at a time; the rest wait in the run.")
    running_vm_policy = models.CharField(max_length=8, choices=RunningVMPolicy.choices, default=RunningVMPolicy.SKIP,
                                         help_text="What a run does with a VM that is already syncing.")
    max_retries = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(10)],
                                                   help_text="Retries of a VM whose sync failed, within the run.")
    retry_delay_seconds = models.PositiveIntegerField(default=300, validators=[MaxValueValidator(24 * 3600)])
    enabled = models.BooleanField(default=True, db_index=True)
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True, editable=False,
                                         on_delete=models.SET_NULL, related_name="sync_schedule")
    last_triggered_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        db_table = "replication_schedules"
        ordering = ["name"]
        verbose_name = "sync schedule"
        constraints = [
            models.CheckConstraint(
                name="schedule_cron_xor_interval",
                condition=(Q(schedule_type=ScheduleType.CRON, interval_seconds__isnull=True) & ~Q(cron_expression=""))
                | Q(schedule_type=ScheduleType.INTERVAL, interval_seconds__isnull=False, cron_expression="")),
            models.CheckConstraint(
                name="schedule_window_both_or_none",
                condition=Q(window_start__isnull=True, window_end__isnull=True)
                | Q(window_start__isnull=False, window_end__isnull=False)),
            models.CheckConstraint(name="schedule_max_concurrent_positive", condition=Q(max_concurrent_jobs__gte=1)),
        ]

    def clean(self) -> None:
        """Cross-field rules, shared by the API (through the services) and the console's forms."""
        errors: dict[str, list[str]] = {}
        cron = timing.normalise_cron(self.cron_expression or "")
        if cron and self.interval_seconds is not None:
            errors.setdefault("cron_expression", []).append("Give a cron expression or an interval, not both.")
        elif not cron and self.interval_seconds is None:
            errors.setdefault("cron_expression", []).append("A schedule needs a cron expression or an interval.")
        elif cron:
            try:
                timing.parse_cron(cron)
            except ValueError as exc:
                errors.setdefault("cron_expression", []).append(f"Invalid cron expression: {exc}")
        self.cron_expression = cron
        self.schedule_type = ScheduleType.CRON if cron else ScheduleType.INTERVAL
        try:
            timing.zone(self.timezone)
        except ValueError as exc:
            errors.setdefault("timezone", []).append(str(exc))
        if (self.window_start is None) != (self.window_end is None):
            errors.setdefault("window_end" if self.window_end is None else "window_start", []).append(
                "A sync window needs both window_start and window_end.")
        elif self.window_start is not None and self.window_start == self.window_end:
            errors.setdefault("window_end", []).append("window_end must differ from window_start.")
        if errors:
            raise ValidationError(errors)

    @property
    def timing_description(self) -> str:
        if self.schedule_type == ScheduleType.CRON:
            return f"{timing.describe_cron(self.cron_expression)} ({self.timezone})"
        return timing.describe_interval(self.interval_seconds or 0)


class MachineGroup(Named, TimeStampedModel):
    """A set of VMs synced together on one schedule."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    schedule = models.ForeignKey(SyncSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="groups")
    priority = models.PositiveIntegerField(default=100, help_text="Lower first when a schedule drives several groups.")
    created_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        db_table = "vm_machine_groups"
        ordering = ["priority", "name"]


class VMGroupMembership(TimeStampedModel):
    """A VM's place in a machine group; the one-to-one keeps every VM in at most one group."""

    vm_context = models.OneToOneField("inventory.VMContext", on_delete=models.CASCADE, related_name="group_membership")
    group = models.ForeignKey(MachineGroup, on_delete=models.CASCADE, related_name="memberships")
    assigned_by = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "vm_group_memberships"
        ordering = ["group", "vm_context"]
        verbose_name = "VM group assignment"

    def __str__(self) -> str:
        return f"{self.vm_context_id} in {self.group_id}"


class ScheduleExecution(NamedStatus, TimeStampedModel, StartedCompleted, name_field="execution_id"):
    """One run of a schedule over its groups' VMs; counters are recomputed from its VM rows at every step."""

    execution_id = models.CharField(max_length=64, unique=True)
    schedule = models.ForeignKey(SyncSchedule, null=True, on_delete=models.SET_NULL, related_name="executions")
    # Kept so the history still reads after the schedule is deleted.
    schedule_name = models.CharField(max_length=255)
    trigger = models.CharField(max_length=16, choices=ExecutionTrigger.choices)
    triggered_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=32, choices=ExecutionStatus.choices, db_index=True)
    # An operator's "run now" may override the sync window; the run then starts VMs regardless of the clock.
    ignore_window = models.BooleanField(default=False)
    deferred_until = models.DateTimeField(null=True, blank=True)
    vms_considered = models.PositiveIntegerField(default=0)
    vms_started = models.PositiveIntegerField(default=0)
    vms_queued = models.PositiveIntegerField(default=0)
    vms_running = models.PositiveIntegerField(default=0)
    vms_succeeded = models.PositiveIntegerField(default=0)
    vms_failed = models.PositiveIntegerField(default=0)
    vms_skipped = models.PositiveIntegerField(default=0)
    vms_cancelled = models.PositiveIntegerField(default=0)
    bytes_transferred = models.BigIntegerField(default=0)
    summary = models.TextField(blank=True)

    class Meta:
        db_table = "schedule_executions"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["schedule", "status"], name="idx_execution_schedule_status")]


class ExecutionVM(StartedFinished):
    """One VM in one run: queued until a slot frees, then linked to the replication job it started."""

    execution = models.ForeignKey(ScheduleExecution, on_delete=models.CASCADE, related_name="vms")
    vm_context = models.ForeignKey("inventory.VMContext", null=True, on_delete=models.SET_NULL,
                                   related_name="schedule_runs")
    vm_name = models.CharField(max_length=255)
    group = models.ForeignKey(MachineGroup, null=True, on_delete=models.SET_NULL, related_name="execution_vms")
    group_name = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ExecutionVMStatus.choices, default=ExecutionVMStatus.QUEUED)
    reason = models.TextField(blank=True, help_text="Why it was skipped or failed, or what it waits for.")
    replication_job = models.ForeignKey("replication.ReplicationJob", null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="schedule_runs")
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True, help_text="A retry waits until then.")
    bytes_transferred = models.BigIntegerField(default=0)

    class Meta:
        db_table = "schedule_execution_vms"
        ordering = ["execution", "position"]
        verbose_name = "execution VM"
        constraints = [models.UniqueConstraint(fields=["execution", "vm_context"], name="uniq_execution_vm")]
        indexes = [models.Index(fields=["execution", "status", "position"], name="idx_execution_vm_queue"),
                   models.Index(fields=["vm_context", "status"], name="idx_execution_vm_context")]

    def __str__(self) -> str:
        return f"{self.vm_name} in {self.execution_id} ({self.status})"
