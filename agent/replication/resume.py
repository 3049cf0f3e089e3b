"""What an interrupted copy leaves for the next attempt, and where.

Two kinds of files under the agent's state directory:

- `<job>.json`, the job's own: the VM and the snapshot the copy reads. A retry of the same job reuses that snapshot;
  it goes when the job ends (completed or cancelled) or with `cleanup_all`.
- `resume/<vm>-<disk>.json` and `.ckpt`, the disk's: the areas chosen, the change id they are based on (none for a
  full copy), the snapshot's change id, and the datamover checkpoint of what reached the target. They are keyed by
  VM and disk, not by job, so any later job of the VM whose base change id is the same resumes the copy (plus what
  changed since that snapshot) instead of starting over; the datamover still checks each checkpoint against the
  copy's scope. They go when a sync of the disk completes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import DiskPlan

log = logging.getLogger("agent.replication")

STATE_VERSION = 2


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("ignoring unreadable state file path=%s", path)
        return {}
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"version": STATE_VERSION, **data}, indent=1))
    os.replace(tmp, path)


class ResumeStore:
    def __init__(self, state_dir: Path, job_id: str):
        self.state_dir = state_dir
        self.job_id = job_id
        self.job_path = state_dir / f"{safe_name(job_id)}.json"
        self.disk_dir = state_dir / "resume"

    def _disk_path(self, vm_id: str, disk_id: str, suffix: str) -> Path:
        return self.disk_dir / f"{safe_name(vm_id)}-{safe_name(disk_id)}{suffix}"

    def checkpoint(self, vm_id: str, disk_id: str) -> Path:
        return self._disk_path(vm_id, disk_id, ".ckpt")

    def prepare(self) -> None:
        self.disk_dir.mkdir(parents=True, exist_ok=True)

    def job_state(self) -> dict[str, Any]:
        return _read(self.job_path)

    def disk_state(self, vm_id: str, disk_id: str) -> dict[str, Any]:
        return _read(self._disk_path(vm_id, disk_id, ".json"))

    def save(self, *, vm_id: str, snapshot_id: str, saved_at: str, plans: list[DiskPlan]) -> None:
        _write(self.job_path, {"job_id": self.job_id, "vm_id": vm_id, "snapshot_id": snapshot_id,
                               "saved_at": saved_at})
        for plan in plans:
            _write(self._disk_path(vm_id, plan.disk_id, ".json"), {
                "job_id": self.job_id, "vm_id": vm_id, "areas": plan.areas,
                "snapshot_change_id": plan.snapshot_change_id, "previous_change_id": plan.previous_change_id,
                "sync_type": plan.sync_type, "full_reason": plan.full_reason, "saved_at": saved_at})

    def drop_disk(self, vm_id: str, disk_id: str) -> None:
        for suffix in (".json", ".ckpt"):
            self._disk_path(vm_id, disk_id, suffix).unlink(missing_ok=True)

    def drop_job(self) -> None:
        """The job is over (completed or cancelled): its own file goes; the disks' resume records stay."""
        self.job_path.unlink(missing_ok=True)

    def clear(self, vm_id: str, plans: list[DiskPlan]) -> None:
        """Every disk reached the target and its change id is stored: nothing is left to resume."""
        for plan in plans:
            self.drop_disk(vm_id, plan.disk_id)
        self.drop_job()
