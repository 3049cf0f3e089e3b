"""What the VM and job pages show: a VM with its disks, NICs, syncs, change ids, mappings and jobs; a job with its
disks, events, plan and validation as rows a person reads."""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.jobs import job_event_rows
from apps.failover import selectors as failover_selectors
from apps.failover import services as failover_services
from apps.failover.models import FailoverJob, NetworkMapping
from apps.inventory.models import VMContext
from apps.replication import selectors as replication_selectors
from apps.replication.models import ReplicationJob, ReplicaVolume

SYNC_HISTORY = 20


@dataclass(frozen=True)
class MappingRow:
    source_network_name: str
    is_test_network: bool
    destination_network_id: str
    destination_network_name: str

    @property
    def kind(self) -> str:
        return "test" if self.is_test_network else "live"


def mapping_rows(vm: VMContext) -> list[MappingRow]:
    """One row per source network and kind (live, test): mapped or not, so each can be set in place."""
    mapped = {(m.source_network_name, m.is_test_network): m for m in NetworkMapping.objects.filter(vm_context=vm)}
    sources = list(dict.fromkeys(n.network_name for n in vm.nics.all() if n.network_name))
    sources += [name for name, _ in mapped if name not in sources]
    rows = []
    for source in sources:
        for is_test in (False, True):
            found = mapped.get((source, is_test))
            rows.append(MappingRow(source, is_test, found.destination_network_id if found else "",
                                   found.destination_network_name if found else ""))
    return rows


@dataclass(frozen=True)
class SyncRow:
    job: ReplicationJob
    seconds: int | None  # how long it took, once finished
    average_mbps: float | None  # its scope (bytes_transferred) over that time, MB/s


def sync_rows(jobs: list[ReplicationJob]) -> list[SyncRow]:
    rows = []
    for job in jobs:
        seconds = average = None
        if job.started_at and job.completed_at:
            elapsed = max((job.completed_at - job.started_at).total_seconds(), 0.001)
            seconds = int(elapsed)
            average = job.bytes_transferred / elapsed / 1e6 if job.bytes_transferred else None
        rows.append(SyncRow(job, seconds, average))
    return rows


def throughput_chart(rows: list[SyncRow], width: int = 560, height: int = 160) -> dict:
    """Bars of each finished sync's average speed (MB/s), oldest first, scaled into an SVG box."""
    points = [(row.job, row.average_mbps) for row in reversed(rows) if row.average_mbps]
    if not points:
        return {"bars": [], "width": width, "height": height, "max": 0}
    peak = max(speed for _, speed in points) or 1.0
    slot = width / len(points)
    bars = [{"x": round(i * slot + slot * 0.15, 1), "w": round(slot * 0.7, 1),
             "h": round((height - 20) * speed / peak, 1), "y": round(height - (height - 20) * speed / peak, 1),
             "speed": speed, "job": job} for i, (job, speed) in enumerate(points)]
    return {"bars": bars, "width": width, "height": height, "max": peak}


def vm_page(vm: VMContext) -> dict:
    history = sync_rows(replication_selectors.recent_jobs(vm, SYNC_HISTORY))
    return {
        "vm": vm,
        "disks": list(vm.disks.all()),
        "nics": list(vm.nics.all()),
        "replicas": {r.disk_id: r for r in ReplicaVolume.objects.filter(vm_context=vm)},
        "history": history,
        "chart": throughput_chart(history),
        "change_ids": replication_selectors.cbt_history(vm),
        "mappings": mapping_rows(vm),
        "failovers": list(FailoverJob.objects.filter(vm_context=vm).order_by("-created_at", "-id")[:10]),
        **vm_live(vm),
    }


def vm_live(vm: VMContext) -> dict:
    """The part of the VM page that moves: its state, the running sync and the latest failover."""
    return {"vm": vm, "current_sync": replication_selectors.current_job(vm),
            "latest_failover": failover_services.latest_job(vm)}


def disk_rows(job: ReplicationJob) -> list[dict]:
    disks = job.disk_progress or []
    if isinstance(disks, dict):
        disks = [{"disk_id": key, **value} for key, value in disks.items() if isinstance(value, dict)]
    return [d for d in disks if isinstance(d, dict)]


def replication_page(job: ReplicationJob) -> dict:
    return {"job": job, "disks": disk_rows(job), "events": job_event_rows("replication", job.job_id, 200),
            "counters": replication_selectors.disk_counters(job)}


def failover_page(job: FailoverJob) -> dict:
    validation = job.validation_result or {}
    return {"job": job, "events": job_event_rows("failover", job.job_id, 200),
            "volumes": list(failover_selectors.job_volumes(job)),
            "plan": job.plan or {}, "checks": validation.get("checks", []),
            "required_actions": validation.get("required_actions", []),
            "resources": list(failover_selectors.cloud_resources(job)),
            "decision": failover_selectors.rollback_decision(job, job.job_type, job.vm_context.vm_name)}
