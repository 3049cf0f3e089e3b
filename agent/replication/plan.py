"""What one disk of a replication job copies (`DiskPlan`), and the rules that read vCenter's answers into areas.

Changed areas become `(offset, length)` pairs; an unknown or reset change id is recognised by
vCenter's fault so the runner falls back to a full copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import VCenterError
from agent.models import DiskTarget
from agent.vsphere import ChangedArea, DiskInfo


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

