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


def owner_params(record: dict) -> dict[str, str]:
    """How a create names the record's owner: its project, else its account in its domain (CloudStack gives what
    an admin creates without them to the admin)."""
    if record.get("projectid"):
        return {"projectid": record["projectid"]}
    if record.get("account") and record.get("domainid"):
        return {"account": record["account"], "domainid": record["domainid"]}
    return {}


def _figure(raw) -> float | None:
    """A limit or available as listAccounts/listProjects give it: a number as a string, "Unlimited" for none."""
    if raw is None or str(raw).strip().lower() == "unlimited":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if value < 0 else value


@dataclass(frozen=True)
class Quota:
    """The owner's resource limits and use as CloudStack counts them (None: unlimited). Storage in GiB: volumes
    count against primary storage, snapshots against secondary storage (ResourceType.primary_storage,
    secondary_storage)."""

    tenant: str
    primary_limit_gb: float | None
    primary_used_gb: float
    volume_limit: float | None
    volume_used: float
    secondary_limit_gb: float | None
    secondary_used_gb: float
    snapshot_limit: float | None
    snapshot_used: float


def owner_quota(client: cs.CloudStackClient, record: dict) -> Quota | None:
    """The limits and use of the project or account owning `record` (listProjects / listAccounts: the
    primarystoragelimit, primarystoragetotal, volumelimit, ... fields); None when CloudStack does not say."""
    try:
        if record.get("projectid"):
            rows = client.list_all("listProjects", id=record["projectid"], listall=True)
        elif record.get("account"):
            rows = client.list_all("listAccounts", name=record["account"], domainid=record.get("domainid"),
                                   listall=True)
        else:
            return None
    except cs.CloudStackError:
        return None
    if not rows or "primarystoragetotal" not in rows[0]:
        return None
    row = rows[0]
    return Quota(tenant=tenant_name(record) or row.get("name", ""),
                 primary_limit_gb=_figure(row.get("primarystoragelimit")),
                 primary_used_gb=float(row.get("primarystoragetotal") or 0),
                 volume_limit=_figure(row.get("volumelimit")), volume_used=float(row.get("volumetotal") or 0),
                 secondary_limit_gb=_figure(row.get("secondarystoragelimit")),
                 secondary_used_gb=float(row.get("secondarystoragetotal") or 0),
                 snapshot_limit=_figure(row.get("snapshotlimit")), snapshot_used=float(row.get("snapshottotal") or 0))
