"""The built-in intent matcher: a question in plain words to one read of our own data, and its answer in markdown.

A question is read in three steps: its scope is taken off (`on tenant <name>`, `for project <name>`, `on host
<hostname>`), its words are expanded to the matcher's vocabulary ("powered on" -> "active", "vm" -> "vms",
"tenant" -> "project"...), and the first intent whose patterns all match answers. Intents read the portal's
collected CloudStack tables (apps/portal) or, for migrations, the platform's VM contexts, replication and failover
jobs; none of them changes anything. A question no intent matches is `None` (the caller says so, or asks the LLM).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.failover.choices import ACTIVE as FAILOVER_ACTIVE
from apps.failover.models import FailoverJob
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.portal import models as cloud
from apps.portal import selectors as portal_selectors
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.models import ReplicationJob

LIST_LIMIT = 20
_NAME = r"([\w][\w.\-]*)"
TENANT_SCOPE = re.compile(rf"\b(?:on|for|in|of)\s+(?:the\s+)?(?:tenant|project|account)\s+{_NAME}", re.I)
HOST_SCOPE = re.compile(rf"\b(?:on|for|in)\s+(?:the\s+)?(?:host|hypervisor)\s+{_NAME}", re.I)

# Phrase -> the matcher's word, in order (longer phrases first).
SYNONYMS: tuple[tuple[str, str], ...] = (
    (r"powered[\s-]on|turned on|switched on|running", "active"),
    (r"powered[\s-]off|turned off|switched off|shut[\s-]?off|shut[\s-]?down|stopped|halted", "shutoff"),
    (r"virtual machines?|instances?|servers?|guests?|vm", "vms"),
    (r"tenants|accounts", "projects"),
    (r"tenant|account", "project"),
    (r"hypervisors?|compute nodes?|host", "hosts"),
    (r"disks?|volume", "volumes"),
    (r"not attached|unattached|detached|orphan(?:ed|s)?|unused|dangling|free volumes", "unattached"),
    (r"snapshot|backups?", "snapshots"),
    (r"in error|errored|erroring|broken|errors", "error"),
    (r"failures?|failing|unsuccessful", "failed"),
    (r"most loaded|highest cpu|hottest|heaviest|top|most used|overloaded", "busiest"),
    (r"failover", "failovers"),
    (r"replication|syncs?|sync jobs?", "replications"),
    (r"how many|number of|count of|count|total", "howmany"),
    (r"list|show|which|what are|display|give me", "list"),
)
_SYNONYMS = [(re.compile(rf"\b(?:{pattern})\b"), word) for pattern, word in SYNONYMS]


def expand(text: str) -> str:
    """The question in the matcher's vocabulary: lower case, punctuation gone, synonyms replaced."""
    text = re.sub(r"[^\w\s.\-]", " ", text.lower())
    for pattern, word in _SYNONYMS:
        text = pattern.sub(word, text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Scope:
    """What the question was narrowed to, and notes for the answer where a read cannot be narrowed."""

    tenant: str | None = None
    host: str | None = None
    notes: list[str] = field(default_factory=list)

    def servers(self, rows=None):
        return self._narrowed(rows, cloud.Server,
                              lambda: Q(hypervisor_hostname__iexact=self.host) | Q(hypervisor_id=self.host))

    def volumes(self, rows=None):
        return self._narrowed(rows, cloud.Volume, lambda: Q(server_id__in=self.servers().values("cloud_id")))

    def snapshots(self, rows=None):
        return self._narrowed(rows, cloud.Snapshot, lambda: Q(volume_id__in=self.volumes().values("cloud_id")))

    def owned(self, model):
        """A collected table whose rows have an owner but no host."""
        self.unscoped("host", model._meta.verbose_name_plural)
        return self._narrowed(None, model)

    def _narrowed(self, rows, model, on_host: Callable[[], Q] | None = None):
        """`rows` (else all of `model`) narrowed to the tenant asked for, and to the host asked for where the rows
        know their host: `on_host` builds that condition (only when a host was asked for)."""
        rows = model.objects.all() if rows is None else rows
        if self.tenant:
            rows = rows.filter(_tenant_q(self.tenant))
        if self.host and on_host:
            rows = rows.filter(on_host())
        return rows

    def hosts(self):
        rows = cloud.Host.objects.all()
        if self.host:
            rows = rows.filter(Q(name__iexact=self.host) | Q(cloud_id=self.host) | Q(ip_address=self.host))
        self.unscoped("tenant", "hosts")
        return rows

    def unscoped(self, kind: str, what: str) -> None:
        value = self.tenant if kind == "tenant" else self.host
        if value:
            self.notes.append(f"{what.capitalize()} are not owned by a {kind}: this counts all of them.")

    def header(self) -> str:
        lines = []
        if self.tenant:
            lines.append(f"📌 *Filtered by tenant/project: **{self.tenant}***")
        if self.host:
            lines.append(f"📌 *Filtered by host: **{self.host}***")
        return "\n".join(lines) + "\n\n" if lines else ""


def _tenant_q(name: str) -> Q:
    return Q(tenant_name__iexact=name) | Q(tenant_id=name) | Q(account__iexact=name)


def parse_scope(question: str) -> tuple[Scope, str]:
    """The scope named in the question, and the question without it."""
    scope = Scope()
    if match := HOST_SCOPE.search(question):
        scope.host = match.group(1).rstrip(".-")
        question = question[:match.start()] + question[match.end():]
    if match := TENANT_SCOPE.search(question):
        scope.tenant = match.group(1).rstrip(".-")
        question = question[:match.start()] + question[match.end():]
    return scope, question


def unknown_scope(scope: Scope) -> str | None:
    """Why the scope names nothing we collected, if it does not."""
    if scope.tenant and not (
            cloud.Account.objects.filter(name__iexact=scope.tenant).exists()
            or cloud.Project.objects.filter(Q(name__iexact=scope.tenant) | Q(cloud_id=scope.tenant)).exists()
            or cloud.Server.objects.filter(_tenant_q(scope.tenant)).exists()):
        return f"No tenant or project named **{scope.tenant}** is in the collected CloudStack data."
    if scope.host and not cloud.Host.objects.filter(
            Q(name__iexact=scope.host) | Q(cloud_id=scope.host) | Q(ip_address=scope.host)).exists():
        return f"No host named **{scope.host}** is in the collected CloudStack data."
    return None


# -- wording --------------------------------------------------------------------------------------------------------


def _n(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    plural = plural or singular + "s"
    return f"There {'is' if n == 1 else 'are'} **{n}** {singular if n == 1 else plural}."


def _bullets(rows, describe: Callable, total: int | None = None) -> str:
    rows = list(rows[:LIST_LIMIT])
    total = len(rows) if total is None else total
    lines = [f"- {describe(row)}" for row in rows]
    if total > len(rows):
        lines.append(f"- …and {total - len(rows)} more")
    return "\n".join(lines)


def _listing(rows, heading: str, describe: Callable, none: str) -> str:
    total = rows.count()
    if not total:
        return none
    return f"{heading} (**{total}**):\n\n{_bullets(rows, describe, total)}"


def _vm(row) -> str:
    where = f" on {row.hypervisor_hostname}" if row.hypervisor_hostname else ""
    return f"**{row.name}** ({row.status}, {row.tenant_name or row.account or 'no owner'}{where})"


def _since(text: str) -> tuple[timezone.datetime | None, str]:
    """The period a question names (today, yesterday, this week, the last N days), else all time."""
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if "today" in text:
        return midnight, " today"
    if "yesterday" in text:
        return midnight - timedelta(days=1), " since yesterday"
    if match := re.search(r"\b(?:last|past)\s+(\d{1,4})\s+days?\b", text):
        days = int(match.group(1))
        return now - timedelta(days=days), f" in the last {days} days"
    if re.search(r"\b(?:this|last|past) week\b", text):
        return now - timedelta(days=7), " in the last 7 days"
    return None, ""


# -- the portal's collected CloudStack tables --------------------------------------------------------------------


def vm_count(scope, text):
    rows = scope.servers()
    by_status = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    detail = ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
    where = "" if scope.tenant or scope.host else " across all tenants"
    n = sum(by_status.values())
    return f"There {'is' if n == 1 else 'are'} **{n}** VM{'' if n == 1 else 's'}{where}." + (
        f" ({detail})" if detail else "")


def vm_list(scope, text):
    return _listing(scope.servers().order_by("name"), "VMs", _vm, "There are no VMs.")


def _vms_in(status: str, singular: str, plural: str):
    def answer(scope, text):
        rows = scope.servers().filter(status=status).order_by("name")
        head = _count(rows.count(), singular, plural)
        if "list" in text or status == "ERROR":
            return head + ("\n\n" + _bullets(rows, _vm, rows.count()) if rows.exists() else "")
        return head
    return answer


def _vms_per(column: str, heading: str, blank: str):
    def answer(scope, text):
        rows = scope.servers().values(column).annotate(n=Count("id")).order_by("-n", column)
        if not rows:
            return "There are no VMs."
        return f"VMs per {heading}:\n\n" + "\n".join(
            f"- **{row[column] or blank}**: {row['n']}" for row in rows[:LIST_LIMIT])
    return answer


def host_count(scope, text):
    return _count(scope.hosts().count(), "host")


def host_list(scope, text):
    return _listing(scope.hosts().order_by("name"), "Hosts",
                    lambda h: f"**{h.name}** ({h.state or 'unknown'}, {h.ip_address or 'no address'}, "
                              f"CPU {h.cpu_used_percent:.1f}%)", "There are no hosts.")


def _memory_percent(host) -> float:
    return round(100 * host.memory_used_mb / host.memory_total_mb, 1) if host.memory_total_mb else 0.0


def busiest_hosts(scope, text):
    hosts = list(scope.hosts().order_by("-cpu_used_percent", "name")[:5])
    if not hosts:
        return "There are no hosts."
    vms = dict(cloud.Server.objects.filter(hypervisor_id__in=[h.cloud_id for h in hosts]).values_list(
        "hypervisor_id").annotate(n=Count("id")).order_by())
    return "Busiest hosts by CPU:\n\n" + "\n".join(
        f"{rank}. **{h.name}**: CPU {h.cpu_used_percent:.1f}%, memory {_memory_percent(h):.1f}%, "
        f"{_n(vms.get(h.cloud_id, 0), 'VM')}" for rank, h in enumerate(hosts, 1))


def volume_count(scope, text):
    rows = scope.volumes()
    size = rows.aggregate(gb=Sum("size_gb"))["gb"] or 0
    return _count(rows.count(), "volume") + f" They hold **{size} GB** in all."


def unattached_volumes(scope, text):
    rows = scope.volumes().filter(server_id="").order_by("name")
    total = rows.count()
    size = rows.aggregate(gb=Sum("size_gb"))["gb"] or 0
    head = _count(total, "volume not attached to a VM", "volumes not attached to a VM")
    if not total:
        return head
    return f"{head} They hold **{size} GB**.\n\n" + _bullets(
        rows, lambda v: f"**{v.name}** ({v.size_gb} GB, {v.tenant_name or v.account or 'no owner'})", total)


def volumes_without_snapshots(scope, text):
    covered = cloud.Snapshot.objects.values("volume_id")
    rows = scope.volumes().exclude(cloud_id__in=covered).order_by("name")
    total = rows.count()
    head = _count(total, "volume with no snapshot", "volumes with no snapshot")
    return head + ("\n\n" + _bullets(rows, lambda v: f"**{v.name}** ({v.tenant_name or v.account})", total)
                   if total else "")


def old_snapshots(scope, text):
    days = 7
    if match := re.search(r"\b(?:older than|over|more than|at least)\s+(\d{1,5})\s*(day|week|month)s?\b", text):
        days = min(int(match.group(1)) * {"day": 1, "week": 7, "month": 30}[match.group(2)], 36500)
    cutoff = timezone.now() - timedelta(days=days)
    rows = scope.snapshots().filter(created__lt=cutoff).order_by("created")
    total = rows.count()
    head = _count(total, f"snapshot older than {days} days", f"snapshots older than {days} days")
    return head + ("\n\n" + _bullets(
        rows, lambda s: f"**{s.name}** of {s.volume_name or s.volume_id} ({s.created:%Y-%m-%d}, {s.size_gb} GB)",
        total) if total else "")


def snapshot_count(scope, text):
    rows = scope.snapshots()
    size = rows.aggregate(gb=Sum("size_gb"))["gb"] or 0
    return _count(rows.count(), "snapshot") + f" They hold **{size} GB**."


def tenant_usage(scope, text):
    servers, volumes = scope.servers(), scope.volumes()
    use = servers.aggregate(vcpus=Sum("vcpus"), ram=Sum("ram_mb"))
    active = servers.filter(status="ACTIVE").count()
    lines = [f"- VMs: **{servers.count()}** ({active} active)", f"- vCPUs: **{use['vcpus'] or 0}**",
             f"- Memory: **{round((use['ram'] or 0) / 1024, 1)} GB**",
             f"- Volumes: **{volumes.count()}**, **{volumes.aggregate(gb=Sum('size_gb'))['gb'] or 0} GB**",
             f"- Snapshots: **{scope.snapshots().count()}**"]
    note = "\n\nLimits per tenant are at /tenant-health/quota/{project_id}." if "quota" in text else ""
    return "Resources in use:\n\n" + "\n".join(lines) + note


def tenant_list(scope, text):
    rows = cloud.Server.objects.values("tenant_name").annotate(n=Count("id")).order_by("tenant_name")
    accounts = list(cloud.Account.objects.order_by("name").values_list("name", flat=True))
    projects = list(cloud.Project.objects.order_by("name").values_list("name", flat=True))
    vms = {row["tenant_name"]: row["n"] for row in rows}
    names = sorted(set(accounts) | set(projects))
    if "howmany" in text:
        return _count(len(names), "tenant/project", "tenants/projects")
    return f"Tenants/projects (**{len(names)}**):\n\n" + "\n".join(
        f"- **{name}** ({_n(vms.get(name, 0), 'VM')})" for name in names[:LIST_LIMIT * 5])


def networks(scope, text):
    return _listing(scope.owned(cloud.Network).order_by("name"), "Networks",
                    lambda n: f"**{n.name}** ({n.cidr or 'no CIDR'}, {n.network_type or 'unknown type'})",
                    "There are no networks.")


def floating_ips(scope, text):
    return _listing(scope.owned(cloud.FloatingIP).order_by("ip_address"), "Public IP addresses",
                    lambda f: f"**{f.ip_address}** ({'source NAT' if f.is_source_nat else f.server_name or 'free'})",
                    "There are no public IP addresses.")


def security_groups(scope, text):
    return _listing(scope.owned(cloud.SecurityGroup).order_by("name"), "Security groups",
                    lambda g: f"**{g.name}** ({_n(len(g.rules), 'rule')}, {_n(g.vm_count, 'VM')})",
                    "There are no security groups.")


def offerings(scope, text):
    return _listing(cloud.ServiceOffering.objects.order_by("name"), "Service offerings (flavors)",
                    lambda o: f"**{o.name}** ({o.vcpus or '?'} vCPU, {o.ram_mb or '?'} MB)",
                    "There are no service offerings.")


def templates(scope, text):
    return _listing(cloud.Template.objects.order_by("name"), "Templates (images)",
                    lambda t: f"**{t.name}** ({t.os_type or 'unknown OS'})", "There are no templates.")


def storage_pools(scope, text):
    return _listing(cloud.StoragePool.objects.order_by("name"), "Primary storage pools",
                    lambda p: f"**{p.name}**: {p.used_gb} of {p.total_gb} GB used", "There are no storage pools.")


def recent_changes(scope, text):
    since, period = _since(text)
    since = since or timezone.now() - timedelta(days=1)
    period = period or " in the last 24 hours"
    rows = cloud.Change.objects.filter(detected_at__gte=since)
    if scope.tenant:
        rows = rows.filter(Q(tenant_name__iexact=scope.tenant) | Q(tenant_id=scope.tenant))
    total = rows.count()
    return f"**{total}** change{'' if total == 1 else 's'} detected{period}." + (
        "\n\n" + _bullets(rows, lambda c: f"{c.resource_type} **{c.resource_name or c.resource_id}** {c.action} "
                                          f"({c.detected_at:%Y-%m-%d %H:%M})", total) if total else "")


def drift(scope, text):
    rows = cloud.DriftEvent.objects.filter(acknowledged=False)
    if scope.tenant:
        rows = rows.filter(Q(tenant_name__iexact=scope.tenant) | Q(tenant_id=scope.tenant))
    total = rows.count()
    return _count(total, "unacknowledged drift event", "unacknowledged drift events") + (
        "\n\n" + _bullets(rows, lambda d: f"{d.severity}: {d.resource_type} **{d.resource_name}** {d.field_name} "
                                          f"{d.old_value} → {d.new_value}", total) if total else "")


def collection_status(scope, text):
    fresh = portal_selectors.freshness()
    if not fresh["collected_at"]:
        return "No collection of CloudStack has succeeded yet."
    answer = f"CloudStack was last collected at **{fresh['collected_at']:%Y-%m-%d %H:%M:%S} UTC** " \
             f"({fresh['data_age_seconds']} s ago)."
    return answer + (f" The latest run failed: {fresh['last_error']}" if fresh["last_error"] else "")


# -- the migration platform's own data ------------------------------------------------------------------------


def _migration_scope(scope) -> None:
    if scope.tenant or scope.host:
        scope.notes.append("Migration jobs belong to no CloudStack tenant or host: this counts all of them.")


def replicating_vms(scope, text):
    _migration_scope(scope)
    jobs = ReplicationJob.objects.filter(status__in=REPLICATION_ACTIVE).select_related("vm_context")
    names = sorted({job.vm_context.vm_name for job in jobs})
    head = _count(len(names), "VM replicating", "VMs replicating")
    return head + ("\n\n" + "\n".join(f"- **{name}**" for name in names[:LIST_LIMIT]) if names else "")


def _failed(scope, text, model, what: str, describe: Callable) -> str:
    """Failed jobs of a kind, in the period the question names (a job's end, else its last change)."""
    _migration_scope(scope)
    since, period = _since(text)
    rows = model.objects.filter(status="failed").select_related("vm_context")
    if since:
        rows = rows.filter(Q(completed_at__gte=since) | Q(completed_at__isnull=True, updated_at__gte=since))
    total = rows.count()
    return f"**{total}** {what}{'' if total == 1 else 's'} failed{period}." + (
        "\n\n" + _bullets(rows.order_by("-updated_at"), describe, total) if total else "")


def _by_status(scope, model, what: str) -> str:
    _migration_scope(scope)
    counts = dict(model.objects.values_list("status").annotate(n=Count("id")).order_by())
    if not counts:
        return f"There are no {what}."
    return f"{what.capitalize()} by status:\n\n" + "\n".join(f"- {s}: **{n}**" for s, n in sorted(counts.items()))


def failed_replications(scope, text):
    return _failed(scope, text, ReplicationJob, "replication job", lambda j: (
        f"**{j.vm_context.vm_name}** ({j.job_id}): {j.error_message or 'no error recorded'}"))


def replication_summary(scope, text):
    return _by_status(scope, ReplicationJob, "replication jobs")


def failed_failovers(scope, text):
    return _failed(scope, text, FailoverJob, "failover", lambda j: (
        f"**{j.vm_context.vm_name}** ({j.job_type}, {j.job_id}): {j.error_message or 'no error recorded'}"))


def failover_summary(scope, text):
    return _by_status(scope, FailoverJob, "failover jobs")


def migration_vms(scope, text):
    _migration_scope(scope)
    counts = dict(VMContext.objects.values_list("current_status").annotate(n=Count("id")).order_by())
    total = sum(counts.values())
    return f"The platform tracks **{total}** VMware VM{'' if total == 1 else 's'} for migration." + (
        "\n\n" + "\n".join(f"- {status}: **{n}**" for status, n in sorted(counts.items())) if total else "")


def largest_vms(scope, text):
    rows = scope.servers().order_by("-ram_mb", "-vcpus", "name")
    return _listing(rows, "VMs, largest first", lambda v: f"**{v.name}** ({v.vcpus} vCPU, {v.ram_mb} MB, "
                                                           f"{v.flavor_name or 'custom'})", "There are no VMs.")


def largest_volumes(scope, text):
    rows = scope.volumes().order_by("-size_gb", "name")
    return _listing(rows, "Volumes, largest first", lambda v: f"**{v.name}** ({v.size_gb} GB, "
                                                              f"{v.server_name or 'not attached'})",
                    "There are no volumes.")


def vms_without_ip(scope, text):
    rows = scope.servers().filter(ips="").order_by("name")
    total = rows.count()
    return _count(total, "VM without an IP address", "VMs without an IP address") + (
        "\n\n" + _bullets(rows, _vm, total) if total else "")


def domains(scope, text):
    return _listing(cloud.Domain.objects.order_by("path", "name"), "Domains",
                    lambda d: f"**{d.name}** ({d.path or '/'})", "There are no domains.")


def storage_capacity(scope, text):
    pools = cloud.StoragePool.objects.aggregate(total=Sum("total_gb"), used=Sum("used_gb"), allocated=Sum("allocated_gb"))
    volumes = scope.volumes().aggregate(gb=Sum("size_gb"))["gb"] or 0
    total, used = pools["total"] or 0, pools["used"] or 0
    share = f" ({round(100 * used / total, 1)}%)" if total else ""
    return (f"Primary storage: **{used} GB** used of **{total} GB**{share}, {pools['allocated'] or 0} GB "
            f"allocated.\n\nVolumes{' in scope' if scope.tenant or scope.host else ''} hold **{volumes} GB**.")


def _contexts_in(status: str, singular: str, plural: str):
    def answer(scope, text):
        _migration_scope(scope)
        rows = VMContext.objects.filter(current_status=status).order_by("vm_name")
        total = rows.count()
        return _count(total, singular, plural) + (
            "\n\n" + _bullets(rows, lambda c: f"**{c.vm_name}**", total) if total else "")
    return answer


def running_failovers(scope, text):
    _migration_scope(scope)
    rows = FailoverJob.objects.filter(status__in=FAILOVER_ACTIVE).select_related("vm_context").order_by("-created_at")
    total = rows.count()
    return _count(total, "failover in progress", "failovers in progress") + (
        "\n\n" + _bullets(rows, lambda j: f"**{j.vm_context.vm_name}** ({j.job_type}, {j.status}, "
                                            f"{j.progress:.0f}%)", total) if total else "")


def help_answer(scope, text):
    return ("I answer questions about the collected CloudStack data (VMs, hosts, volumes, snapshots, tenants, "
            "networks, changes, drift) and the migrations (replications, failovers). Add \"on tenant <name>\" or "
            "\"on host <hostname>\" to narrow a question. I only read; I never change anything.")


@dataclass(frozen=True)
class Intent:
    name: str
    patterns: tuple[str, ...]  # all must match the expanded question
    answer: Callable
    portal: bool = True  # reads the collected CloudStack tables (the answer says when they were collected)


VMS, HOSTS, VOLUMES, SNAPSHOTS = r"\bvms\b", r"\bhosts\b", r"\bvolumes\b", r"\bsnapshots\b"

# First match wins: the narrower intents come before the broader ones they overlap.
INTENTS: tuple[Intent, ...] = (
    Intent("help", (r"^(?:help|what can you do|what do you know)\b",), help_answer, portal=False),
    Intent("replicating_vms", (r"\breplicating\b|\bactive replications\b|\breplications\b.*\bactive\b",),
           replicating_vms, portal=False),
    Intent("failed_replications", (r"\breplications\b", r"\bfailed\b|\berror\b"), failed_replications, portal=False),
    Intent("failed_failovers", (r"\bfailovers\b", r"\bfailed\b|\berror\b"), failed_failovers, portal=False),
    Intent("running_failovers", (r"\bfailovers\b", r"\bactive\b|\bin progress\b|\bongoing\b"), running_failovers,
           portal=False),
    Intent("ready_for_failover", (r"\bready\b", r"\bfailovers\b|\bcutover\b|\bmigrat\w*\b"),
           _contexts_in(VMContextStatus.READY_FOR_FAILOVER, "VM ready for failover", "VMs ready for failover"), portal=False),
    Intent("failover_summary", (r"\bfailovers\b",), failover_summary, portal=False),
    Intent("replication_summary", (r"\breplications\b",), replication_summary, portal=False),
    Intent("failed_migrations", (r"\bmigrat\w*\b", r"\bfailed\b|\berror\b"),
           _contexts_in(VMContextStatus.FAILED, "VM whose migration failed", "VMs whose migration failed"), portal=False),
    # "Should we migrate X?" is advice, not a count: the subject needs VMs, a status or a count.
    Intent("migration_vms", (r"\bmigrat\w*\b|\bvmware\b|\bvcenter\b", r"\bvms\b|\bstatus\b|\bhowmany\b|\blist\b"),
           migration_vms, portal=False),
    # Its answer is the freshness note itself.
    Intent("collection_status", (r"\bcollect\w*\b|\bfresh\w*\b|\blast updated?\b",), collection_status, portal=False),
    Intent("error_vms", (VMS, r"\berror\b|\bfailed\b"), _vms_in("ERROR", "VM in error", "VMs in error")),
    Intent("powered_on_vms", (VMS, r"\bactive\b"), _vms_in("ACTIVE", "powered-on (active) VM", "powered-on (active) VMs")),
    Intent("powered_off_vms", (VMS, r"\bshutoff\b"), _vms_in("SHUTOFF", "powered-off (shutoff) VM", "powered-off (shutoff) VMs")),
    Intent("largest_vms", (VMS, r"\blargest\b|\bbiggest\b|\bmost (?:memory|ram|cpus?|vcpus?)\b"), largest_vms),
    Intent("vms_without_ip", (VMS, r"\bwithout\b|\bno\b|\bmissing\b", r"\bips?\b|\baddress\w*\b"),
           vms_without_ip),
    Intent("flavor_usage", (r"\bflavou?rs?\b|\bofferings?\b", r"\bused\b|\bmost\b|\bpopular\b|\bper\b|\bby\b"),
           _vms_per("flavor_name", "service offering (flavor)", "custom")),
    Intent("busiest_hosts", (HOSTS, r"\bbusiest\b|\butili[sz]\w*\b|\bload\w*\b|\bcpu\b|\bmemory\b"), busiest_hosts),
    Intent("host_count", (HOSTS, r"\bhowmany\b"), host_count),
    Intent("host_list", (HOSTS,), host_list),
    Intent("vms_by_tenant", (VMS, r"\b(?:per|by|each|every)\s+projects?\b|\bprojects?\b.*\bmost\b"),
           _vms_per("tenant_name", "tenant/project", "no owner")),
    Intent("tenant_usage", (r"\busage\b|\bquotas?\b|\bconsum\w*\b|\bresources?\b|\bfootprint\b",), tenant_usage),
    Intent("volumes_without_snapshots", (VOLUMES, SNAPSHOTS, r"\bwithout\b|\bno\b|\bmissing\b|\bnever\b|\bnot\b"),
           volumes_without_snapshots),
    Intent("largest_volumes", (VOLUMES, r"\blargest\b|\bbiggest\b"), largest_volumes),
    Intent("old_snapshots", (SNAPSHOTS, r"\bolder\b|\bold\b|\bstale\b|\bover\b|\bmore than\b"), old_snapshots),
    Intent("snapshot_count", (SNAPSHOTS,), snapshot_count),
    Intent("unattached_volumes", (VOLUMES, r"\bunattached\b"), unattached_volumes),
    Intent("unattached_volumes", (r"\bunattached\b",), unattached_volumes),
    Intent("volume_count", (VOLUMES,), volume_count),
    Intent("tenant_list", (r"\bprojects\b",), tenant_list),
    Intent("networks", (r"\bnetworks?\b|\bsubnets?\b",), networks),
    Intent("floating_ips", (r"\bfloating\b|\bpublic ips?\b|\bip addresses\b",), floating_ips),
    Intent("security_groups", (r"\bsecurity groups?\b|\bfirewall\w*\b",), security_groups),
    Intent("offerings", (r"\bflavou?rs?\b|\bofferings?\b|\bsizes?\b",), offerings),
    Intent("templates", (r"\btemplates?\b|\bimages?\b",), templates),
    Intent("storage_pools", (r"\bstorage pools?\b|\bprimary storage\b|\bdatastores?\b|\bpools?\b",), storage_pools),
    Intent("storage_capacity", (r"\bcapacity\b|\bstorage\b",), storage_capacity),
    Intent("domains", (r"\bdomains?\b",), domains),
    Intent("recent_changes", (r"\bchange[sd]?\b|\bmodified\b|\bcreated\b|\bdeleted\b",), recent_changes),
    Intent("drift", (r"\bdrift\w*\b",), drift),
    Intent("vm_list", (VMS, r"\blist\b"), vm_list),
    Intent("vm_count", (VMS,), vm_count),
)
_COMPILED = [(intent, [re.compile(p) for p in intent.patterns]) for intent in INTENTS]


@dataclass
class Answer:
    intent: str
    text: str
    confidence: float


def match(question: str) -> Answer | None:
    """The built-in answer to a question, or None when no intent matches it."""
    scope, rest = parse_scope(question)
    text = expand(rest)
    if not text and (scope.tenant or scope.host):
        text = "resources"  # "on tenant acme" alone: what it uses
    intent = next((intent for intent, patterns in _COMPILED if all(p.search(text) for p in patterns)), None)
    if intent is None:
        return None
    if intent.portal and (why := unknown_scope(scope)):
        return Answer(intent.name, scope.header() + why, 1.0)
    body = intent.answer(scope, text)
    notes = "".join(f"\n\n_{note}_" for note in dict.fromkeys(scope.notes))
    if intent.portal:
        fresh = portal_selectors.freshness()
        notes += (f"\n\n_Collected from CloudStack {fresh['data_age_seconds']} s ago._" if fresh["collected_at"]
                  else "\n\n_No collection of CloudStack has succeeded yet: the collected tables are empty._")
    return Answer(intent.name, scope.header() + body + notes, 1.0)
