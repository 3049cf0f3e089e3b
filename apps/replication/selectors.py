"""Reads worth a name: a job's disk counters, a VM context's current and recent jobs and its change-id history."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Sum

from apps.core.registry import Health
from apps.inventory.models import VMContext
from apps.inventory.selectors import vm_contexts

from .choices import ACTIVE, ReplicationStatus, ReplicationType, VolumeStatus
from .models import ChangeIdRecord, ReplicationJob, ReplicaVolume


def data_volume_slots() -> tuple[int, int]:
    """(in use or promised, limit) of the data-volume slots of the control plane's VM: every replica stays attached
    to it between syncs, and an active job of a VM without its replicas yet will attach one per missing disk."""
    used = ReplicaVolume.objects.filter(status=VolumeStatus.ATTACHED_TO_OMA).count()
    for job in ReplicationJob.objects.filter(status__in=ACTIVE).select_related("vm_context"):
        used += missing_replicas(job.vm_context)
    return used, settings.MP_OMA_MAX_DATA_VOLUMES


def missing_replicas(vm_context: VMContext) -> int:
    """Disks of the VM without a replica volume: the attachments its next sync adds."""
    have = set(ReplicaVolume.objects.filter(vm_context=vm_context).values_list("disk_unit_number", flat=True))
    return sum(1 for unit in vm_context.disks.values_list("unit_number", flat=True) if unit not in have)


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


MEASURED_JOBS = 50  # the latest completed syncs the measurements take (recent network and storage conditions)


@dataclass(frozen=True)
class Measured:
    """What our own completed syncs achieved: the median copy speed of one VM's sync (Mbit/s) and the median share
    of a VM's disks an incremental sync carried (%, None until an incremental completed)."""

    jobs: int
    stream_mbps: float
    incremental_jobs: int
    change_rate_pct: float | None


def measured_transfer(limit: int = MEASURED_JOBS) -> Measured | None:
    """None until a sync completed. Syncs run under a bandwidth cap say nothing about capacity and are left out."""
    jobs = list(ReplicationJob.objects.filter(status=ReplicationStatus.COMPLETED, bandwidth_limit__isnull=True,
                                              started_at__isnull=False, completed_at__isnull=False,
                                              bytes_transferred__gt=0)
                .annotate(capacity=Sum("vm_context__disks__capacity_bytes"))
                .order_by("-completed_at", "-id")[:limit])
    speeds = [job.bytes_transferred * 8 / 1e6 / elapsed for job in jobs
              if (elapsed := (job.completed_at - job.started_at).total_seconds()) > 0]
    if not speeds:
        return None
    changes = [100.0 * job.bytes_transferred / job.capacity for job in jobs
               if job.replication_type == ReplicationType.INCREMENTAL and job.capacity]
    return Measured(jobs=len(speeds), stream_mbps=round(statistics.median(speeds), 1), incremental_jobs=len(changes),
                    change_rate_pct=round(min(statistics.median(changes), 100.0), 2) if changes else None)


def current_job(vm_context) -> ReplicationJob | None:
    return ReplicationJob.objects.filter(vm_context=vm_context, status__in=ACTIVE).order_by("-created_at").first()


def recent_jobs(vm_context, limit: int = 10) -> list[ReplicationJob]:
    return list(ReplicationJob.objects.filter(vm_context=vm_context).order_by("-created_at", "-id")[:limit])


def cbt_history(vm_context, limit: int = 20) -> list[ChangeIdRecord]:
    return list(ChangeIdRecord.objects.filter(vm_context=vm_context).select_related("job")[:limit])


@dataclass(frozen=True)
class VMContextDetail:
    """A VM context as GET /vm-contexts/{vm_name} shows it: with its jobs and change-id history."""

    context: VMContext
    current_job: ReplicationJob | None
    job_history: list[ReplicationJob]
    cbt_history: list[ChangeIdRecord]


def vm_context_detail(vm_context: VMContext) -> VMContextDetail:
    context = vm_contexts().get(pk=vm_context.pk)
    return VMContextDetail(context=context, current_job=current_job(context), job_history=recent_jobs(context),
                           cbt_history=cbt_history(context))


def health() -> Health:
    return Health(metrics={"active_replication_jobs": ReplicationJob.objects.filter(status__in=ACTIVE).count(),
                           "ossea_volumes": ReplicaVolume.objects.count()})


def jobs_requested_by(since) -> dict[str, int]:
    """Replication jobs each person asked for since ``since`` (username -> count), for the user activity summary."""
    rows = (ReplicationJob.objects.filter(created_at__gte=since).exclude(requested_by="").order_by()
            .values("requested_by").annotate(n=Count("id")).values_list("requested_by", "n"))
    return dict(rows)
