"""The orphan sweep's owner check: a running snapshot run or an active restore still holds what it created."""
from __future__ import annotations

from apps.settings import volumes

from .choices import RESTORE_ACTIVE, RunStatus
from .models import RestoreJob, SnapshotRun


def _owner_is_live(owner: str) -> bool | None:
    if owner.startswith("snaprun-"):
        ident = owner.removeprefix("snaprun-")
        return ident.isdigit() and SnapshotRun.objects.filter(pk=int(ident), status=RunStatus.RUNNING).exists()
    if owner.startswith("restore-"):
        return RestoreJob.objects.filter(job_id=owner.removeprefix("restore-"), status__in=RESTORE_ACTIVE).exists()
    return None


volumes.register_owner_check(_owner_is_live)
