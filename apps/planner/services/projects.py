"""Projects: create, read, change settings, delete."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.exceptions import InvalidInput, NotFound

from ..models import Project

EDITABLE = ("name", "description", "topology_type", "source_nic_speed_gbps", "source_usable_pct", "link_speed_gbps",
            "link_usable_pct", "link_latency_ms", "agent_count", "agent_concurrent_vms", "agent_stream_mbps",
            "target_storage_mbps", "change_rate_pct", "migration_duration_days", "working_hours_per_day",
            "working_days_per_week", "target_vms_per_day", "target_scope", "sync_interval_seconds",
            "sync_cron_expression")


def project_get(project_id, *, lock: bool = False) -> Project:
    try:
        key = uuid.UUID(str(project_id))
    except ValueError:
        raise NotFound(f"Migration project {str(project_id)[:64]!r} not found") from None
    queryset = Project.objects.select_for_update() if lock else Project.objects
    try:
        return queryset.get(pk=key)
    except Project.DoesNotExist:
        raise NotFound(f"Migration project {key} not found") from None


def _save(project: Project) -> None:
    try:
        project.full_clean(exclude=["risk_config", "approval_report"])
    except ValidationError as exc:
        lines = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        raise InvalidInput(f"Invalid project settings: {lines}", details=exc.message_dict) from None
    project.save()


def project_create(*, data: dict) -> Project:
    project = Project(**{k: v for k, v in data.items() if k in EDITABLE})
    _save(project)
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict) -> Project:
    project = project_get(project.pk, lock=True)
    for name, value in data.items():
        if name in EDITABLE:
            setattr(project, name, value)
    _save(project)
    return project


def project_delete(*, project: Project) -> None:
    project.delete()
