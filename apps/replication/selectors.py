from __future__ import annotations

from apps.core.registry import Health
from apps.core.utils import iso

from .choices import ACTIVE
from .models import ChangeIdRecord, ReplicationJob, ReplicaVolume


def disk_counters(job: ReplicationJob) -> dict:
    """Job totals of the agent's per-disk counters: data bytes written (``bytes_copied``) and zero/hole bytes
    written as zero requests (``bytes_zeroed``). ``bytes_transferred`` is progress over the job's scope (a full
    sync's scope is the whole disk); these say what actually crossed the wire."""
    disks = job.disk_progress or []
    if isinstance(disks, dict):
        disks = list(disks.values())
    totals = {"bytes_copied": 0, "bytes_zeroed": 0}
    for disk in disks:
        if isinstance(disk, dict):
            for key in totals:
                value = disk.get(key)
                if isinstance(value, int) and value > 0:
                    totals[key] += value
    return totals


def job_summary(job: ReplicationJob) -> dict:
    return {
        "id": job.job_id, "job_id": job.job_id, "status": job.status, "replication_type": job.replication_type,
        "progress_percent": round(job.progress_percent, 2), "current_operation": job.current_operation,
        "bytes_transferred": job.bytes_transferred, "bytes_total": job.bytes_total, **disk_counters(job),
        "vma_throughput_mbps": round(job.throughput_mbps, 2), "vma_eta_seconds": job.eta_seconds,
        "error_message": job.error_message or None, "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at), "created_at": iso(job.created_at),
    }


def current_job(vm_context) -> ReplicationJob | None:
    return ReplicationJob.objects.filter(vm_context=vm_context, status__in=ACTIVE).order_by("-created_at").first()


def recent_jobs(vm_context, limit: int = 10) -> list[ReplicationJob]:
    return list(ReplicationJob.objects.filter(vm_context=vm_context).order_by("-created_at", "-id")[:limit])


def cbt_history(vm_context, limit: int = 20) -> list[dict]:
    return [{"job_id": r.job.job_id, "disk_id": r.disk_id, "vm_path": r.vm_path, "change_id": r.change_id,
             "created_at": iso(r.created_at)}
            for r in ChangeIdRecord.objects.filter(vm_context=vm_context).select_related("job")[:limit]]


def health() -> Health:
    return Health(metrics={"active_replication_jobs": ReplicationJob.objects.filter(status__in=ACTIVE).count(),
                           "ossea_volumes": ReplicaVolume.objects.count()})
