"""In-memory job table with thread-safe progress, read by /status, /progress and the pusher."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.errors import JobConflict, JobNotFound

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})

# Throughput is averaged over this window so one slow request does not swing the ETA.
THROUGHPUT_WINDOW_SECONDS = 10.0


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DiskProgress:
    disk_id: str
    unit_number: int | None = None
    device_key: int | None = None
    capacity_bytes: int = 0
    status: str = PENDING
    sync_type: str | None = None
    bytes_total: int = 0
    bytes_copied: int = 0
    bytes_zeroed: int = 0
    bytes_skipped: int = 0
    # Full syncs: what QueryChangedDiskAreas('*') reports as allocated, the data to expect.
    allocated_bytes: int | None = None
    change_id: str | None = None
    # The disk source that reads it: "file", "vddk" or "https" (agent/disksource).
    source: str | None = None

    @property
    def bytes_transferred(self) -> int:
        return self.bytes_copied + self.bytes_zeroed + self.bytes_skipped

    def as_dict(self) -> dict[str, Any]:
        total = self.bytes_total
        done = min(self.bytes_transferred, total) if total else self.bytes_transferred
        percent = 100.0 if self.status == COMPLETED else (round(100.0 * done / total, 2) if total else 0.0)
        return {
            "disk_id": self.disk_id,
            "unit_number": self.unit_number,
            "device_key": self.device_key,
            "capacity_bytes": self.capacity_bytes,
            "status": self.status,
            "sync_type": self.sync_type,
            "bytes_total": total,
            "bytes_transferred": done,
            "bytes_copied": self.bytes_copied,
            "bytes_zeroed": self.bytes_zeroed,
            "bytes_skipped": self.bytes_skipped,
            "allocated_bytes": self.allocated_bytes,
            "progress_percent": percent,
            "change_id": self.change_id,
            "source": self.source,
        }


@dataclass
class Job:
    job_id: str
    kind: str = "replication"
    status: str = PENDING
    vm_path: str | None = None
    vm_id: str | None = None
    vm_name: str | None = None
    replication_type: str | None = None
    sync_type: str | None = None
    cbt_enabled_by_job: bool = False
    full_sync_reason: str | None = None
    current_operation: str = "Queued"
    error: str | None = None
    # Problems that did not fail the job (e.g. a snapshot that could not be removed afterwards).
    warnings: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str = field(default_factory=utc_now)
    disks: list[DiskProgress] = field(default_factory=list)
    # Kept in memory only so a cleanup of this job can reach the same vCenter; never returned.
    vcenter_context: Any = field(default=None, repr=False)
    snapshot_id: str | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    version: int = 0
    _samples: list[tuple[float, int]] = field(default_factory=list, repr=False)
    _copy_started: float | None = field(default=None, repr=False)

    # -- updates (from the runner thread) ------------------------------------------------

    def update(self, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                if not hasattr(self, key):
                    raise AttributeError(key)
                setattr(self, key, value)
            self._touch()

    def _touch(self) -> None:
        self.version += 1
        self.updated_at = utc_now()

    def disk(self, disk_id: str) -> DiskProgress:
        for disk in self.disks:
            if disk.disk_id == disk_id:
                return disk
        raise KeyError(disk_id)

    def record_bytes(self, disk_id: str, *, total: int | None = None, copied: int | None = None,
                     zeroed: int | None = None, skipped: int | None = None, status: str | None = None) -> None:
        with self.lock:
            disk = self.disk(disk_id)
            if total is not None:
                disk.bytes_total = total
            if copied is not None:
                disk.bytes_copied = copied
            if zeroed is not None:
                disk.bytes_zeroed = zeroed
            if skipped is not None:
                disk.bytes_skipped = skipped
            if status is not None:
                disk.status = status
            now = time.monotonic()
            if self._copy_started is None:
                self._copy_started = now
            self._samples.append((now, self._transferred()))
            cutoff = now - THROUGHPUT_WINDOW_SECONDS
            while len(self._samples) > 2 and self._samples[1][0] < cutoff:
                self._samples.pop(0)
            self._touch()

    def finish(self, status: str, *, error: str | None = None, operation: str | None = None) -> None:
        with self.lock:
            self.status = status
            self.error = error
            self.finished_at = utc_now()
            if operation:
                self.current_operation = operation
            self._touch()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    # -- reads ---------------------------------------------------------------------------

    def _transferred(self) -> int:
        return sum(min(d.bytes_transferred, d.bytes_total) if d.bytes_total else d.bytes_transferred
                   for d in self.disks)

    def _throughput(self) -> float:
        """Bytes per second over the recent window."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def progress(self) -> dict[str, Any]:
        """The progress record: served by GET /progress/{job_id} and pushed to the control plane."""
        with self.lock:
            total = sum(d.bytes_total for d in self.disks)
            done = self._transferred()
            if self.status == COMPLETED:
                percent = 100.0
            else:
                percent = round(100.0 * done / total, 2) if total else 0.0
            rate = self._throughput() if self.status == RUNNING else 0.0
            eta = int((total - done) / rate) if rate > 0 and total > done else (0 if total and done >= total else None)
            return {
                "job_id": self.job_id,
                "status": self.status,
                "replication_type": self.replication_type,
                "sync_type": self.sync_type,
                "cbt_enabled_by_job": self.cbt_enabled_by_job,
                "full_sync_reason": self.full_sync_reason,
                "vm": {"id": self.vm_id, "path": self.vm_path, "name": self.vm_name},
                "current_operation": self.current_operation,
                "progress_percent": percent,
                "bytes_total": total,
                "bytes_transferred": done,
                "throughput_mbps": round(rate / 1e6, 2),
                "eta_seconds": eta,
                "disks": [d.as_dict() for d in self.disks],
                "started_at": self.started_at,
                "updated_at": self.updated_at,
                "finished_at": self.finished_at,
                "error": self.error,
                "warnings": list(self.warnings),
            }

    def status_view(self) -> dict[str, Any]:
        """Seed 002's status answer plus what an operator needs to act on a failure."""
        with self.lock:
            progress = self.progress()
            return {
                "job_id": self.job_id,
                "status": self.status,
                "progress_percent": progress["progress_percent"],
                "current_operation": self.current_operation,
                "sync_type": self.sync_type,
                "vm_path": self.vm_path,
                "error": self.error,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
            }


class JobRegistry:
    """Jobs by id. A finished job stays readable until a newer job with its id replaces it, or
    until it is among the oldest beyond `keep_finished` finished jobs."""

    def __init__(self, keep_finished: int = 1000) -> None:
        self.keep_finished = keep_finished
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    def find(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def add(self, job: Job) -> Job:
        """Register a job; refuses while a job with the same id is still active."""
        with self._lock:
            current = self._jobs.get(job.job_id)
            if current is not None and current.status not in TERMINAL:
                raise JobConflict(f"job {job.job_id} is already {current.status}")
            self._jobs.pop(job.job_id, None)
            self._jobs[job.job_id] = job
            finished = [key for key, value in self._jobs.items() if value.status in TERMINAL]
            for key in finished[:max(0, len(finished) - self.keep_finished)]:
                del self._jobs[key]
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())
