"""Reads worth a name: the answers of the job, mapping and rollback-decision endpoints."""
from __future__ import annotations

from django.utils import timezone

from apps.core.jobs import job_events
from apps.core.registry import Health
from apps.core.utils import iso
from apps.settings.models import CloudResource

from .choices import ACTIVE, CANCELLABLE, FailoverStatus, FailoverType, SnapshotState, VolumePlace
from .models import FailoverJob, NetworkMapping

JOB_KIND = "failover"


def duration_ns(job: FailoverJob) -> int:
    """Go's time.Duration (nanoseconds), as seed 003 shows durations."""
    start = job.started_at or job.created_at
    end = job.ended_at or job.completed_at or timezone.now()
    return max(0, int((end - start).total_seconds() * 1_000_000_000))


def job_summary(job: FailoverJob) -> dict:
    """An item of GET /failover/jobs (seed 003)."""
    return {
        "job_id": job.job_id, "vm_id": job.vm_context.vm_id, "vm_name": job.vm_context.vm_name,
        "job_type": job.job_type, "status": job.status, "progress": round(job.progress, 1),
        "created_at": iso(job.created_at), "started_at": iso(job.started_at), "completed_at": iso(job.completed_at),
        "duration": duration_ns(job), "destination_vm_id": job.destination_vm_id or None,
    }


def volume_rows(job: FailoverJob) -> list[dict]:
    return [{"disk_id": v.disk_id, "disk_unit_number": v.disk_unit_number, "volume_id": v.volume_id,
             "volume_name": v.volume_name, "role": "root" if v.is_root else "data", "place": v.place,
             "snapshot_id": v.snapshot_id or None, "snapshot_state": v.snapshot_state or None,
             "export_stopped": v.export_stopped, "vm_device_id": v.vm_device_id}
            for v in job.volumes.all().order_by("disk_unit_number")]


def events(job: FailoverJob, limit: int = 100) -> list[dict]:
    return job_events(JOB_KIND, job.job_id, limit)


def job_details(job: FailoverJob) -> dict:
    snapshots = [v["snapshot_id"] for v in volume_rows(job) if v["snapshot_id"]]
    custom = {**job.custom_config, "network_mappings": {n["source_network_name"]: n["destination_network_id"]
                                                        for n in job.plan.get("networks", [])} or job.network_overrides}
    if job.job_type == FailoverType.TEST:
        custom.update(test_duration=job.test_duration, auto_cleanup=job.auto_cleanup)
    return {
        "job_type": job.job_type, "vm_id": job.vm_context.vm_id, "vm_name": job.vm_context.vm_name,
        "destination_vm_id": job.destination_vm_id or None, "destination_vm_name": job.destination_vm_name or None,
        "snapshot_id": snapshots[0] if snapshots else None, "snapshot_ids": snapshots,
        "error_message": job.error_message or None, "error_code": job.error_code or None,
        "started_at": iso(job.started_at), "completed_at": iso(job.completed_at), "ended_at": iso(job.ended_at),
        "custom_config": custom,
    }


def job_status(job: FailoverJob) -> dict:
    """GET /failover/{job_id}/status: seed 003's answer plus the step, volumes, rollback record and events."""
    return {
        "success": True, "message": f"Retrieved status for {job.job_type} failover job", "job_id": job.job_id,
        "status": job.status, "progress": round(job.progress, 1), "current_step": job.current_step,
        "start_time": iso(job.started_at or job.created_at), "duration": duration_ns(job),
        "job_details": job_details(job),
        "test_running": job.test_running, "cleanup_status": job.cleanup_status or None,
        "needs_cleanup": job.needs_cleanup, "cleanup_due_at": iso(job.cleanup_due_at),
        "final_sync_job_id": job.final_sync_job_id or None,
        "source_powered_off": job.source_powered_off_at is not None,
        "source_power_result": job.source_power_result or None,
        "source_powered_off_by_platform": job.source_powered_off_by_platform,
        "source_power_uncertain": job.source_power_uncertain,
        "source_power_state_before": job.source_power_state_before or None,
        "source_powered_on": job.source_powered_on_at is not None,
        "source_powered_on_at": iso(job.source_powered_on_at),
        "source_power_on_error": job.source_power_on_error or None,
        "requested_by": job.requested_by, "plan": job.plan, "volumes": volume_rows(job),
        "rollback_log": job.rollback_log, "events": events(job),
    }


def debug_job(job: FailoverJob) -> dict:
    resources = CloudResource.objects.filter(owner=job.job_id).order_by("id")
    return {
        **job_summary(job), "current_step": job.current_step, "error_code": job.error_code or None,
        "error_message": job.error_message or None, "cancel_requested": job.cancel_requested,
        "needs_cleanup": job.needs_cleanup, "cleanup_status": job.cleanup_status or None,
        "heartbeat_at": iso(job.heartbeat_at), "plan": job.plan, "validation_result": job.validation_result,
        "volumes": volume_rows(job), "cloud_resources": [
            {"kind": r.kind, "resource_id": r.resource_id, "name": r.name, "parent_id": r.parent_id,
             "state": r.state} for r in resources],
        "rollback_log": job.rollback_log, "events": events(job, 200),
    }


def mapping_dict(mapping: NetworkMapping) -> dict:
    return {"id": mapping.id, "vm_id": mapping.vm_context.vm_id, "vm_name": mapping.vm_context.vm_name,
            "source_network_name": mapping.source_network_name,
            "destination_network_id": mapping.destination_network_id,
            "destination_network_name": mapping.destination_network_name,
            "is_test_network": mapping.is_test_network, "created_at": iso(mapping.created_at),
            "updated_at": iso(mapping.updated_at)}


def rollback_decision(job: FailoverJob | None, failover_type: str, vm_name: str) -> dict:
    """What POST /failover/rollback would do for the VM's latest job of that type, and whether it should."""
    base = {"success": True, "message": "Rollback decision computed", "vm_name": vm_name, "failover_type": failover_type}
    if job is None:
        return {**base, "job_id": None, "job_status": None, "rollback_possible": False, "recommended": False,
                "reason": f"VM '{vm_name}' has no {failover_type} failover job", "actions": []}
    actions = []
    if job.destination_vm_id:
        actions.append(f"stop and destroy {job.job_type} VM {job.destination_vm_id} after detaching the replica volumes")
    for volume in job.volumes.all().order_by("disk_unit_number"):
        if volume.snapshot_state == SnapshotState.CREATED:
            actions.append(f"revert volume {volume.volume_id} ({volume.disk_id}) to snapshot {volume.snapshot_id}, "
                           "then delete the snapshot")
        elif volume.snapshot_state in (SnapshotState.REVERTED, SnapshotState.FAILED):
            actions.append(f"delete snapshot {volume.snapshot_id}")
        if volume.place != VolumePlace.ON_OMA:
            actions.append(f"reattach volume {volume.volume_id} ({volume.disk_id}) to the control plane")
    power_on = f"power the source VM '{job.vm_context.vm_name}' on again " + (
        "(this failover powered it off)" if job.source_powered_off_by_platform else
        "(the answer to this failover's power-off was lost and the VM was on before)")
    if job.source_power_on_owed:
        actions.append(power_on)
    possible, recommended = False, False
    if job.test_running:
        possible, reason = True, "The test failover is running; rollback ends it and puts the volumes back"
        recommended = bool(job.cleanup_due_at and job.cleanup_due_at <= timezone.now())
    elif job.status in CANCELLABLE:
        possible, reason = True, f"The job is running ('{job.status}'); rollback stops it after the current step"
    elif job.status in ACTIVE:
        reason = f"The job is already being cleaned up ('{job.status}')"
    elif job.status == FailoverStatus.FAILED and job.needs_cleanup:
        possible = recommended = True
        reason = "The job failed and its rollback left resources behind"
    elif job.status == FailoverStatus.FAILED and job.source_power_on_owed:
        possible = recommended = True
        reason = ("The job failed and was rolled back, but the source VM it powered off could not be powered on "
                  f"again: {job.source_power_on_error or 'not tried yet'}")
        actions = [power_on]
    elif job.status == FailoverStatus.FAILED and job.source_power_left_to_operator:
        reason, actions = ("The job failed and was rolled back; the answer to its power-off was lost and the source VM "
                           "was not known to be on before, so whether to power it on is the operator's call"), []
    elif job.status == FailoverStatus.FAILED:
        reason, actions = "The job failed and was rolled back completely; nothing is left to undo", []
    elif job.job_type == FailoverType.LIVE:
        reason, actions = "A completed live failover is final: the VM runs in CloudStack and owns the data", []
    else:
        reason, actions = "The test failover already ended", []
    return {**base, "job_id": job.job_id, "job_status": job.status, "rollback_possible": possible,
            "recommended": recommended, "reason": reason, "actions": actions if possible else [],
            "source_vm_powered_off": job.source_powered_off_at is not None and job.source_powered_on_at is None,
            "source_power_uncertain": job.source_power_uncertain and job.source_powered_on_at is None}


def health() -> Health:
    return Health(metrics={"active_failover_jobs": FailoverJob.objects.filter(status__in=ACTIVE).count(),
                           "network_mappings": NetworkMapping.objects.count()})
