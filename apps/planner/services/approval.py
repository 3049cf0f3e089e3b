"""Approval: the gate before execution (seed 004)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import Conflict

from ..choices import ProjectStatus
from ..models import Project
from .projects import project_get


@transaction.atomic
def project_approve(*, project: Project, approved_by: str = "") -> Project:
    project = project_get(project.pk, lock=True)
    if project.status == ProjectStatus.APPROVED:
        raise Conflict("The project is approved already")
    if project.assessed_at is None or not project.vms.exists():
        raise Conflict("Upload an inventory and run the assessment before approving")
    project.status = ProjectStatus.APPROVED
    project.approved_at = timezone.now()
    project.approved_by = approved_by[:150]
    project.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
    return project
