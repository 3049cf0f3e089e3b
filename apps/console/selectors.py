"""What the console's pages show, read through each app's models and selectors in a bounded number of queries
(the dashboard stays constant in queries however many VMs and jobs there are: bench/bench_console.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from apps.enrollment.choices import ApplianceStatus, EnrollmentStatus
from apps.enrollment.models import Appliance
from apps.enrollment.selectors import pending_enrollments
from apps.failover.choices import ACTIVE as FAILOVER_ACTIVE
from apps.failover.choices import FailoverStatus
from apps.failover.models import FailoverJob
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.choices import ReplicationStatus
from apps.replication.models import ReplicationJob
from apps.scheduler import timing
from apps.scheduler.selectors import schedules
from apps.settings.models import OsseaConfig

# An agent that called the API or kept its tunnel up within this long counts as online.
ONLINE_WITHIN = timedelta(minutes=5)
RUNNING_JOBS_SHOWN = 100
FAILURES_SHOWN = 10


@dataclass(frozen=True)
class StateCount:
    status: str
    label: str
    count: int


def vm_states() -> list[StateCount]:
    """Every VM state with how many VMs are in it (zero included), in the order a migration walks them."""
    counts = dict(VMContext.objects.order_by().values_list("current_status").annotate(n=Count("id")))
    return [StateCount(status=value, label=label, count=counts.get(value, 0))
            for value, label in VMContextStatus.choices]


def running_replications(limit: int = RUNNING_JOBS_SHOWN) -> list[ReplicationJob]:
    return list(ReplicationJob.objects.filter(status__in=REPLICATION_ACTIVE).select_related("vm_context")
                .order_by("started_at", "id")[:limit])


def running_failovers(limit: int = RUNNING_JOBS_SHOWN) -> list[FailoverJob]:
    return list(FailoverJob.objects.filter(status__in=FAILOVER_ACTIVE).select_related("vm_context")
                .order_by("created_at", "id")[:limit])


def running_tests(limit: int = RUNNING_JOBS_SHOWN) -> list[FailoverJob]:
    """Test failovers whose VM is up, waiting to be ended."""
    return list(FailoverJob.objects.filter(job_type="test", status=FailoverStatus.COMPLETED, ended_at__isnull=True)
                .select_related("vm_context").order_by("created_at", "id")[:limit])


@dataclass(frozen=True)
class Failure:
    kind: str  # replication | failover
    job_id: str
    vm_name: str
    vm_pk: int
    when: object
    reason: str
    action: str


def recent_failures(limit: int = FAILURES_SHOWN) -> list[Failure]:
    """The newest failed jobs with why they failed and what to do now."""
    rows = []
    for job in (ReplicationJob.objects.filter(status=ReplicationStatus.FAILED).select_related("vm_context")
                .order_by("-updated_at", "-id")[:limit]):
        rows.append(Failure("replication", job.job_id, job.vm_context.vm_name, job.vm_context_id,
                            job.completed_at or job.updated_at, job.error_message or "no reason recorded",
                            "Retry the sync (it resumes the copy), or start a new one from the VM page"))
    for job in (FailoverJob.objects.filter(status=FailoverStatus.FAILED).select_related("vm_context")
                .order_by("-updated_at", "-id")[:limit]):
        if job.needs_cleanup:
            action = "Clean up what it left behind: Roll back on the VM page"
        elif job.source_power_on_owed:
            action = "Power the source VM on again: Roll back on the VM page"
        else:
            action = "Rolled back completely: check readiness and start the failover again"
        rows.append(Failure("failover", job.job_id, job.vm_context.vm_name, job.vm_context_id,
                            job.completed_at or job.updated_at, job.error_message or "no reason recorded", action))
    rows.sort(key=lambda f: f.when, reverse=True)
    return rows[:limit]


@dataclass(frozen=True)
class AgentRow:
    appliance_id: str
    name: str
    status: str
    version: str
    last_seen: object
    online: bool


def agents() -> list[AgentRow]:
    now = timezone.now()
    rows = []
    for appliance in Appliance.objects.exclude(status=ApplianceStatus.REVOKED).order_by("appliance_id"):
        seen = max((t for t in (appliance.last_seen_at, appliance.tunnel_last_seen_at) if t), default=None)
        rows.append(AgentRow(appliance.appliance_id, appliance.name, appliance.get_status_display(),
                             appliance.version, seen,
                             appliance.status == ApplianceStatus.APPROVED and bool(seen and now - seen < ONLINE_WITHIN)))
    return rows


def pending_approvals() -> int:
    return pending_enrollments().filter(status=EnrollmentStatus.PENDING).count()


@dataclass(frozen=True)
class ConfigHealth:
    pk: int
    name: str
    zone: str
    api_url: str
    is_active: bool
    vm_count: int
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


def cloudstack_health() -> list[ConfigHealth]:
    """Each CloudStack configuration and what it lacks, from what the platform recorded (no call to CloudStack, so
    the dashboard answers quickly; "Test connection" on the configuration asks CloudStack itself)."""
    rows = []
    for config in OsseaConfig.objects.annotate(vms=Count("vm_contexts")).order_by("-is_active", "name"):
        problems = []
        if not config.is_active:
            problems.append("inactive")
        if not config.zone:
            problems.append("no zone")
        if not config.oma_vm_id:
            problems.append("control-plane VM not detected yet (found at the first sync)")
        rows.append(ConfigHealth(config.pk, config.name, config.zone, config.api_url, config.is_active, config.vms,
                                 problems))
    return rows


@dataclass(frozen=True)
class NextSync:
    name: str
    next_run_at: object
    vm_count: int
    description: str


def next_syncs(limit: int = 5) -> list[NextSync]:
    now = timezone.now()
    rows = []
    for schedule in schedules().filter(enabled=True):
        when = timing.next_run_at(schedule.periodic_task, now) if schedule.periodic_task else None
        if when is None:
            continue
        description = (timing.describe_cron(schedule.cron_expression) if schedule.cron_expression
                       else timing.describe_interval(schedule.interval_seconds or 0))
        rows.append(NextSync(schedule.name, when, schedule.vm_count, description))
    rows.sort(key=lambda s: s.next_run_at)
    return rows[:limit]


def dashboard() -> dict:
    replications = running_replications()
    return {
        "vm_states": vm_states(),
        "vm_total": VMContext.objects.count(),
        "replications": replications,
        "replication_count": ReplicationJob.objects.filter(status__in=REPLICATION_ACTIVE).count(),
        "throughput_mbps": sum(j.throughput_mbps or 0 for j in replications),
        "failovers": running_failovers(),
        "tests": running_tests(),
        "failures": recent_failures(),
        "agents": agents(),
        "pending_approvals": pending_approvals(),
        "configs": cloudstack_health(),
        "next_syncs": next_syncs(),
    }
