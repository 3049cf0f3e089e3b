"""The agent side of replication: one background thread per `/replicate` job.

The package's rooms: `manager` (start jobs in threads, cancel them on shutdown, the shared
control-plane clients), `runner` (one job's steps and the copies), `plan` (what each disk copies),
`resume` (what an interrupted copy leaves for the next attempt, per VM disk) and `progress`
(reports to the control plane, and the cancel in their answers).
Callers import from `agent.replication`, which re-exports the public names.
"""

from __future__ import annotations

from .manager import ReplicationManager
from .plan import DiskPlan
from .progress import ProgressPusher
from .resume import STATE_VERSION, ResumeStore
from .runner import CopyFailed, ReplicationRunner

__all__ = ["STATE_VERSION", "CopyFailed", "DiskPlan", "ProgressPusher", "ReplicationManager", "ReplicationRunner",
           "ResumeStore"]
