"""One replication job's steps, run in the job's background thread by `ReplicationRunner`.

Steps: resolve the VM, (power it off when asked), enable CBT when off (the first sync is then
full), snapshot the VM (named after the job), ask the control plane for each disk's previous
change id, QueryChangedDiskAreas ('*' for a full sync), serve each disk read-only with nbdkit,
copy the areas with `datamover.copy` to the disk's NBD target (checkpointed), and only when every
disk is written and flushed store the new change ids, then remove the snapshot.

Any failure or a cancel removes the snapshot and stores no change id, so the next sync starts
again from the last change id whose data is known to be on the target.

Resuming (`resume.py`): each disk's resume record (kept per VM disk, not per job) holds the areas
chosen, their base change id and the snapshot's change id. A retried job, or a later job of the VM
on the same base (after a cancel or a restart), copies the same areas (so the datamover checkpoint
still matches) from its own snapshot, then also copies what changed between that attempt's
snapshot and the new one, which may have made already-copied blocks stale. What to copy is chosen
in `plan.py`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.disksource import DiskSource
from agent.errors import AgentError, InvalidRequest, JobCancelled, VCenterError
from agent.jobs import CANCELLED, COMPLETED, FAILED, RUNNING, DiskProgress, Job, utc_now
from agent.models import DiskTarget, ReplicateRequest, TargetSpec
from agent.operations import open_source
from agent.vsphere import DiskInfo, VSphereSource, snapshot_name

from .plan import AreaChooser, DiskPlan
from .progress import ProgressPusher
from .resume import ResumeStore

if TYPE_CHECKING:
    # Only for the annotation: the manager imports this module to start runners.
    from .manager import ReplicationManager

log = logging.getLogger("agent.replication")


class ReplicationRunner(AreaChooser):
    def __init__(self, manager: ReplicationManager, job: Job, request: ReplicateRequest, *,
                 default_target: TargetSpec | None = None):
        self.manager = manager
        self.default_target = default_target
        self.config = manager.config
        self.job = job
        self.request = request
        self.oma = manager.oma_client(request.oma_url)
        self.store = ResumeStore(Path(self.config.server.state_dir), job.job_id)
        self.source: VSphereSource | None = None
        self.vm: Any = None
        self.snapshot: Any = None
        self.pusher: ProgressPusher | None = None  # set by run(): the job's progress reports

    # -- helpers -------------------------------------------------------------------------

    def _step(self, operation: str) -> None:
        if self.job.cancelled:
            raise JobCancelled()
        self.job.update(current_operation=operation)
        log.info("replication step job_id=%s step=%r", self.job.job_id, operation)

    # -- the job -------------------------------------------------------------------------

    def run(self) -> None:
        job = self.job
        job.update(status=RUNNING, started_at=utc_now(), current_operation="Starting")
        pusher = self.pusher = ProgressPusher(job, self.oma, self.config.replication.progress_interval)
        pusher.start()
        try:
            self._run()
            job.finish(COMPLETED, operation="Completed")
            log.info("replication completed job_id=%s", job.job_id)
        except JobCancelled:
            self._remove_snapshot_quietly()
            # The job's own file goes with it; its disks' resume records stay for the VM's next sync.
            self.store.drop_job()
            job.finish(CANCELLED, error="cancelled by request", operation="Cancelled")
            log.info("replication cancelled job_id=%s", job.job_id)
        except Exception as exc:  # every failure must leave no snapshot behind and be reported
            message = exc.message if isinstance(exc, AgentError) else _describe(exc)
            if not isinstance(exc, AgentError):
                log.exception("replication failed job_id=%s", job.job_id)
            self._remove_snapshot_quietly()
            job.finish(FAILED, error=message, operation="Failed")
            log.warning("replication failed job_id=%s error=%s", job.job_id, message)
        finally:
            for disk in job.disks:
                if disk.status == RUNNING:
                    disk.status = job.status if job.status != COMPLETED else COMPLETED
            pusher.stop()
            if self.source is not None:
                self.source.close()

    def _run(self) -> None:
        job, request, cfg = self.job, self.request, self.config
        self.store.prepare()
        endpoint = job.vcenter_context.endpoint

        self._step("Connecting to vCenter")
        self.source = source = open_source(endpoint, cfg)
        ref = request.vm_ref()
        datacenter = request.datacenter or cfg.vcenter.datacenter or None
        self.vm = source.find_vm(path=ref.path, moref=ref.id, datacenter_name=datacenter)
        info = source.vm_info(self.vm, datacenter)
        vm_path = ref.path or info.path
        job.update(vm_id=info.id, vm_name=info.name, vm_path=vm_path)
        job.vcenter_context.vm_id = info.id

        # Check the request against the VM before changing anything on it.
        if not request.disks:
            self._target_whole_vm(info.disks)
        plans = self._plan_disks(info.disks, info.id)
        # The disk source too: a VM that only VDDK can read is refused here, before any snapshot.
        disk_source = self.manager._disk_source_factory(cfg, source, self.vm, job.job_id, [p.disk for p in plans])
        with job.lock:
            for plan in plans:
                job.disk(plan.disk_id).source = disk_source.name

        if request.power_off_source:
            self._step("Powering off source VM")
            result = source.power_off(self.vm, cfg.replication.shutdown_timeout)
            log.info("source powered off job_id=%s vm=%s how=%s", job.job_id, info.id, result)

        self._step("Checking Changed Block Tracking")
        cbt_enabled_now = source.enable_cbt(self.vm)
        if cbt_enabled_now:
            job.update(cbt_enabled_by_job=True,
                       full_sync_reason="CBT was off: enabled it now, so this first sync copies the whole disk")

        state = self.store.job_state()
        self._take_snapshot(state if state.get("vm_id") == info.id else {})

        self._step("Querying changed disk areas")
        snap_disks = {d.key: d for d in source.snapshot_disks(self.snapshot)}
        for plan in plans:
            snap_disk = snap_disks.get(plan.disk.key)
            if snap_disk is None:
                raise InvalidRequest(f"disk {plan.disk_id} is not in the snapshot")
            plan.snapshot_change_id = snap_disk.change_id
            self._choose_areas(plan, snap_disk, vm_path, cbt_enabled_now, self.store.disk_state(info.id, plan.disk_id))
        full = [p for p in plans if p.sync_type == "full"]
        job.update(sync_type="full" if full else "incremental")
        if full and not job.full_sync_reason:
            reasons = sorted({self._full_reason(p) for p in full})
            job.update(full_sync_reason="; ".join(reasons))

        self.store.save(vm_id=info.id, snapshot_id=self.snapshot._moId, saved_at=utc_now(), plans=plans)

        for plan in plans:
            self._copy_disk(disk_source, plan, endpoint, info.id)

        # Every disk is written and flushed: only now may the control plane move its change ids on.
        self._step("Recording change ids")
        # After any progress report in flight: the control plane sees the copy's last report before the change ids.
        assert self.pusher is not None
        with self.pusher.held():
            for plan in plans:
                if plan.snapshot_change_id:
                    self.oma.store_change_id(job.job_id, vm_path, plan.disk_id, plan.snapshot_change_id)
                    with job.lock:
                        job.disk(plan.disk_id).change_id = plan.snapshot_change_id
                else:
                    log.warning("snapshot has no change id, none stored job_id=%s disk=%s", job.job_id,
                                plan.disk_id)
        self.store.clear(info.id, plans)

        # No cancel check from here on: the data and its change ids are recorded, the job is done.
        job.update(current_operation="Removing snapshot")
        try:
            source.remove_snapshot(self.snapshot)
        except VCenterError as exc:
            # The data and its change ids are safely recorded: the job succeeded, a leftover
            # snapshot is only housekeeping (cleanup finds it by name).
            message = f"snapshot {self.snapshot._moId} could not be removed ({exc.message}); run cleanup"
            log.warning("snapshot removal failed job_id=%s error=%s", job.job_id, exc.message)
            with job.lock:
                job.warnings.append(message)
        self.snapshot = None

    def _target_whole_vm(self, disks: list[DiskInfo]) -> None:
        """A request naming no disks (seed 002's body) copies the VM's one disk to the configured export."""
        if self.default_target is None or len(disks) != 1:
            raise InvalidRequest(f"the request names no disk targets and the VM has {len(disks)} disks: one "
                                 "configured NBD export can take one disk; give disks[].target for each disk")
        disk = disks[0]
        self.request = self.request.model_copy(update={"disks": [
            DiskTarget(disk_id=disk.id, unit_number=disk.unit_number, target=self.default_target)]})
        with self.job.lock:
            self.job.disks = [DiskProgress(disk_id=disk.id, unit_number=disk.unit_number)]

    def _plan_disks(self, disks: list[DiskInfo], vm_id: str) -> list[DiskPlan]:
        by_key = {d.key: d for d in disks}
        plans = []
        for target in self.request.disks:
            disk = None
            key_text = (target.disk_id or "").removeprefix("key-")
            if key_text.isdigit() and int(key_text) in by_key:
                disk = by_key[int(key_text)]
            else:
                unit = target.unit_number
                if unit is None and target.disk_id and re.fullmatch(r"disk-\d+", target.disk_id):
                    unit = int(target.disk_id.split("-")[1])
                matches = [d for d in disks if d.unit_number == unit] if unit is not None else []
                if target.disk_id and not matches:
                    matches = [d for d in disks if d.id == target.disk_id or d.label == target.disk_id]
                if len(matches) > 1:
                    raise InvalidRequest(f"disk {target.disk_id or unit} is ambiguous (several controllers use "
                                         "that unit number): name it by device key")
                disk = matches[0] if matches else None
            if disk is None:
                known = ", ".join(f"{d.id} (key {d.key})" for d in disks) or "none"
                raise InvalidRequest(f"disk {target.disk_id or target.unit_number} not found on the VM (disks: {known})")
            disk_id = target.disk_id or disk.id
            plans.append(DiskPlan(
                target=target, disk=disk, disk_id=disk_id, target_uri=target.target.uri(),
                checkpoint=self.store.checkpoint(vm_id, disk_id),
            ))
            with self.job.lock:
                progress = self.job.disk(target.disk_id or f"disk-{target.unit_number}")
                progress.disk_id = disk_id
                progress.unit_number = disk.unit_number
                progress.device_key = disk.key
                progress.capacity_bytes = disk.capacity_bytes
        if len({p.disk.key for p in plans}) != len(plans):
            raise InvalidRequest("the same disk is listed twice")
        return plans

    def _take_snapshot(self, state: dict[str, Any]) -> None:
        source, job = self.source, self.job
        assert source is not None
        name = snapshot_name(job.job_id)
        existing = source.find_snapshots(job.job_id, self.vm)
        reuse = next((snap for _, snap, info in existing if info.id == state.get("snapshot_id")), None)
        for _, snap, _info in existing:
            if snap is not reuse:
                # Left by an earlier attempt that could not clean up; its data is stale.
                self._step("Removing stale snapshot")
                source.remove_snapshot(snap)
        if reuse is not None:
            # The agent died mid-copy last time: the same snapshot keeps the checkpoint exact.
            self.snapshot = reuse
            log.info("reusing snapshot of interrupted attempt job_id=%s snapshot=%s", job.job_id, reuse._moId)
        else:
            self._step("Creating snapshot")
            self.snapshot, quiesced = source.create_snapshot(
                self.vm, name, description=f"VMA replication {job.job_id} at {utc_now()}",
                quiesce=self.config.replication.quiesce)
            log.info("snapshot created job_id=%s snapshot=%s quiesced=%s", job.job_id, self.snapshot._moId, quiesced)
        job.update(snapshot_id=self.snapshot._moId)

    def _copy_disk(self, disk_source: DiskSource, plan: DiskPlan, endpoint: Any, vm_id: str) -> None:
        job = self.job
        self._step(f"Copying {plan.disk_id}")
        job.record_bytes(plan.disk_id, status=RUNNING)

        def progress_from(base: tuple[int, int, int, int]) -> Callable[[Any], None]:
            def on_progress(progress: Any) -> None:
                # Raising here aborts datamover.copy: that is how a cancel reaches a running copy.
                if job.cancelled:
                    raise JobCancelled()
                job.record_bytes(plan.disk_id, total=base[0] + progress.bytes_total,
                                 copied=base[1] + progress.bytes_copied, zeroed=base[2] + progress.bytes_zeroed,
                                 skipped=base[3] + progress.bytes_skipped)
            return on_progress

        with disk_source.open(disk=plan.disk, snapshot_id=self.snapshot._moId, vm_id=vm_id,
                              endpoint=endpoint) as source_uri:
            result = self._run_copy(source_uri, plan, plan.areas, progress_from((0, 0, 0, 0)), checkpoint=True)
            totals = [result.bytes_total, result.bytes_copied, result.bytes_zeroed, result.bytes_skipped]
            if plan.stale_areas:
                self._step(f"Copying {plan.disk_id} (changed since the interrupted attempt)")
                extra = self._run_copy(source_uri, plan, plan.stale_areas, progress_from(tuple(totals)),
                                       checkpoint=False)
                for i, value in enumerate((extra.bytes_total, extra.bytes_copied, extra.bytes_zeroed,
                                           extra.bytes_skipped)):
                    totals[i] += value
        job.record_bytes(plan.disk_id, total=totals[0], copied=totals[1], zeroed=totals[2], skipped=totals[3],
                         status=COMPLETED)
        log.info("disk copied job_id=%s disk=%s sync=%s scope=%d copied=%d zeroed=%d skipped=%d",
                 job.job_id, plan.disk_id, plan.sync_type, *totals)

    def _run_copy(self, source_uri: str, plan: DiskPlan, areas: list[tuple[int, int]] | None,
                  on_progress: Callable[[Any], None], *, checkpoint: bool) -> Any:
        # Imported here so discovery-only use of the agent does not need libnbd.
        import datamover

        kwargs: dict[str, Any] = {"progress": on_progress}
        bandwidth = self.request.bandwidth_limit or self.config.replication.bandwidth
        if bandwidth:
            kwargs["bandwidth"] = float(bandwidth)
        if checkpoint:
            kwargs["checkpoint"] = str(plan.checkpoint)
            kwargs["checkpoint_interval"] = self.config.replication.checkpoint_interval
        try:
            try:
                return datamover.copy(source_uri, plan.target_uri, areas, **kwargs)
            except datamover.CheckpointMismatch as exc:
                # A checkpoint of some other copy (disk resized, other scope): start this one over.
                log.warning("discarding checkpoint job_id=%s disk=%s reason=%s", self.job.job_id, plan.disk_id, exc)
                plan.checkpoint.unlink(missing_ok=True)
                return datamover.copy(source_uri, plan.target_uri, areas, **kwargs)
        except datamover.CopyError as exc:
            where = f" at offset {exc.offset}" if exc.offset is not None else ""
            detail = f" ({exc.server_message})" if exc.server_message else ""
            raise CopyFailed(f"copying {plan.disk_id} to {plan.target_uri} failed{where}: {exc}{detail}") from exc

    def _remove_snapshot_quietly(self) -> None:
        if self.snapshot is None or self.source is None:
            return
        try:
            self.source.remove_snapshot(self.snapshot)
            log.info("snapshot removed after failure job_id=%s", self.job.job_id)
            self.snapshot = None
        except AgentError as exc:
            log.warning("could not remove snapshot job_id=%s error=%s (cleanup will retry)", self.job.job_id,
                        exc.message)


class CopyFailed(AgentError):
    code = "OPERATION_FAILED"
    http_status = 502


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
