"""Replication writes: start, progress, change ids, finish, cancel. Views, tasks and the scheduler call only these."""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.exceptions import Conflict, InvalidInput, NotFound, ServiceUnavailable
from apps.core.jobs import timestamp_id, transition
from apps.inventory import services as inventory_services
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.settings.services import active_ossea_config, ossea_config_get

from . import exports, selectors
from .choices import ACTIVE, CANCELLABLE, TRANSITIONS, ExportStatus, ReplicationStatus, ReplicationType
from .jobs import event, replication_finish, replication_set_status, store_figures
from .models import ChangeIdRecord, ReplicationJob, VMExportMapping
from .tasks import cancel_replication, run_replication

logger = logging.getLogger(__name__)


def active_job_for(vm_context: VMContext) -> ReplicationJob | None:
    return ReplicationJob.objects.filter(vm_context=vm_context, status__in=ACTIVE).first()


def _enqueue(job: ReplicationJob) -> None:
    # The job row exists before the task; its id is the Celery task id (AWX/Coriolis pattern).
    transaction.on_commit(lambda: run_replication.apply_async(args=[job.job_id], task_id=f"{job.job_id}-a{job.attempt}",
                                                              queue="replication"))


def replication_start(*, vm_context: VMContext, replication_type: str = ReplicationType.INCREMENTAL,
                      ossea_config=None, requested_by: str = "", schedule_execution_id: int | None = None,
                      source_vm: dict | None = None, bandwidth_limit: int | None = None) -> ReplicationJob:
    """Create a replication job for a VM and queue it. At most one active job per VM (409 otherwise)."""
    if vm_context.current_status == VMContextStatus.FAILED_OVER:
        raise Conflict(f"VM '{vm_context.vm_name}' has been failed over; it is no longer replicated",
                       error_code="INVALID_STATE")
    if vm_context.current_status == VMContextStatus.TEST_FAILOVER:
        raise Conflict(f"VM '{vm_context.vm_name}' is in a test failover; end it before syncing",
                       error_code="INVALID_STATE")
    if not vm_context.disks.exists():
        raise InvalidInput(f"VM '{vm_context.vm_name}' has no disks to replicate")
    # A failover past its queued stage (a live one's final sync starts while queued), or one whose rollback left
    # resources behind, owns the replica volumes; the failover app keeps the VM context's hold current.
    held_by = VMContext.objects.filter(pk=vm_context.pk).values_list("held_by_failover", flat=True).first()
    if held_by:
        raise Conflict(f"VM '{vm_context.vm_name}' is held by {held_by}; sync it once the failover is over or "
                       "cleaned up", error_code="ACTIVE_JOBS")
    if ossea_config is None:
        ossea_config = vm_context.ossea_config or active_ossea_config()
    if ossea_config is None:
        raise ServiceUnavailable("CloudStack is not configured: create an OSSEA configuration first",
                                 error_code="OSSEA_NOT_CONFIGURED")
    existing = active_job_for(vm_context)
    if existing is not None:
        raise Conflict(f"VM '{vm_context.vm_name}' already has an active replication job {existing.job_id}",
                       details={"job_id": existing.job_id, "status": existing.status}, error_code="ACTIVE_JOBS")
    attempts = 0
    while True:
        attempts += 1
        try:
            with transaction.atomic():
                _check_data_volume_slots(vm_context, ossea_config)
                job = ReplicationJob.objects.create(
                    job_id=timestamp_id("job", ReplicationJob), vm_context=vm_context, ossea_config=ossea_config,
                    replication_type=replication_type, source_vm=source_vm or {}, requested_by=requested_by,
                    schedule_execution_id=schedule_execution_id, current_operation="Queued",
                    started_at=timezone.now(), bandwidth_limit=bandwidth_limit)
                VMContext.objects.filter(pk=vm_context.pk).update(total_jobs_run=F("total_jobs_run") + 1,
                                                                    ossea_config=ossea_config)
                event(job, "created", f"{replication_type} replication queued", requested_by=requested_by)
                _enqueue(job)
            return job
        except IntegrityError as exc:
            if active_job_for(vm_context) is not None:
                # Lost a race with another start for the same VM: the unique active slot caught it.
                raise Conflict(f"VM '{vm_context.vm_name}' already has an active replication job",
                               error_code="ACTIVE_JOBS") from exc
            # Another VM's job took the same second's id at the same moment: take the next free one.
            if attempts >= 5:
                raise


def _check_data_volume_slots(vm_context: VMContext, ossea_config) -> None:
    """Refuse a sync whose new replicas would not fit on the control plane's VM (CloudStack's data-volume limit)
    before it creates anything. The configuration's row lock makes concurrent starts count one after another."""
    needed = selectors.missing_replicas(vm_context)
    if not needed:
        return
    list(type(ossea_config).objects.select_for_update().filter(pk=ossea_config.pk))
    used, limit = selectors.data_volume_slots()
    if used + needed > limit:
        raise Conflict(f"VM '{vm_context.vm_name}' needs {needed} new replica volume(s) but the control plane's VM "
                       f"has {max(0, limit - used)} of its {limit} data-volume slots free (MP_OMA_MAX_DATA_VOLUMES, "
                       "CloudStack's per-VM limit); every replica stays attached between syncs: fail over or "
                       "remove replicated VMs, or add a control plane (docs/operations.md, capacity)",
                       details={"needed": needed, "in_use": used, "limit": limit}, error_code="DATA_VOLUME_LIMIT")


def replication_get(job_id: str) -> ReplicationJob:
    job = ReplicationJob.objects.select_related("vm_context").filter(job_id=job_id).first()
    if job is None:
        raise NotFound(f"Replication job '{job_id}' not found")
    return job


def replication_progress(*, job: ReplicationJob, data: dict) -> ReplicationJob:
    """Store the agent's pushed progress (and heartbeat). Ignored once the job is terminal."""
    row = store_figures(job, data)
    if row.status not in ACTIVE:
        return row
    agent_status = data.get("status")
    if agent_status == "running" and row.status == ReplicationStatus.READY_FOR_SYNC:
        row = replication_set_status(row, ReplicationStatus.REPLICATING)
    elif agent_status == "completed":
        row = replication_finish(job=row, status=ReplicationStatus.COMPLETED)
    elif agent_status == "failed":
        row = replication_finish(job=row, status=ReplicationStatus.FAILED,
                                 error=data.get("error") or "the agent reported a failure")
    elif agent_status == "cancelled":
        row = replication_finish(job=row, status=ReplicationStatus.CANCELLED, error=data.get("error") or "")
    return row


def change_id_previous(*, vm_path: str, disk_id: str) -> ChangeIdRecord | None:
    return ChangeIdRecord.objects.filter(vm_path=vm_path, disk_id=disk_id).order_by("-created_at", "-id").first()


def change_id_store(*, job: ReplicationJob, vm_path: str, disk_id: str, change_id: str) -> ChangeIdRecord:
    """Store a disk's new change id. Only the agent calls this, after the disk's data is written and flushed."""
    if job.status not in ACTIVE:
        raise Conflict(f"Job {job.job_id} is {job.status}; change ids are only stored by a running job",
                       error_code="INVALID_STATE")
    if not job.vm_context.disks.filter(disk_id=disk_id).exists():
        raise InvalidInput(f"Disk '{disk_id}' is not a disk of VM '{job.vm_context.vm_name}'")
    record, _ = ChangeIdRecord.objects.update_or_create(
        job=job, disk_id=disk_id, defaults={"vm_context": job.vm_context, "vm_path": vm_path, "change_id": change_id})
    event(job, "change_id", f"change id stored for {disk_id}", disk_id=disk_id, change_id=change_id)
    return record


def replication_cancel(*, job: ReplicationJob, requested_by: str = "") -> ReplicationJob:
    """Cooperative cancel: commit the flag first; a queued job ends at once, a running one at its next step."""
    if job.status not in CANCELLABLE:
        raise Conflict(f"Job {job.job_id} is {job.status} and cannot be cancelled", error_code="INVALID_STATE")
    ReplicationJob.objects.filter(pk=job.pk).update(cancel_requested=True, updated_at=timezone.now())
    job.refresh_from_db()
    event(job, "cancel", "cancel requested", requested_by=requested_by)
    if job.status == ReplicationStatus.PENDING:
        return replication_finish(job=job, status=ReplicationStatus.CANCELLED, error="cancelled before it started")
    transaction.on_commit(lambda: cancel_replication.apply_async(args=[job.job_id], queue="replication"))
    return job


def replication_retry(*, job: ReplicationJob, requested_by: str = "") -> ReplicationJob:
    """Queue a failed job again; its disks resume from the datamover checkpoints."""
    if job.status != ReplicationStatus.FAILED:
        raise Conflict(f"Only a failed job can be retried; {job.job_id} is {job.status}", error_code="INVALID_STATE")
    existing = active_job_for(job.vm_context)
    if existing is not None:
        raise Conflict(f"VM already has an active replication job {existing.job_id}", error_code="ACTIVE_JOBS")
    with transaction.atomic():
        job = transition(job, ReplicationStatus.PENDING, transitions=TRANSITIONS, attempt=job.attempt + 1,
                         error_message="", completed_at=None, cancel_requested=False, current_operation="Queued (retry)")
        event(job, "retry", f"retry {job.attempt} queued", requested_by=requested_by)
        _enqueue(job)
    return job


def _context_from_request(data: dict) -> VMContext:
    if data.get("vm_context_id") or data.get("vm_name"):
        return inventory_services.vm_context_get(data.get("vm_context_id") or data["vm_name"])
    source = data["source_vm"]

    context = VMContext.objects.filter(Q(moref=source["id"]) | Q(vm_id=source["id"]) | Q(vm_name=source["name"])).first()
    if context is not None:
        return context
    if not source.get("disks"):
        raise InvalidInput(f"VM '{source['name']}' is not in the inventory; give its disks or discover it first")
    disks = []
    for index, disk in enumerate(source["disks"]):
        capacity = disk.get("capacity_bytes") or (disk.get("size_gb") or 0) * 1024 ** 3
        if not capacity:
            raise InvalidInput(f"source_vm.disks[{index}]: capacity_bytes or size_gb is required")
        disks.append({"key": 2000 + index, "id": disk["id"], "capacity_bytes": capacity,
                      "unit_number": disk.get("unit_number", index), "datastore": disk.get("datastore", ""),
                      "path": disk.get("path", "")})
    vm = {"id": source["id"], "uuid": source["id"], "name": source["name"], "path": source["path"],
          "num_cpu": source.get("cpus"), "memory_mb": source.get("memory_mb"), "disks": disks}
    context, _ = inventory_services.vm_context_upsert(vm=vm, vcenter_host="", datacenter=source.get("datacenter", ""))
    return context


def _check_disks(context: VMContext, requested: list[dict] | None) -> None:
    if not requested:
        return
    known = {d.disk_id: d for d in context.disks.all()}
    by_path = {d.file_path: d for d in known.values() if d.file_path}
    matched, unknown = set(), []
    for disk in requested:
        hit = known.get(disk["id"]) or by_path.get(disk.get("path") or "\0")
        if hit is None:
            unknown.append(disk["id"])
        else:
            matched.add(hit.disk_id)
    missing = sorted(set(known) - matched)
    if unknown or missing:
        raise InvalidInput(f"The disk set does not match VM '{context.vm_name}'",
                           details={"unknown_disks": unknown, "missing_disks": missing,
                                    "vm_disks": sorted(known)})


def replication_request(*, data: dict, requested_by: str = "") -> ReplicationJob:
    """POST /replications: resolve the VM (source_vm, context id or name), check its disks, start the job."""
    context = _context_from_request(data)
    _check_disks(context, (data.get("source_vm") or {}).get("disks"))
    config = ossea_config_get(data["ossea_config_id"]) if data.get("ossea_config_id") else None
    return replication_start(vm_context=context, replication_type=data["replication_type"], ossea_config=config,
                             requested_by=requested_by, source_vm=data.get("source_vm"),
                             bandwidth_limit=int(data["bandwidth_limit_mbps"] * 1_000_000)
                             if data.get("bandwidth_limit_mbps") else None)


def exports_stop_all() -> int:
    """Stop every active NBD export (the lab's volumes vanish with it); returns how many were stopped."""
    active = list(VMExportMapping.objects.filter(status=ExportStatus.ACTIVE))
    for mapping in active:
        exports.stop_export(mapping)
    return len(active)
