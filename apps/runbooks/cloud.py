"""What runbooks read of CloudStack: the configured cloud, resources across projects, owners and ages."""
from __future__ import annotations

from datetime import UTC, datetime

from apps.core.exceptions import ServiceUnavailable
from apps.settings import cloudstack as cs
from apps.settings import volumes as cloud_volumes
from apps.settings.choices import CloudResourceState
from apps.settings.models import CloudResource, OsseaConfig


def connect() -> cs.CloudStackClient:
    config = OsseaConfig.objects.filter(is_active=True).order_by("id").first()
    if config is None:
        raise ServiceUnavailable("CloudStack is not configured: create a configuration first (POST /api/v1/ossea/config)",
                                 error_code="OSSEA_NOT_CONFIGURED")
    return cloud_volumes.client_for(config)


def in_scope(record: dict, project: str = "", domain: str = "") -> bool:
    """Whether a record belongs to the project (id or name) and domain (id or name) asked for; empty: any."""
    if project and project not in (record.get("projectid"), record.get("project"), record.get("account")):
        return False
    return not domain or domain in (record.get("domainid"), record.get("domain"))


def when(text: str | None) -> datetime | None:
    """CloudStack's yyyy-MM-dd'T'HH:mm:ssZ (or ISO) as an aware datetime; None when absent or unreadable."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age_minutes(record: dict, *keys: str) -> float:
    """Minutes since the first of `keys` the record has (0 when none is readable)."""
    for key in keys:
        stamp = when(record.get(key))
        if stamp is not None:
            return max(0.0, (datetime.now(UTC) - stamp).total_seconds() / 60)
    return 0.0


def known_resource_ids() -> set[str]:
    """Every CloudStack id the platform recorded as created, kept or left for its own orphan sweep."""
    live = (CloudResourceState.CREATED, CloudResourceState.RELEASED, CloudResourceState.ORPHANED)
    return set(CloudResource.objects.filter(state__in=live).values_list("resource_id", flat=True))
