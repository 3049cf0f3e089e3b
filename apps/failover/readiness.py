"""What the platform knows about a VM's readiness for failover, section by section (seed 003's sync_status,
active_jobs, network_status and volume status): the facts the readiness checks in `validation.py` judge, each also
served on its own endpoint.
"""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from apps.core.utils import iso
from apps.inventory.models import VMContext
from apps.replication.choices import ACTIVE as REPLICATION_ACTIVE
from apps.replication.choices import ReplicationStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume
from apps.settings import cloudstack as cs

from . import cloud
from .choices import ACTIVE, FailoverStatus, FailoverType
from .models import FailoverJob, NetworkMapping


def boot_disk(vm_context: VMContext):
    return vm_context.disks.order_by("unit_number", "disk_key").first()


def sync_info(vm_context: VMContext) -> dict:
    """Seed 003's sync_status: the last completed sync and the stored change id of every disk."""
    last = (ReplicationJob.objects.filter(vm_context=vm_context, status=ReplicationStatus.COMPLETED)
            .order_by("-completed_at", "-id").first())
    active = ReplicationJob.objects.filter(vm_context=vm_context, status__in=REPLICATION_ACTIVE).first()
    disks = list(vm_context.disks.order_by("unit_number", "disk_key"))
    per_disk = {}
    for disk in disks:
        record = (ChangeIdRecord.objects.filter(vm_context=vm_context, disk_id=disk.disk_id)
                  .order_by("-created_at", "-id").select_related("job").first())
        per_disk[disk.disk_id] = {"change_id": record.change_id, "job_id": record.job.job_id,
                                  "stored_at": iso(record.created_at)} if record else None
    sync_time = vm_context.last_sync_at or (last.completed_at if last else None)
    has_all = bool(disks) and all(per_disk.values())
    boot = disks[0].disk_id if disks else None
    age = int((timezone.now() - sync_time).total_seconds()) if sync_time else None
    if active is not None:
        percentage = round(active.progress_percent, 1)
    else:
        percentage = 100.0 if last is not None else 0.0
    return {
        "has_valid_change_id": bool(last) and has_all,
        "latest_change_id": (per_disk.get(boot) or {}).get("change_id") if boot else None,
        "last_sync_time": iso(sync_time),
        "sync_age_seconds": age,
        "replication_job_id": last.job_id if last else None,
        "sync_percentage": percentage,
        "active_replication_job_id": active.job_id if active else None,
        "disks": per_disk,
        "is_ready_for_failover": bool(last) and has_all and active is None,
    }


def active_jobs_info(vm_context: VMContext, *, exclude_job_id: str = "") -> dict:
    """Seed 003's active_jobs: replications and failovers that would collide with a failover."""
    migration = [{"job_id": j.job_id, "status": j.status, "replication_type": j.replication_type,
                  "progress_percent": round(j.progress_percent, 1)}
                 for j in ReplicationJob.objects.filter(vm_context=vm_context, status__in=REPLICATION_ACTIVE)]
    occupying = (FailoverJob.objects.filter(vm_context=vm_context)
                 .filter(Q(status__in=ACTIVE) | Q(job_type=FailoverType.TEST, status=FailoverStatus.COMPLETED,
                                                  ended_at__isnull=True))
                 .exclude(job_id=exclude_job_id))
    failover = [{"job_id": j.job_id, "job_type": j.job_type, "status": j.status,
                 "test_running": j.test_running} for j in occupying]
    leftovers = [{"job_id": j.job_id, "job_type": j.job_type, "status": j.status}
                 for j in FailoverJob.objects.filter(vm_context=vm_context, needs_cleanup=True)
                 .exclude(job_id=exclude_job_id).exclude(status__in=ACTIVE)]
    total = len(migration) + len(failover)
    return {"has_active_jobs": total > 0, "migration_jobs": migration, "failover_jobs": failover,
            "failed_jobs_needing_cleanup": leftovers, "total_active": total,
            "is_ready_for_failover": total == 0 and not leftovers}


def network_info(vm_context: VMContext, *, failover_type: str = FailoverType.LIVE,
                 overrides: dict | None = None) -> dict:
    """Seed 003's network_status: stored mappings, and which source networks the given failover type lacks."""
    sources = [source for _, source in cloud.source_networks(vm_context)]
    mappings = list(NetworkMapping.objects.filter(vm_context=vm_context))
    _, unmapped = cloud.resolve_networks(vm_context, failover_type=failover_type, overrides=overrides or {},
                                         networks=None)
    rows = [{"source_network_name": m.source_network_name, "destination_network_id": m.destination_network_id,
             "destination_network_name": m.destination_network_name, "is_test_network": m.is_test_network,
             "status": "mapped" if m.source_network_name in sources else "stale"} for m in mappings]
    distinct = list(dict.fromkeys(sources))
    return {"failover_type": failover_type, "total_networks": len(distinct),
            "mapped_networks": len(distinct) - len(unmapped), "unmapped_networks": len(unmapped),
            "test_networks_available": any(m.is_test_network for m in mappings),
            "mappings": rows, "unmapped": unmapped, "is_ready_for_failover": not unmapped}


def _volume_row(vm_context, disk, replica, remote, oma_id, is_boot) -> dict:
    row = {"disk_id": disk.disk_id, "disk_unit_number": disk.unit_number,
           "volume_id": replica.volume_id if replica else None,
           "volume_name": replica.volume_name if replica else None,
           "size_gb": replica.size_gb if replica else disk.size_gb,
           "volume_type": "ROOT" if is_boot else "DATADISK",
           "attachment_status": replica.status if replica else "missing"}
    if remote is None:
        row.update(volume_status="missing" if replica else "not_created", is_accessible=False,
                   attached_vm_id=None, cloudstack_state=None)
    else:
        attached = remote.get("virtualmachineid")
        row.update(volume_status="attached" if attached else "detached", attached_vm_id=attached,
                   cloudstack_state=remote.get("state"), is_accessible=remote.get("state") == "Ready",
                   attachment_status=("attached_to_oma" if attached and attached == oma_id else
                                      "attached_to_vm" if attached else "detached"))
    row["is_ready_for_failover"] = bool(
        remote is not None and row["attachment_status"] == "attached_to_oma" and row["is_accessible"]
        and (remote.get("size") or 0) >= disk.capacity_bytes)
    return row


def volume_info(vm_context: VMContext, *, client: cs.CloudStackClient | None, oma_id: str | None) -> dict:
    """Each disk's replica volume as recorded, and as CloudStack sees it (when a client is given)."""
    replicas = {r.disk_unit_number: r for r in ReplicaVolume.objects.filter(vm_context=vm_context)}
    disks = list(vm_context.disks.order_by("unit_number", "disk_key"))
    rows = []
    for index, disk in enumerate(disks):
        replica = replicas.get(disk.unit_number)
        remote = None
        if replica is not None and client is not None:
            try:
                remote = client.get_volume(replica.volume_id)
            except cs.CloudStackNotFoundError:
                remote = None
        rows.append(_volume_row(vm_context, disk, replica, remote, oma_id, index == 0))
    return {"volumes": rows, "total_volumes": len(rows),
            "is_ready_for_failover": bool(rows) and all(r["is_ready_for_failover"] for r in rows)}


# -- the validator ----------------------------------------------------------------------------------
