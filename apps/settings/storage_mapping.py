"""Where each replica volume goes: the storage mapping that applies to a disk, and whether CloudStack can take it.

A disk's own mapping wins, then its datastore's; what a mapping leaves blank comes from the configuration (its
`disk_offering_id`, else the customized offering). `review` checks the mappings a VM's disks use against
CloudStack: every mapped offering and pool still exists, fits the zone and the offering's storage tags, and the
pools have room for the disks that have no replica volume yet.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from apps.core.utils import GiB, whole_gib

from . import cloudstack as cs
from .models import OsseaConfig, StorageMapping

# storage.pool.disk.allocated.capacity.disable.threshold, CloudStack's default: a pool whose allocated share of
# its size (times its over-provisioning factor) would pass it takes no new volume (storagePoolHasEnoughSpace).
ALLOCATED_DISABLE_THRESHOLD = 0.85


@dataclass(frozen=True)
class Placement:
    """createVolume's `diskofferingid` ("" : the customized offering) and `storageid` ("": CloudStack chooses)."""

    disk_offering_id: str
    storage_id: str
    source: str
    mapping_id: int | None = None


def mapping_for(config: OsseaConfig, *, vm_id: str = "", disk_id: str = "", datastore: str = "") -> StorageMapping | None:
    mappings = StorageMapping.objects.filter(ossea_config=config)
    if vm_id and disk_id:
        found = mappings.filter(vm_id=vm_id, disk_id=disk_id).first()
        if found is not None:
            return found
    return mappings.filter(datastore=datastore, vm_id="", disk_id="").first() if datastore else None


def placement_for(config: OsseaConfig, *, vm_id: str = "", disk_id: str = "", datastore: str = "") -> Placement:
    mapping = mapping_for(config, vm_id=vm_id, disk_id=disk_id, datastore=datastore)
    if mapping is None:
        return Placement(config.disk_offering_id, "", "configuration default")
    source = f"datastore '{mapping.datastore}'" if mapping.datastore else f"disk {mapping.disk_id}"
    return Placement(mapping.disk_offering_id or config.disk_offering_id, mapping.storage_id,
                     f"storage mapping of {source}", mapping.pk)


def check_placed(volume: dict, placement: Placement) -> None:
    """After the attach: a volume not on its mapped pool (a CloudStack before 4.23 chose it by storage tags)."""
    if placement.storage_id and volume.get("storageid") != placement.storage_id:
        raise cs.CloudStackError(
            f"Volume {volume.get('id')} was created on storage pool {volume.get('storage') or volume.get('storageid')}, "
            f"not on pool {placement.storage_id} of the {placement.source}: this CloudStack chooses the pool when the "
            "volume is attached (createVolume takes storageid from 4.23), so map a disk offering whose storage tags "
            "only that pool carries")


@dataclass
class DiskNeed:
    disk_id: str
    datastore: str
    capacity_bytes: int
    replicated: bool


@dataclass
class Review:
    problems: list[str] = field(default_factory=list)
    disks: list[dict] = field(default_factory=list)
    pools: list[dict] = field(default_factory=list)


def _tags(text: str | None) -> set[str]:
    return {t.strip() for t in (text or "").split(",") if t.strip()}


def free_bytes(pool: dict) -> int:
    capacity = int(pool.get("disksizetotal") or 0) * float(pool.get("overprovisionfactor") or 1)
    return int(capacity * ALLOCATED_DISABLE_THRESHOLD) - int(pool.get("disksizeallocated") or 0)


def review(config: OsseaConfig, client: cs.CloudStackClient, *, vm_id: str, disks: list[DiskNeed],
           zone_id: str) -> Review:
    """What stands between these disks' mappings and CloudStack: gone offerings or pools, wrong zone or tags, no room."""
    out = Review()
    placements = [(disk, placement_for(config, vm_id=vm_id, disk_id=disk.disk_id, datastore=disk.datastore))
                  for disk in disks]
    offerings = {o["id"]: o for o in client.list_disk_offerings()}
    pools: dict[str, dict] = {}
    wanted_pools = {p.storage_id for _, p in placements if p.storage_id}
    if wanted_pools:
        try:
            pools = {p["id"]: p for p in client.list_storage_pools()}
        except cs.CloudStackCommandUnavailableError:
            out.problems.append("this CloudStack key may not list storage pools (listStoragePools is a root-admin "
                                "command): the mapped pools' existence and capacity are not checked")
            wanted_pools = set()
    need: dict[str, int] = {}
    for disk, placement in placements:
        offering = offerings.get(placement.disk_offering_id) if placement.disk_offering_id else None
        out.disks.append({"disk_id": disk.disk_id, "datastore": disk.datastore, "source": placement.source,
                          "disk_offering_id": placement.disk_offering_id or None,
                          "storage_id": placement.storage_id or None, "replicated": disk.replicated})
        if placement.disk_offering_id and offering is None:
            out.problems.append(f"disk offering {placement.disk_offering_id} ({placement.source}, for "
                                f"{disk.disk_id}) does not exist in CloudStack")
        if not placement.storage_id or placement.storage_id not in wanted_pools:
            continue
        pool = pools.get(placement.storage_id)
        if pool is None:
            out.problems.append(f"storage pool {placement.storage_id} ({placement.source}, for {disk.disk_id}) does "
                                "not exist in CloudStack")
            continue
        if pool.get("zoneid") != zone_id:
            out.problems.append(f"storage pool '{pool.get('name')}' is in zone {pool.get('zonename')}, not the "
                                f"configuration's zone ({placement.source})")
        if pool.get("state") != "Up":
            out.problems.append(f"storage pool '{pool.get('name')}' is {pool.get('state')}, not Up")
        if not _tags(offering.get("tags") if offering else "") <= _tags(pool.get("tags")):
            out.problems.append(f"disk offering '{offering.get('name')}' has storage tags '{offering.get('tags')}' "
                                f"that pool '{pool.get('name')}' does not carry ({placement.source})")
        if not client.supports_storage_id() and not _tags(offering.get("tags") if offering else ""):
            out.problems.append(f"CloudStack {'.'.join(map(str, client.version())) or '?'} has no createVolume "
                                f"storageid (4.23+) and the {placement.source} names no tagged disk offering: the "
                                f"volume of {disk.disk_id} would go where CloudStack chooses, not to pool "
                                f"'{pool.get('name')}'")
        if not disk.replicated:
            need[pool["id"]] = need.get(pool["id"], 0) + whole_gib(disk.capacity_bytes) * GiB
    for pool_id, needed in need.items():
        pool = pools[pool_id]
        free = free_bytes(pool)
        out.pools.append({"storage_id": pool_id, "name": pool.get("name"), "needed_bytes": needed,
                          "free_bytes": free, "disksizetotal": pool.get("disksizetotal"),
                          "disksizeallocated": pool.get("disksizeallocated")})
        if needed > free:
            out.problems.append(f"storage pool '{pool.get('name')}' has {max(free, 0) / GiB:.1f} GB free for new "
                                f"volumes ({ALLOCATED_DISABLE_THRESHOLD:.0%} of its capacity may be allocated), the "
                                f"disks not yet replicated need {needed / GiB:.1f} GB")
    return out
