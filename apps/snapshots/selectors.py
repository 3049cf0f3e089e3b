"""Reads for the endpoints: a run's progress by batch, its quota blocks, the restore pages' snapshots."""
from __future__ import annotations

from datetime import timedelta
from itertools import groupby

from django.db.models import Max
from django.utils import timezone

from . import cloud
from .choices import RunStatus, SnapshotState, VolumeOutcome
from .models import PolicySnapshot, SnapshotRun, SnapshotRunVolume

_QUOTA_TEXT = "Insufficient snapshot or storage quota"


def batches(run: SnapshotRun) -> list[dict]:
    out = []
    rows = list(run.volumes.order_by("batch_number", "id"))
    for number, group in groupby(rows, key=lambda r: r.batch_number):
        group = list(group)
        statuses = {r.status for r in group}
        if statuses == {VolumeOutcome.PENDING}:
            status = "pending" if run.status == RunStatus.RUNNING else "not_run"
        elif VolumeOutcome.PENDING in statuses:
            status = "running"
        elif statuses & {VolumeOutcome.FAILED, VolumeOutcome.QUOTA_BLOCKED, VolumeOutcome.NOT_RUN}:
            status = "completed_with_errors" if VolumeOutcome.CREATED in statuses else "failed"
        else:
            status = "completed"
        out.append({"batch_number": number, "tenant_names": sorted({r.tenant_name for r in group}),
                    "total_volumes": len(group),
                    "snapshots_created": sum(r.status == VolumeOutcome.CREATED for r in group),
                    "failed": sum(r.status in (VolumeOutcome.FAILED, VolumeOutcome.QUOTA_BLOCKED) for r in group),
                    "status": status})
    return out


def quota_blocks(run: SnapshotRun) -> list[dict]:
    """Volumes CloudStack refused for their owner's resource limit, with the owner's figures read at the refusal
    (secondary storage in GiB, where snapshots count, and the snapshot count; null: unlimited or not given)."""
    return [{"volume_id": r.volume_id, "volume_name": r.volume_name or r.volume_id, "tenant_name": r.tenant_name,
             "quota_limit_gb": r.quota_limit_gb, "quota_used_gb": r.quota_used_gb, "quota_needed_gb": r.size_gb,
             "snapshot_limit": r.snapshot_limit, "snapshots_used": r.snapshots_used,
             "block_reason": f"{_QUOTA_TEXT}: {r.error}"}
            for r in run.volumes.filter(status=VolumeOutcome.QUOTA_BLOCKED)]


def progress(run: SnapshotRun) -> dict:
    return {"run": run, "batches": batches(run), "quota_blocks": quota_blocks(run),
            "volumes": list(run.volumes.all()), "is_active": run.status == RunStatus.RUNNING}


def active_run() -> SnapshotRun | None:
    return SnapshotRun.objects.filter(status=RunStatus.RUNNING).order_by("-started_at").first()


def snapshot_row(snapshot: dict, **extra) -> dict:
    return {**snapshot, "volumeid": snapshot.get("volumeid"), "volumename": snapshot.get("volumename", ""),
            "volumetype": snapshot.get("volumetype", ""), "size_gb": cloud.size_gb(snapshot),
            "tenant_name": cloud.tenant_name(snapshot), "name": snapshot.get("name", ""), **extra}


def policy_compliance(policies, now=None) -> dict[int, dict]:
    """Per policy (by id): the volumes its runs covered and how many of them have one of its snapshots younger than
    its interval (the metering sampler's and the dashboard's sense of compliant), for the console's policy table."""
    now = now or timezone.now()
    out = {}
    for policy in policies:
        covered = set(SnapshotRunVolume.objects.filter(policy=policy).values_list("volume_id", flat=True))
        newest = dict(PolicySnapshot.objects.filter(policy=policy, state=SnapshotState.AVAILABLE)
                      .values_list("volume_id").annotate(last=Max("created_at")))
        since = now - timedelta(minutes=policy.interval_minutes)
        compliant = sum(1 for volume in covered if newest.get(volume) and newest[volume] >= since)
        out[policy.pk] = {"volumes": len(covered), "compliant": compliant,
                          "percent": round(100.0 * compliant / len(covered), 1) if covered else None}
    return out
