"""Shared pieces of long-running jobs: public ids, events, and the one guarded status-change function."""
from __future__ import annotations

import logging
import re
import secrets

from django.db import models, transaction
from django.utils import timezone

from .exceptions import Conflict
from .models import JobEvent
from .utils import iso

logger = logging.getLogger(__name__)


def timestamp_id(prefix: str, model: type[models.Model], field: str = "job_id") -> str:
    """`<prefix>-YYYYMMDD-HHMMSS`, with a short suffix only when that second is already taken."""
    base = f"{prefix}-{timezone.now():%Y%m%d-%H%M%S}"
    candidate = base
    while model.objects.filter(**{field: candidate}).exists():
        candidate = f"{base}-{secrets.token_hex(2)}"
    return candidate


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:limit] or "vm"


def record_event(job_kind: str, job_id: str, step: str, message: str, *, level: str = "info", **data) -> JobEvent:
    log = logger.warning if level in ("warning", "error") else logger.info
    log("job=%s:%s step=%s %s", job_kind, job_id, step, message)
    return JobEvent.objects.create(job_kind=job_kind, job_id=job_id, step=step, level=level, message=message, data=data)


def job_event_rows(job_kind: str, job_id: str, limit: int = 100) -> list[JobEvent]:
    """The job's last ``limit`` events, oldest first (``apps.core.api.serializers.JobEventSerializer`` renders them)."""
    rows = JobEvent.objects.filter(job_kind=job_kind, job_id=job_id).order_by("-id")[:limit]
    return list(reversed(list(rows)))


def job_events(job_kind: str, job_id: str, limit: int = 100) -> list[dict]:
    """``job_event_rows`` as plain dicts, for the answers still built as dicts (JobEventSerializer's shape)."""
    return [{"step": e.step, "level": e.level, "message": e.message, "data": e.data, "created_at": iso(e.created_at)}
            for e in job_event_rows(job_kind, job_id, limit)]


def transition(instance: models.Model, new_status: str, *, transitions: dict, field: str = "status",
               **updates) -> models.Model:
    """Change a status only along the allowed transitions, on a locked fresh row, saving only what changed.

    A worker holding a stale object never overwrites a cancel flag or status set meanwhile.
    """
    model = type(instance)
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=instance.pk)
        current = getattr(row, field)
        if current != new_status and new_status not in transitions.get(current, set()):
            raise Conflict(f"Cannot move {model._meta.verbose_name} from '{current}' to '{new_status}'",
                           error_code="INVALID_STATE")
        setattr(row, field, new_status)
        for key, value in updates.items():
            setattr(row, key, value)
        fields = [field, *updates.keys()]
        if any(f.name == "updated_at" for f in model._meta.fields):
            fields.append("updated_at")
        row.save(update_fields=fields)
    for key in [field, *updates.keys()]:
        setattr(instance, key, getattr(row, key))
    return row
