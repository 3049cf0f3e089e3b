"""The readiness check of the VM's storage mappings: the mapped disk offerings and pools still exist and fit, and the
pools have room for the disks that have no replica volume yet (`apps.settings.storage_mapping.review`).

A mixin of `validation.Validator`: it reads the validator's VM, configuration, CloudStack client and zone.
"""
from __future__ import annotations

from apps.replication.models import ReplicaVolume
from apps.settings import storage_mapping

from .checks import Check


class StorageChecks:
    def check_storage(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        replicated = set(ReplicaVolume.objects.filter(vm_context=self.vm).values_list("disk_id", flat=True))
        disks = [storage_mapping.DiskNeed(d.disk_id, d.datastore, d.capacity_bytes, d.disk_id in replicated)
                 for d in self.vm.disks.order_by("unit_number")]
        found = storage_mapping.review(self.config, self.client, vm_id=self.vm.vm_id, disks=disks,
                                       zone_id=self.zone_id)
        check.details = {"disks": found.disks, "pools": found.pools, "problems": found.problems}
        if found.problems:
            check.fail("Storage mapping: " + "; ".join(found.problems),
                       "Map the VM's datastores or disks to an existing disk offering and storage pool with room "
                       "(PUT /api/v1/storage-mappings/{id}), or free space on the pool")
            return
        mapped = sum(1 for d in found.disks if d["source"] != "configuration default")
        check.message = (f"{mapped} of {len(disks)} disk(s) follow a storage mapping; every mapped offering and pool "
                         "exists and has room")
