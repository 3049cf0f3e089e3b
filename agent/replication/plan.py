"""What one disk of a replication job copies (`DiskPlan`), and the rules that read vCenter's answers into areas.

Changed areas become `(offset, length)` pairs; an unknown or reset change id is recognised by
vCenter's fault so the runner falls back to a full copy. `AreaChooser` (a base of the runner) picks each disk's
areas: an interrupted attempt's, when its resume record applies, else fresh ones from CBT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import VCenterError
from agent.jobs import Job
from agent.models import DiskTarget, ReplicateRequest
from agent.omaclient import OmaClient
from agent.vsphere import ChangedArea, DiskInfo, VSphereSource

log = logging.getLogger("agent.replication")


@dataclass
class DiskPlan:
    """What one disk of the job copies, and from which snapshot state."""

    target: DiskTarget
    disk: DiskInfo
    disk_id: str
    target_uri: str
    checkpoint: Path
    previous_change_id: str | None = None
    sync_type: str = "full"
    # Changed areas as (offset, length); None copies the whole disk (a full sync).
    areas: list[tuple[int, int]] | None = None
    # Areas changed since a failed earlier attempt's snapshot (resume only).
    stale_areas: list[tuple[int, int]] = field(default_factory=list)
    snapshot_change_id: str | None = None
    full_reason: str | None = None
    allocated_bytes: int | None = None
    resumed: bool = False


def _areas(changed: list[ChangedArea]) -> list[tuple[int, int]]:
    return [(a.start, a.length) for a in changed if a.length > 0]


def _is_invalid_change_id(exc: VCenterError) -> bool:
    # vSphere answers an unknown/reset change id with InvalidArgument (changeId) or a FileFault
    # on the -ctk.vmdk: both mean "do a full copy".
    text = exc.message
    return "InvalidArgument" in text or "FileFault" in text or "changeId" in text



class AreaChooser:
    """Chooses what each disk copies; the runner provides the job, the request, the VM, its snapshot and the
    control-plane client."""

    job: Job
    request: ReplicateRequest
    oma: OmaClient
    source: VSphereSource | None
    vm: Any
    snapshot: Any

    def _choose_areas(self, plan: DiskPlan, snap_disk: DiskInfo, vm_path: str, cbt_enabled_now: bool,
                      old: dict[str, Any] | None) -> None:
        source, job = self.source, self.job
        assert source is not None
        old_snap_change_id = (old or {}).get("snapshot_change_id")
        if old and plan.checkpoint.exists() and old_snap_change_id and self._same_base(plan, old, vm_path,
                                                                                          cbt_enabled_now):
            # A retry, or a later job on the same base: same scope as the interrupted attempt so its checkpoint
            # still applies...
            plan.areas = None if old.get("areas") is None else [(int(a), int(b)) for a, b in old["areas"]]
            plan.previous_change_id = old.get("previous_change_id")
            plan.sync_type = old.get("sync_type", "full")
            plan.full_reason = old.get("full_reason")
            if old_snap_change_id != plan.snapshot_change_id:
                # ...plus whatever changed since that attempt's snapshot, which may be stale on the target.
                try:
                    plan.stale_areas = _areas(source.query_changed_areas(
                        self.vm, self.snapshot, plan.disk.key, snap_disk.capacity_bytes, old_snap_change_id))
                except VCenterError as exc:
                    if not _is_invalid_change_id(exc):
                        raise
                    log.warning("cannot resume: changes since the last attempt are unknown job_id=%s disk=%s",
                                job.job_id, plan.disk_id)
                    plan.checkpoint.unlink(missing_ok=True)
                    plan.stale_areas = []
                    self._fresh_areas(plan, snap_disk, vm_path, cbt_enabled_now)
                    return
            plan.resumed = True
            log.info("resuming copy job_id=%s disk=%s from_job=%s stale_areas=%d", job.job_id, plan.disk_id,
                     old.get("job_id"), len(plan.stale_areas))
            self._set_totals(plan)
            return
        plan.checkpoint.unlink(missing_ok=True)
        self._fresh_areas(plan, snap_disk, vm_path, cbt_enabled_now)

    def _base_change_id(self, plan: DiskPlan, vm_path: str, cbt_enabled_now: bool) -> str | None:
        """The change id a fresh copy of the disk would start from (None: a full copy)."""
        if self.request.replication_type == "incremental" and not cbt_enabled_now:
            return self.oma.get_previous_change_id(vm_path, plan.disk_id)
        return None

    def _same_base(self, plan: DiskPlan, old: dict[str, Any], vm_path: str, cbt_enabled_now: bool) -> bool:
        """Whether an interrupted attempt's record applies: the same job's retry, or a later job (after a cancel or a
        restart) that would copy from the same change id, so the areas and the checkpoint are those it needs."""
        if old.get("job_id") == self.job.job_id:
            return True
        return old.get("previous_change_id") == self._base_change_id(plan, vm_path, cbt_enabled_now)

    def _fresh_areas(self, plan: DiskPlan, snap_disk: DiskInfo, vm_path: str, cbt_enabled_now: bool) -> None:
        source, job = self.source, self.job
        assert source is not None
        previous = self._base_change_id(plan, vm_path, cbt_enabled_now)
        capacity = snap_disk.capacity_bytes
        plan.previous_change_id = None
        if previous:
            try:
                plan.areas = _areas(source.query_changed_areas(self.vm, self.snapshot, plan.disk.key, capacity,
                                                               previous))
                plan.previous_change_id = previous
                plan.sync_type = "incremental"
            except VCenterError as exc:
                if not _is_invalid_change_id(exc):
                    raise
                log.warning("previous change id rejected, full copy job_id=%s disk=%s error=%s",
                            job.job_id, plan.disk_id, exc.message)
        if plan.previous_change_id is None:
            allocated = _areas(source.query_changed_areas(self.vm, self.snapshot, plan.disk.key, capacity, "*"))
            plan.allocated_bytes = sum(length for _, length in allocated)
            # A full sync copies the whole disk: datamover reads the allocated data and zeroes the
            # holes on the target, so a reused target keeps no stale blocks where the source is empty.
            plan.areas = None
            plan.sync_type = "full"
            plan.full_reason = ("initial replication requested" if self.request.replication_type == "initial"
                                else "CBT was just enabled" if cbt_enabled_now
                                else "previous change id was rejected by vCenter" if previous
                                else "no previous change id")
        self._set_totals(plan)

    def _set_totals(self, plan: DiskPlan) -> None:
        main = plan.disk.capacity_bytes if plan.areas is None else sum(length for _, length in plan.areas)
        total = main + sum(length for _, length in plan.stale_areas)
        with self.job.lock:
            disk = self.job.disk(plan.disk_id)
            disk.bytes_total = total
            disk.sync_type = plan.sync_type
            disk.allocated_bytes = plan.allocated_bytes
        self.job.update()

    @staticmethod
    def _full_reason(plan: DiskPlan) -> str:
        return plan.full_reason or "resumed full copy"

