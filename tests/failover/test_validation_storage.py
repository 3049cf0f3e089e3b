"""Readiness of the VM's storage mappings against the emulator: gone offerings and pools, pools without room."""
import pytest

from apps.settings.models import StorageMapping
from tests.factories import VMDiskFactory
from tests.failover.test_validation import check, readiness

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
GiB = 1024**3


def test_unmapped_vm_passes(viewer_client, lab_vm):
    storage = check(readiness(viewer_client, lab_vm), "Storage Mapping")
    assert storage["status"] == "pass" and storage["check_type"] == "warning"
    assert storage["message"].startswith("0 of 2 disk(s) follow a storage mapping")


def test_pool_without_room_and_gone_offering_or_pool_are_reported(operator_client, lab_vm, client, cloud_config):
    pools = {p["name"]: p for p in client.list_storage_pools()}
    # A disk not replicated yet (9 GB) mapped to lab-small: 10 GB, 2 GB allocated, 85% may be allocated.
    VMDiskFactory(vm_context=lab_vm.context, unit_number=2, disk_id="disk-2", disk_key=2002,
                  capacity_bytes=9 * GiB, datastore="ds-small")
    StorageMapping.objects.create(ossea_config=cloud_config, datastore="ds-small", storage_id=pools["lab-small"]["id"],
                                  disk_offering_id=next(o["id"] for o in client.list_disk_offerings()
                                                        if o["name"] == "Custom"))
    StorageMapping.objects.create(ossea_config=cloud_config, vm_id=lab_vm.context.vm_id, disk_id="disk-1",
                                  storage_id="gone-pool", disk_offering_id="gone-offering")
    body = readiness(operator_client, lab_vm, "test")
    storage = check(body, "Storage Mapping")
    assert storage["status"] == "fail" and storage["check_type"] == "warning"
    message = storage["message"]
    assert "storage pool 'lab-small' has 6.5 GB free for new volumes" in message and "need 9.0 GB" in message
    assert "disk offering gone-offering (storage mapping of disk disk-1, for disk-1) does not exist" in message
    assert "storage pool gone-pool" in message and "does not exist in CloudStack" in message
    # This emulator is CloudStack 4.20: a pool behind an untagged offering cannot be asked for.
    assert "has no createVolume storageid (4.23+)" in message
    [pool] = storage["details"]["pools"]
    assert pool["name"] == "lab-small" and pool["needed_bytes"] == 9 * GiB
    assert any("PUT /api/v1/storage-mappings" in action for action in body["required_actions"])
    assert storage["message"] in body["validation_result"]["warnings"]


def test_a_user_key_cannot_read_the_pools_and_is_told_so(operator_client, lab_vm, client, cloud, cloud_config):
    StorageMapping.objects.create(ossea_config=cloud_config, datastore=lab_vm.context.disks.first().datastore or "ds",
                                  storage_id=next(p["id"] for p in client.list_storage_pools()))
    lab_vm.context.disks.update(datastore=StorageMapping.objects.get().datastore)
    type(cloud_config).objects.filter(pk=cloud_config.pk).update(api_key=cloud.user_api_key,
                                                                 secret_key=cloud.user_secret_key)
    storage = check(readiness(operator_client, lab_vm, "test"), "Storage Mapping")
    assert storage["status"] == "fail" and "listStoragePools is a root-admin command" in storage["message"]
