"""The CloudStack client's storage operations: volumes, snapshots, storage pools and disk offerings.

A mixin of `CloudStackClient` on the same transport; `client.py` composes them into what replication
and failover do (a replica volume for a disk, attach to the control plane, swap a root volume).
"""

from __future__ import annotations

from .errors import CloudStackNotFoundError
from .transport import CloudStackTransport, Submitted


class StorageOperations(CloudStackTransport):
    # -- disk offerings and storage pools -----------------------------------------------------

    def list_disk_offerings(self) -> list[dict]:
        return self.list_all("listDiskOfferings")

    def custom_disk_offering(self) -> dict:
        """The disk offering that takes a size: what replicated volumes are made from."""
        for offering in self.list_disk_offerings():
            if offering.get("iscustomized"):
                return offering
        raise CloudStackNotFoundError("listDiskOfferings", 431, "no customized disk offering",
                                      message="CloudStack has no disk offering with a custom "
                                              "size; create one for replicated volumes")

    def disk_offering(self, offering_id: str) -> dict:
        """A disk offering by id; CloudStackNotFoundError when CloudStack has none (a mapping outlived it)."""
        for offering in self.list_disk_offerings():
            if offering["id"] == offering_id:
                return offering
        raise CloudStackNotFoundError("listDiskOfferings", 431, f"disk offering {offering_id} not found",
                                      message=f"CloudStack has no disk offering {offering_id}")

    def list_storage_pools(self, *, zone_id: str | None = None, pool_id: str | None = None) -> list[dict]:
        """Primary storage pools with their capacity (listStoragePools: a root-admin command)."""
        return self.list_all("listStoragePools", zoneid=zone_id, id=pool_id)

    # -- volumes ------------------------------------------------------------------------------

    def list_volumes(self, *, vm_id: str | None = None, volume_type: str | None = None,
                     name: str | None = None, zone_id: str | None = None) -> list[dict]:
        return self.list_all("listVolumes", virtualmachineid=vm_id, type=volume_type, name=name,
                         zoneid=zone_id, listall=True)

    def get_volume(self, volume_id: str) -> dict:
        return self._get_one("listVolumes", "volume", volume_id, id=volume_id, listall=True)

    def create_volume(self, *, name: str, zone_id: str, disk_offering_id: str,
                      size_gb: int | None = None, storage_id: str | None = None,
                      on_submitted: Submitted | None = None) -> dict:
        """Create a data volume; the volume object. Without `storage_id` it stays Allocated (on no pool)
        until first attached; with it (CloudStack 4.23+) it is created on that pool at once."""
        return self.run_job("createVolume", "volume", on_submitted=on_submitted, name=name,
                            zoneid=zone_id, diskofferingid=disk_offering_id, size=size_gb,
                            storageid=storage_id)

    def create_volume_from_snapshot(self, *, snapshot_id: str, name: str, owner: dict[str, str] | None = None,
                                    on_submitted: Submitted | None = None) -> dict:
        """A new volume holding a snapshot's data (Ready at once), e.g. to boot a test VM from. Without `owner`
        ({"projectid"} or {"account", "domainid"}) CloudStack gives it to the caller, not the snapshot's owner."""
        return self.run_job("createVolume", "volume", on_submitted=on_submitted,
                            snapshotid=snapshot_id, name=name, **(owner or {}))

    def attach_volume(self, volume_id: str, vm_id: str, *, device_id: int | None = None) -> dict:
        return self.run_job("attachVolume", "volume", id=volume_id, virtualmachineid=vm_id,
                            deviceid=device_id)

    def detach_volume(self, volume_id: str | None = None, *, vm_id: str | None = None,
                      device_id: int | None = None) -> dict:
        """Detach by volume id, or by (vm_id, device_id)."""
        return self.run_job("detachVolume", "volume", id=volume_id, virtualmachineid=vm_id,
                            deviceid=device_id)

    def delete_volume(self, volume_id: str) -> None:
        """Synchronous in CloudStack; refused (431) while the volume is attached."""
        self.call("deleteVolume", id=volume_id)

    def resize_volume(self, volume_id: str, size_gb: int, *, shrink_ok: bool = False) -> dict:
        return self.run_job("resizeVolume", "volume", id=volume_id, size=size_gb,
                            shrinkok=shrink_ok)

    def create_snapshot(self, volume_id: str, *, name: str | None = None,
                        on_submitted: Submitted | None = None) -> dict:
        return self.run_job("createSnapshot", "snapshot", on_submitted=on_submitted,
                            volumeid=volume_id, name=name)

    def list_snapshots(self, *, volume_id: str | None = None,
                       snapshot_id: str | None = None) -> list[dict]:
        return self.list_all("listSnapshots", volumeid=volume_id, id=snapshot_id, listall=True)

    def revert_snapshot(self, snapshot_id: str) -> dict:
        """Volume back to the snapshot; CloudStack wants it Ready and its VM (if any) stopped."""
        return self.run_job("revertSnapshot", "snapshot", id=snapshot_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.run_job("deleteSnapshot", None, id=snapshot_id)
