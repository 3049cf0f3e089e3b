"""Primary storage pools: where a volume's bytes live, and the rules that place a volume on one.

A pool's `disksizeallocated` is what it started with plus the size of every volume placed on it, so a
volume placed there consumes its capacity (and a deleted one gives it back). A volume gets a pool when it
is created on primary storage: at once with `createVolume storageid=` (CloudStack 4.23+), otherwise when it
is first attached to a VM that lives somewhere (`VolumeApiServiceImpl.createVolumeOnPrimaryStorage`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.cloudstack.errors import ApiError

if TYPE_CHECKING:
    from lab.cloudstack.state import LabState

GiB = 1024**3
TiB = 1024 * GiB
# storage.pool.disk.allocated.capacity.disable.threshold, CloudStack's default: a pool whose allocated share
# (of its size times its over-provisioning factor) would pass this takes no new volume.
ALLOCATED_DISABLE_THRESHOLD = 0.85
# ApiErrorCode.INSUFFICIENT_CAPACITY_ERROR: what an InsufficientStorageCapacityException answers with.
INSUFFICIENT_CAPACITY_ERROR = 533
# The version `createVolume` has `storageid` from (CreateVolumeCmd, `since = "4.23.0"`).
STORAGE_ID_SINCE = (4, 23)

# (name, scope, tags, total bytes, allocated bytes at seed, over-provisioning factor): per zone.
_SEEDED = (
    ("primary", "CLUSTER", "", 4 * TiB, 0, "2.0"),
    ("ssd", "ZONE", "ssd", 200 * GiB, 0, "1.0"),
    ("small", "CLUSTER", "", 10 * GiB, 2 * GiB, "1.0"),
)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def takes_storage_id(lab: LabState) -> bool:
    return version_tuple(lab.options.cloudstack_version)[:2] >= STORAGE_ID_SINCE


def seed(lab: LabState, zone: dict) -> list[dict]:
    """Pools of one zone: a big untagged one (where volumes go by default), a tagged one, a small one."""
    prefix = "lab" if zone is next(iter(lab.zones.values())) else zone["name"].lower()
    return [lab._add("storage_pools", {
        "name": f"{prefix}-{name}", "zoneid": zone["id"], "scope": scope, "tags": tags,
        "type": "NetworkFilesystem", "state": "Up", "ipaddress": "10.0.0.20",
        "path": f"/export/{prefix}-{name}", "hypervisor": "KVM" if scope == "ZONE" else None,
        "disksizetotal": total, "base_allocated": allocated, "overprovisionfactor": factor,
        "clustername": "lab-cluster" if scope == "CLUSTER" else None,
    }) for name, scope, tags, total, allocated, factor in _SEEDED]


def allocated(lab: LabState, pool: dict) -> int:
    return pool.get("base_allocated", 0) + sum(v["size"] for v in lab.volumes.values()
                                               if v.get("storageid") == pool["id"])


def has_space(lab: LabState, pool: dict, size: int) -> bool:
    """StorageManagerImpl.storagePoolHasEnoughSpace: allocated plus the new volume within the threshold."""
    capacity = pool["disksizetotal"] * float(pool.get("overprovisionfactor") or 1)
    return allocated(lab, pool) + size <= capacity * ALLOCATED_DISABLE_THRESHOLD


def offering_tags(offering: dict | None) -> set[str]:
    return {t.strip() for t in ((offering or {}).get("tags") or "").split(",") if t.strip()}


def tags_match(offering: dict | None, pool: dict) -> bool:
    """DiskOfferingCompatibility: an offering with storage tags fits only pools that carry all of them."""
    return offering_tags(offering) <= {t.strip() for t in (pool.get("tags") or "").split(",") if t.strip()}


def fits(lab: LabState, volume: dict, pool: dict) -> bool:
    offering = lab.disk_offerings.get(volume.get("diskofferingid") or "")
    return (pool["state"] == "Up" and pool["zoneid"] == volume["zoneid"] and tags_match(offering, pool)
            and has_space(lab, pool, volume["size"]))


def check_target(lab: LabState, volume: dict, pool: dict) -> None:
    """What createVolume refuses about an asked-for pool (VolumeApiServiceImpl.createVolumeOnStoragePool)."""
    if pool["state"] != "Up":
        raise _refused(f"Cannot create volume {volume['id']} on storage pool {pool['name']} as the storage pool "
                       "is not in Up state.")
    if pool["zoneid"] != volume["zoneid"]:
        raise _refused(f"Cannot create volume {volume['id']} in zone {volume['zoneid']} on storage pool "
                       f"{pool['id']} in zone {pool['zoneid']}.")
    offering = lab.disk_offerings.get(volume.get("diskofferingid") or "")
    if not tags_match(offering, pool):
        raise _refused(f"Disk offering: {volume.get('diskofferingid')} is not compatible with the storage pool")
    if not has_space(lab, pool, volume["size"]):
        raise ApiError(INSUFFICIENT_CAPACITY_ERROR,
                       f"Failed to create volume: storage pool {pool['name']} has not enough space for "
                       f"{volume['size']} bytes")


def _refused(cause: str) -> ApiError:
    # createVolume wraps the refusal in a CloudRuntimeException inside the job: an internal error (530).
    return ApiError(530, f"Failed to create volume: {cause}")


def place(lab: LabState, volume: dict) -> dict:
    """The pool an Allocated volume is created on: its VM's root pool if that fits, else the first that does."""
    root = next((v for v in lab.volumes.values() if volume.get("virtualmachineid")
                 and v.get("virtualmachineid") == volume["virtualmachineid"] and v.get("deviceid") == 0
                 and v.get("storageid")), None)
    candidates = list(lab.storage_pools.values())
    if root is not None:
        candidates.sort(key=lambda pool: pool["id"] != root["storageid"])
    for pool in candidates:
        if fits(lab, volume, pool):
            return pool
    raise ApiError(INSUFFICIENT_CAPACITY_ERROR,
                   f"Unable to find suitable primary storage when creating volume {volume['name']}")
