"""Seed 004's permission strings for snapshots and restore (`snapshots:admin`, `restore:read`...) on our roles.

Ours are Django groups (apps/core/permissions.py): viewer reads, operator starts and stops work, admin manages.
A permission names the least role that holds it; a role holds what its rank implies. The seed marks policy and
assignment changes and the on-demand pipeline "Admin only"; restores are `restore:write` (operators), their cleanup
and retry `restore:admin`.
"""
from __future__ import annotations

from apps.core.choices import Role
from apps.core.permissions import PermissionTable

PERMISSIONS = PermissionTable({
    "snapshots:read": Role.VIEWER,  # policies, assignments, runs, the pipeline's status
    "snapshots:admin": Role.ADMIN,  # change policies and assignments, start the pipeline
    "snapshot_runs:read": Role.VIEWER,  # a run's live progress
    "restore:read": Role.VIEWER,  # configuration, snapshots, restore points, free addresses, jobs
    "restore:write": Role.OPERATOR,  # plan, execute, cancel
    "restore:admin": Role.ADMIN,  # cleanup, retry, cleanup-storage
})
