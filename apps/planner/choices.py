"""The planner's vocabularies, spelled as seed 004 spells them (clients match on these strings)."""
from __future__ import annotations

from django.db import models


class ProjectStatus(models.TextChoices):
    DRAFT = "draft"
    ASSESSMENT = "assessment"
    PLANNING = "planning"
    APPROVED = "approved"
    ARCHIVED = "archived"


class Topology(models.TextChoices):
    LOCAL = "local"
    CROSS_SITE_DEDICATED = "cross_site_dedicated"
    CROSS_SITE_INTERNET = "cross_site_internet"


class TargetScope(models.TextChoices):
    """Where a tenant lands in CloudStack: its domain plus an account, or a project, inside that domain."""

    DOMAIN = "domain"
    ACCOUNT = "account"
    PROJECT = "project"


class RiskLevel(models.TextChoices):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class MigrationMode(models.TextChoices):
    WARM_ELIGIBLE = "warm_eligible"
    WARM_RISKY = "warm_risky"
    COLD_REQUIRED = "cold_required"


class ModeOverride(models.TextChoices):
    WARM = "warm"
    COLD = "cold"


class OsFamily(models.TextChoices):
    WINDOWS = "windows"
    LINUX = "linux"
    OTHER = "other"


class VMStatus(models.TextChoices):
    NOT_STARTED = "not_started"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    MIGRATED = "migrated"
    FAILED = "failed"
    SKIPPED = "skipped"


class DetectionMethod(models.TextChoices):
    FOLDER_PATH = "folder_path"
    RESOURCE_POOL = "resource_pool"
    VM_NAME_PREFIX = "vm_name_prefix"
    CLUSTER = "cluster"
    ANNOTATION = "annotation"


class DependencyType(models.TextChoices):
    MUST_COMPLETE_BEFORE = "must_complete_before"
    SAME_WAVE = "same_wave"


class CohortStatus(models.TextChoices):
    PLANNED = "planned"
    READY = "ready"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BLOCKED = "blocked"


class AutoAssignStrategy(models.TextChoices):
    PRIORITY = "priority"
    EQUAL_SPLIT = "equal_split"
    RISK = "risk"


class CheckStatus(models.TextChoices):
    PASS = "pass"
    FAIL = "fail"


class CohortReadiness(models.TextChoices):
    ALL_PASS = "all_pass"
    PARTIAL = "partial"
    BLOCKED = "blocked"


# The bottleneck names of the bandwidth model; "pcd_storage" is the seed's word for the destination's primary
# storage (CloudStack's here), kept so existing clients read it.
class Bottleneck(models.TextChoices):
    SOURCE = "source"
    LINK = "link"
    AGENT = "agent"
    STORAGE = "pcd_storage"


TENANT_TARGET_FIELDS = ("target_domain_name", "target_domain_description", "target_project_name",
                        "target_display_name")
