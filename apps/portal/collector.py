"""The collector: CloudStack read through our client into the portal's tables, every change kept as history.

One run lists every kind (paged, `listall`), maps each object to its row's columns, and compares with what the
last run stored: a new object is `created`, a column that differs is `changed` (before and after), an object gone
is `deleted` (its last state kept). The whole run is one transaction: if CloudStack fails half-way nothing is
written but the failed `Collection` row, so the endpoints keep answering from the last good run and say how old
it is. Drift rules are applied to the changes in the same transaction (`drift.detect`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Sum
from django.utils import timezone

from apps.settings import cloudstack as cs
from apps.settings import selectors as settings_selectors
from apps.settings.volumes import client_for

from . import drift, models
from .choices import ChangeAction, CollectionStatus

log = logging.getLogger(__name__)
GiB = 1024**3
MiB = 1024**2
# CloudStack's VM states as the seed's server statuses.
VM_STATUS = {"Running": "ACTIVE", "Stopped": "SHUTOFF", "Error": "ERROR", "Starting": "BUILD", "Stopping": "ACTIVE",
             "Migrating": "MIGRATING", "Destroyed": "DELETED", "Expunging": "DELETED", "Shutdown": "SHUTOFF"}


class CollectorUnavailable(Exception):
    """No CloudStack is configured: nothing to collect."""


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _percent(text) -> float:
    try:
        return round(float(str(text).rstrip("%")), 2)
    except (TypeError, ValueError):
        return 0.0


@dataclass
class Owners:
    """Account ids by (domain id, name) and project names: the seed's tenant of each object."""

    accounts: dict[tuple[str, str], str] = field(default_factory=dict)

    def of(self, obj: dict) -> dict:
        domain_id, account = obj.get("domainid") or "", obj.get("account") or ""
        if obj.get("projectid"):
            tenant_id, tenant_name = obj["projectid"], obj.get("project") or ""
        else:
            tenant_id, tenant_name = self.accounts.get((domain_id, account), ""), account
        return {"domain_id": domain_id, "domain_name": obj.get("domain") or "", "account": account,
                "tenant_id": tenant_id, "tenant_name": tenant_name}


@dataclass(frozen=True)
class Kind:
    resource_type: str
    model: type
    fetch: Callable[[cs.CloudStackClient], list[dict]]
    columns: Callable[[dict, Owners], dict]
    # Columns that move on their own (utilisation): stored, never a change.
    untracked: frozenset = frozenset()


def _domain(o: dict, owners: Owners) -> dict:
    return {"domain_id": o["id"], "domain_name": o.get("name", ""), "path": o.get("path", ""),
            "parent_id": o.get("parentdomainid") or "", "state": o.get("state", "")}


def _account(o: dict, owners: Owners) -> dict:
    return {"domain_id": o.get("domainid", ""), "domain_name": o.get("domain", ""), "account": o.get("name", ""),
            "tenant_id": o["id"], "tenant_name": o.get("name", ""), "role_type": o.get("roletype", ""),
            "state": o.get("state", "")}


def _project(o: dict, owners: Owners) -> dict:
    return {"domain_id": o.get("domainid", ""), "domain_name": o.get("domain", ""), "account": o.get("account", ""),
            "tenant_id": o["id"], "tenant_name": o.get("name", ""), "display_text": o.get("displaytext", ""),
            "state": o.get("state", "")}


def _host(o: dict, owners: Owners) -> dict:
    return {"state": o.get("state", ""), "cpu_count": int(o.get("cpunumber") or 0),
            "cpu_used_percent": _percent(o.get("cpuused")), "cpu_allocated_percent": _percent(o.get("cpuallocated")),
            "memory_total_mb": int(o.get("memorytotal") or 0) // MiB,
            "memory_used_mb": int(o.get("memoryused") or 0) // MiB,
            "memory_allocated_mb": int(o.get("memoryallocated") or 0) // MiB,
            "disk_total_gb": int(o.get("localstoragetotal") or 0) // GiB,
            "disk_used_gb": int(o.get("localstorageused") or 0) // GiB, "ip_address": o.get("ipaddress", "")}


def _offering(o: dict, owners: Owners) -> dict:
    return {"display_text": o.get("displaytext", ""), "vcpus": o.get("cpunumber"), "cpu_speed_mhz": o.get("cpuspeed"),
            "ram_mb": o.get("memory"), "customized": bool(o.get("iscustomized")), "state": o.get("state", "Active")}


def _template(o: dict, owners: Owners) -> dict:
    return {**owners.of(o), "os_type": o.get("ostypename", ""), "size_gb": int(o.get("size") or 0) // GiB,
            "disk_format": o.get("format", ""), "state": "active" if o.get("isready") else "queued"}


def _server(o: dict, owners: Owners) -> dict:
    nics = o.get("nic") or []
    return {**owners.of(o), "state": o.get("state", ""), "status": VM_STATUS.get(o.get("state", ""), "UNKNOWN"),
            "flavor_id": o.get("serviceofferingid", ""), "flavor_name": o.get("serviceofferingname", ""),
            "vcpus": int(o.get("cpunumber") or 0), "ram_mb": int(o.get("memory") or 0),
            "image_id": o.get("templateid", ""), "image_name": o.get("templatename", ""),
            "hypervisor_id": o.get("hostid", ""), "hypervisor_hostname": o.get("hostname", ""),
            "ips": ", ".join(n["ipaddress"] for n in nics if n.get("ipaddress")), "zone_name": o.get("zonename", ""),
            "nics": [{k: n.get(k) for k in ("id", "networkid", "networkname", "macaddress", "ipaddress", "isdefault")}
                     for n in nics]}


def _volume(o: dict, owners: Owners) -> dict:
    return {**owners.of(o), "state": o.get("state", ""), "size_gb": int(o.get("size") or 0) // GiB,
            "volume_type": o.get("type", ""), "server_id": o.get("virtualmachineid", ""),
            "server_name": o.get("vmname", ""), "storage_pool": o.get("storage", ""),
            "disk_offering": o.get("diskofferingname", "")}


def _snapshot(o: dict, owners: Owners) -> dict:
    size = o.get("virtualsize") or o.get("physicalsize") or 0
    return {**owners.of(o), "state": o.get("state", ""), "size_gb": int(size) // GiB,
            "volume_id": o.get("volumeid", ""), "volume_name": o.get("volumename", ""),
            "created": parse_time(o.get("created"))}


def _network(o: dict, owners: Owners) -> dict:
    return {**owners.of(o), "state": o.get("state", ""), "cidr": o.get("cidr", ""), "gateway_ip": o.get("gateway", ""),
            "netmask": o.get("netmask", ""), "network_type": o.get("type", ""),
            "shared": o.get("type") == "Shared", "zone_name": o.get("zonename", "")}


def _security_group(o: dict, owners: Owners) -> dict:
    rules = [{**r, "direction": "ingress"} for r in o.get("ingressrule") or []]
    rules += [{**r, "direction": "egress"} for r in o.get("egressrule") or []]
    return {**owners.of(o), "description": o.get("description", ""), "rules": rules,
            "vm_count": int(o.get("virtualmachinecount") or 0), "state": "active"}


def _port(o: dict, owners: Owners) -> dict:
    return {**owners.of(o["vm"]), "state": "ACTIVE" if o["vm"].get("state") == "Running" else "DOWN",
            "device_id": o["vm"]["id"], "mac_address": o.get("macaddress", ""), "network_id": o.get("networkid", ""),
            "ip_address": o.get("ipaddress") or ""}


def _floating_ip(o: dict, owners: Owners) -> dict:
    return {**owners.of(o), "name": o.get("ipaddress", ""), "ip_address": o.get("ipaddress", ""),
            "state": "ACTIVE" if o.get("isstaticnat") or o.get("issourcenat") else "DOWN",
            "network_id": o.get("associatednetworkid", ""), "network_name": o.get("associatednetworkname", ""),
            "is_source_nat": bool(o.get("issourcenat")), "port_id": o.get("virtualmachineid") or "",
            "server_name": o.get("virtualmachinename") or ""}


def _pool(o: dict, owners: Owners) -> dict:
    return {"state": o.get("state", ""), "total_gb": int(o.get("disksizetotal") or 0) // GiB,
            "used_gb": int(o.get("disksizeused") or 0) // GiB,
            "allocated_gb": int(o.get("disksizeallocated") or 0) // GiB}


def _ports(vms: list[dict]) -> list[dict]:
    return [{**nic, "name": f"{vm.get('name', '')}-nic{nic.get('deviceid', '')}", "vm": vm}
            for vm in vms for nic in vm.get("nic") or []]


HOST_LOAD = frozenset({"cpu_used_percent", "cpu_allocated_percent", "memory_used_mb", "memory_allocated_mb",
                       "disk_used_gb"})
KINDS = (
    Kind("domain", models.Domain, lambda c: c.list_domains(), _domain),
    Kind("account", models.Account, lambda c: c.list_accounts(), _account),
    Kind("project", models.Project, lambda c: c.list_projects(), _project),
    Kind("hypervisor", models.Host, lambda c: c.list_hosts(), _host, HOST_LOAD),
    Kind("flavor", models.ServiceOffering, lambda c: c.list_service_offerings(), _offering),
    Kind("image", models.Template, lambda c: c.list_templates(template_filter="all"), _template),
    Kind("server", models.Server, lambda c: c.list_virtual_machines(), _server),
    Kind("volume", models.Volume, lambda c: c.list_all_volumes(), _volume),
    Kind("snapshot", models.Snapshot, lambda c: c.list_all_snapshots(), _snapshot),
    Kind("network", models.Network, lambda c: c.list_networks(), _network),
    Kind("security_group", models.SecurityGroup, lambda c: c.list_security_groups(), _security_group),
    Kind("port", models.Port, None, _port),
    Kind("floating_ip", models.FloatingIP, lambda c: c.list_public_ip_addresses(), _floating_ip),
    Kind("storage_pool", models.StoragePool, lambda c: c.list_storage_pools(), _pool,
         frozenset({"used_gb", "allocated_gb"})),
)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _hash(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def fetch_all(client: cs.CloudStackClient, unavailable: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Every kind's CloudStack objects; any failure raises (the run then writes nothing).

    A kind whose list command the keys' role may not call (hosts, storage pools and domains are the root admin's)
    is left out and named in `unavailable`, so its stored rows stay as they were instead of all looking deleted.
    """
    fetched: dict[str, list[dict]] = {}
    for kind in KINDS:
        if kind.fetch is None:
            continue
        try:
            fetched[kind.resource_type] = kind.fetch(client)
        except cs.CloudStackCommandUnavailableError as exc:
            if unavailable is None:
                raise
            unavailable[kind.resource_type] = str(exc)
    fetched["port"] = _ports(fetched.get("server", []))
    return fetched


def _apply(kind: Kind, objects: list[dict], owners: Owners, collection: models.Collection, now) -> list[models.Change]:
    """Store one kind's objects; the changes against the stored rows."""
    stored = {row.cloud_id: row for row in kind.model.objects.all()}
    changes, new_rows, updated, columns_touched = [], [], [], set()
    seen = set()
    for obj in objects:
        cloud_id = str(obj.get("id"))
        if cloud_id in seen:
            continue
        seen.add(cloud_id)
        columns = {"name": obj.get("name") or obj.get("displayname") or "", **kind.columns(obj, owners)}
        raw = {k: v for k, v in obj.items() if k != "vm"}  # a port's VM is its own row
        row = stored.get(cloud_id)
        common = {"resource_type": kind.resource_type, "resource_id": cloud_id, "resource_name": columns["name"],
                  "domain_name": columns.get("domain_name", ""), "tenant_id": columns.get("tenant_id", ""),
                  "tenant_name": columns.get("tenant_name", ""), "detected_at": now, "collection": collection}
        if row is None:
            new_rows.append(kind.model(cloud_id=cloud_id, raw=raw, first_seen=now, last_seen=now, **columns))
            snapshot = {k: _jsonable(v) for k, v in columns.items()}
            changes.append(models.Change(action=ChangeAction.CREATED, snapshot=snapshot,
                                         change_hash=_hash(cloud_id, "created", snapshot, now), **common))
            continue
        diff, columns_changed = {}, False
        for name, value in columns.items():
            before = getattr(row, name)
            if before != value:
                setattr(row, name, value)
                columns_touched.add(name)
                columns_changed = True
                if name not in kind.untracked:
                    diff[name] = {"before": _jsonable(before), "after": _jsonable(value)}
        if diff or columns_changed or row.raw != raw:
            row.raw = raw
            updated.append(row)
        if diff:
            snapshot = {k: _jsonable(v) for k, v in columns.items()}
            changes.append(models.Change(action=ChangeAction.CHANGED, fields=diff, snapshot=snapshot,
                                         change_hash=_hash(cloud_id, diff, now), **common))
    gone = [row for cloud_id, row in stored.items() if cloud_id not in seen]
    for row in gone:
        snapshot = {"raw": row.raw, "last_seen": row.last_seen.isoformat()}
        changes.append(models.Change(
            action=ChangeAction.DELETED, snapshot=snapshot, resource_type=kind.resource_type, resource_id=row.cloud_id,
            resource_name=row.name, domain_name=row.domain_name, tenant_id=row.tenant_id, tenant_name=row.tenant_name,
            detected_at=now, collection=collection, change_hash=_hash(row.cloud_id, "deleted", now)))
    kind.model.objects.bulk_create(new_rows, batch_size=500)
    # Only rows that differ are rewritten; every row still there was seen now (one UPDATE for them all).
    if updated:
        kind.model.objects.bulk_update(updated, ["raw", *sorted(columns_touched)], batch_size=500)
    if gone:
        kind.model.objects.filter(pk__in=[row.pk for row in gone]).delete()
    kind.model.objects.exclude(last_seen=now).update(last_seen=now)
    return changes


def _daily_figures(now) -> None:
    pools = models.StoragePool.objects.aggregate(used=Sum("used_gb"), total=Sum("total_gb"))
    models.DailyFigures.objects.update_or_create(date=now.date(), defaults={
        "vms": models.Server.objects.count(), "volumes": models.Volume.objects.count(),
        "storage_used_gb": pools["used"] or 0, "storage_total_gb": pools["total"] or 0,
        "cpu_avg_percent": round(models.Host.objects.aggregate(avg=Avg("cpu_used_percent"))["avg"] or 0, 2)})


# CloudStack's resourcetype of an event -> the seed's resource type of our history.
EVENT_RESOURCE_TYPES = {"VirtualMachine": "server", "Volume": "volume", "Snapshot": "snapshot", "Network": "network",
                        "SecurityGroup": "security_group", "ServiceOffering": "flavor", "Template": "image",
                        "PublicIpAddress": "floating_ip", "Project": "project", "Domain": "domain",
                        "Account": "account", "Host": "hypervisor", "StoragePool": "storage_pool"}
# How far back the first collection reads CloudStack's event log (later runs read from the newest event seen).
FIRST_EVENTS_DAYS = 7
# Time zones run from UTC-12 to UTC+14: a startdate this much earlier covers the newest event's second in any.
EVENT_OVERLAP = timedelta(hours=14)


def fetch_events(client: cs.CloudStackClient) -> list[dict]:
    """CloudStack's events since the newest one stored (paged, every account's), without those already stored.

    `startdate` is read in the management server's own time zone, which we do not know: asking from
    `EVENT_OVERLAP` before the newest stored event (in UTC) misses nothing whatever its zone, and what comes again
    is told apart by id.
    """
    last = models.CloudEvent.objects.order_by("-created", "-id").first()
    since = (last.created - EVENT_OVERLAP) if last else timezone.now() - timedelta(days=FIRST_EVENTS_DAYS)
    since = since.astimezone(UTC).replace(microsecond=0)
    events = client.list_all("listEvents", listall=True, startdate=since.strftime("%Y-%m-%d %H:%M:%S"))
    known = set(models.CloudEvent.objects.filter(created__gte=since - EVENT_OVERLAP).values_list(
        "cloud_id", flat=True))
    fresh, seen = [], set()
    for event in events:
        event_id = str(event.get("id") or "")
        if event_id and event_id not in known and event_id not in seen and parse_time(event.get("created")):
            seen.add(event_id)
            fresh.append(event)
    return fresh


def prune_events(now: datetime | None = None) -> int:
    """Delete the CloudStack events older than MP_PORTAL_EVENT_RETENTION_DAYS (0 keeps them all); how many went.

    The events near the newest one are always kept, whatever their age: `fetch_events` reads again from
    EVENT_OVERLAP before the newest and tells what it already has by id, so pruning inside that window would have
    the next collection store the pruned events again (and a table emptied entirely would make it read the first
    FIRST_EVENTS_DAYS again). A change linked to a pruned event keeps its row (its `event` becomes null).
    """
    days = settings.MP_PORTAL_EVENT_RETENTION_DAYS
    if days <= 0:
        return 0
    newest = models.CloudEvent.objects.order_by("-created", "-id").values_list("created", flat=True).first()
    if newest is None:
        return 0
    cutoff = min((now or timezone.now()) - timedelta(days=days), newest - 2 * EVENT_OVERLAP)
    deleted, _ = models.CloudEvent.objects.filter(created__lt=cutoff).delete()
    if deleted:
        log.info("portal.events pruned=%d older_than_days=%d", deleted, days)
    return deleted


def _store_events(events: list[dict], owners: Owners, collection: models.Collection) -> list[models.CloudEvent]:
    rows = []
    # Stored oldest first, so the key orders events of one second as CloudStack did (it answers newest first).
    for _, _, e in sorted((parse_time(e["created"]), -n, e) for n, e in enumerate(events)):
        owner = owners.of(e)
        rows.append(models.CloudEvent(
            cloud_id=str(e["id"]), collection=collection, type=e.get("type", ""), level=e.get("level", ""),
            state=e.get("state", ""), description=e.get("description", ""), username=e.get("username", ""),
            account=owner["account"], domain_id=owner["domain_id"], domain_name=owner["domain_name"],
            tenant_id=owner["tenant_id"], tenant_name=owner["tenant_name"],
            resource_type=EVENT_RESOURCE_TYPES.get(e.get("resourcetype") or "", ""),
            resource_id=e.get("resourceid") or "", parent_id=e.get("parentid") or "",
            created=parse_time(e["created"]), raw=e))
    models.CloudEvent.objects.bulk_create(rows, batch_size=500)
    # Read back for their keys (MariaDB's bulk insert does not return them).
    return list(models.CloudEvent.objects.filter(collection=collection))


def _link_events(changes: list[models.Change], events: list[models.CloudEvent]) -> None:
    """Each collected change gets the newest finished CloudStack event on its resource read in the same run."""
    latest: dict[tuple[str, str], models.CloudEvent] = {}
    for event in sorted(events, key=lambda e: (e.created, e.pk)):
        if event.state == "Completed" and event.resource_id:
            latest[(event.resource_type, event.resource_id)] = event
    for change in changes:
        change.event = latest.get((change.resource_type, change.resource_id))


def collect(*, client: cs.CloudStackClient | None = None) -> models.Collection:
    """Read CloudStack into the portal's tables once; the run's row (failed, with the reason, on an outage).

    Raises `CollectorUnavailable` when no CloudStack is configured and no client is given.
    """
    if client is None:
        config = settings_selectors.active_ossea_config()
        if config is None:
            raise CollectorUnavailable("No CloudStack is configured (POST /api/v1/ossea/config)")
        client = client_for(config)
    started, clock = timezone.now(), time.monotonic()
    collection = models.Collection.objects.create(started_at=started)
    unavailable: dict[str, str] = {}
    try:
        fetched = fetch_all(client, unavailable)
        if "server" in unavailable:  # without the VMs there is nothing worth serving
            raise cs.CloudStackError(unavailable["server"])
        try:
            events = fetch_events(client)
        except cs.CloudStackCommandUnavailableError as exc:
            events, unavailable["event"] = [], str(exc)
    except cs.CloudStackError as exc:
        collection.status, collection.error = CollectionStatus.FAILED, str(exc)
        collection.finished_at = timezone.now()
        collection.duration_ms = int((time.monotonic() - clock) * 1000)
        collection.save(update_fields=["status", "error", "finished_at", "duration_ms"])
        log.warning("portal.collect failed error=%s", exc)
        return collection
    owners = Owners({(a.get("domainid", ""), a.get("name", "")): a["id"] for a in fetched.get("account", [])})
    with transaction.atomic():
        changes: list[models.Change] = []
        for kind in KINDS:
            if kind.resource_type in fetched:
                changes += _apply(kind, fetched[kind.resource_type], owners, collection, started)
        _link_events(changes, _store_events(events, owners, collection) if events else [])
        models.Change.objects.bulk_create(changes, batch_size=500)
        drift.detect(collection)
        _daily_figures(started)
        collection.status = CollectionStatus.SUCCEEDED
        collection.counts = {kind: len(items) for kind, items in fetched.items()}
        collection.counts["event"] = len(events)
        if unavailable:
            collection.counts["unavailable"] = sorted(unavailable)
            collection.error = "; ".join(f"{kind}: {why}" for kind, why in sorted(unavailable.items()))
        collection.changes = len(changes)
        collection.finished_at = timezone.now()
        collection.duration_ms = int((time.monotonic() - clock) * 1000)
        collection.save()
    log.info("portal.collect ok ms=%d changes=%d", collection.duration_ms, len(changes))
    return collection


KIND_BY_TYPE = {kind.resource_type: kind for kind in KINDS}


@transaction.atomic
def record_write(resource_type: str, *, obj: dict | None = None, deleted_id: str | None = None, user: str = "") -> None:
    """Store what a portal write made or removed in CloudStack at once, with its history row (by `user`).

    The next collection then finds the table already matching CloudStack: the change is recorded once.
    """
    kind, now = KIND_BY_TYPE[resource_type], timezone.now()
    if deleted_id is not None:
        row = kind.model.objects.filter(cloud_id=deleted_id).first()
        if row is None:
            return
        models.Change.objects.create(
            action=ChangeAction.DELETED, snapshot={"raw": row.raw, "last_seen": row.last_seen.isoformat()},
            resource_type=resource_type, resource_id=row.cloud_id, resource_name=row.name, domain_name=row.domain_name,
            tenant_id=row.tenant_id, tenant_name=row.tenant_name, detected_at=now, user=user,
            change_hash=_hash(row.cloud_id, "deleted", now))
        row.delete()
        return
    owners = Owners({(a.domain_id, a.name): a.cloud_id for a in models.Account.objects.all()})
    columns = {"name": obj.get("name") or "", **kind.columns(obj, owners)}
    row, created = kind.model.objects.update_or_create(
        cloud_id=str(obj["id"]), defaults={**columns, "raw": obj, "last_seen": now}, create_defaults={
            **columns, "raw": obj, "last_seen": now, "first_seen": now})
    snapshot = {k: _jsonable(v) for k, v in columns.items()}
    models.Change.objects.create(
        action=ChangeAction.CREATED if created else ChangeAction.CHANGED, snapshot=snapshot,
        resource_type=resource_type, resource_id=row.cloud_id, resource_name=row.name,
        domain_name=columns.get("domain_name", ""), tenant_id=columns.get("tenant_id", ""),
        tenant_name=columns.get("tenant_name", ""), detected_at=now, user=user,
        change_hash=_hash(row.cloud_id, "write", snapshot, now))
