"""What snapshots and restore read of CloudStack: the configured cloud, tenants, and the volumes policies cover.

A tenant is the seed's project: a CloudStack project when the resource belongs to one, else its account (in its
domain). Lists are read whole once per pass (listVolumes, listSnapshots with listall) and matched here, so one run
costs a handful of list calls whatever the number of assignments.
"""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.exceptions import ServiceUnavailable
from apps.core.utils import whole_gib
from apps.settings import cloudstack as cs
from apps.settings import volumes as cloud_volumes
from apps.settings.models import OsseaConfig

from .choices import TargetType


def active_config() -> OsseaConfig:
    config = OsseaConfig.objects.filter(is_active=True).order_by("id").first()
    if config is None:
        raise ServiceUnavailable("CloudStack is not configured: create a configuration first (POST /api/v1/ossea/config)",
                                 error_code="OSSEA_NOT_CONFIGURED")
    return config


def connect() -> tuple[OsseaConfig, cs.CloudStackClient]:
    config = active_config()
    return config, cloud_volumes.client_for(config)


def tenant_id(record: dict) -> str:
    """The tenant a volume, VM or snapshot belongs to: its project id, else its account name."""
    return record.get("projectid") or record.get("account") or ""


def tenant_name(record: dict) -> str:
    return record.get("project") or record.get("account") or ""


def in_tenant(record: dict, tenant: str, domain_id: str = "") -> bool:
    """Whether a record belongs to the tenant named by project id or name, or by account (optionally its domain)."""
    if record.get("projectid"):
        return tenant in (record["projectid"], record.get("project"))
    return record.get("account") == tenant and (not domain_id or record.get("domainid") == domain_id)


def size_gb(record: dict) -> int:
    return whole_gib(int(record.get("size") or record.get("virtualsize") or 0))


@dataclass(frozen=True)
class Target:
    """One assignment's target as a matcher over CloudStack's volumes."""

    kind: str
    ident: str
    domain_id: str = ""

    def covers(self, volume: dict) -> bool:
        if self.kind == TargetType.VOLUME:
            return volume["id"] == self.ident
        if self.kind == TargetType.VM:
            return volume.get("virtualmachineid") == self.ident
        return in_tenant(volume, self.ident, self.domain_id)


def list_everywhere(client: cs.CloudStackClient, command: str, **params) -> list[dict]:
    """A list command over the caller's resources and every project's: CloudStack lists a project's resources only
    when asked with projectid=-1 (ListProjectResourcesCriteria); a cloud that refuses -1 has no projects to add."""
    return client.list_everywhere(command, **params)


_LIST = {"vm": "listVirtualMachines", "volume": "listVolumes", "snapshot": "listSnapshots"}


def find(client: cs.CloudStackClient, kind: str, ident: str) -> dict | None:
    """A VM, volume or snapshot by id wherever it lives (a project's too); None when CloudStack has none."""
    try:
        found = list_everywhere(client, _LIST[kind], id=ident)
    except cs.CloudStackNotFoundError:
        return None
    return found[0] if found else None


def live_volumes(client: cs.CloudStackClient) -> list[dict]:
    """Every volume CloudStack lists (projects' too), without the ones being destroyed."""
    return [v for v in list_everywhere(client, "listVolumes")
            if v.get("state") not in ("Destroy", "Expunging", "Expunged")]


def is_quota_refusal(exc: cs.CloudStackError) -> bool:
    """CloudStack's ResourceAllocationException (error 535): the owner's snapshot or storage limit is reached."""
    return getattr(exc, "errorcode", None) == 535 or "Maximum number of resources" in str(exc)
