"""Storage mappings: the API, the client's storage calls, and where create_and_attach puts a replica volume, all
through the CloudStack emulator (as CloudStack 4.23, whose createVolume takes storageid, unless a test says)."""
import pytest

from apps.settings import cloudstack as cs
from apps.settings import storage_mapping, volumes
from apps.settings.models import CloudResource, OsseaConfig, StorageMapping
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db
URL = "/api/v1/storage-mappings"
GiB = 1024**3


@pytest.fixture
def cs_lab_options() -> dict:
    return {"cloudstack_version": "4.23.0.0"}


@pytest.fixture
def client(cs_config):
    return volumes.client_for(cs_config)


def _pool(client, name: str) -> dict:
    return next(p for p in client.list_storage_pools() if p["name"] == name)


def _offering(client, name: str) -> dict:
    return next(o for o in client.list_disk_offerings() if o["name"] == name)


def test_operator_maps_datastores_and_disks(operator_client, viewer_client):
    config = OsseaConfig.objects.create(name="c", api_url="http://cs", api_key="k", secret_key="s", zone="z")
    created = operator_client.post(URL, {"ossea_config": config.pk, "datastore": "ds-fast", "storage_id": "pool-1"},
                                   format="json")
    assert created.status_code == 201, created.json()
    assert_matches_schema(created, URL, "post")
    again = operator_client.post(URL, {"ossea_config": config.pk, "datastore": "ds-fast", "disk_offering_id": "o"},
                                 format="json")
    assert again.status_code == 409 and "already mapped" in again.json()["error"]
    disk = operator_client.post(URL, {"ossea_config": config.pk, "vm_id": "vm-1", "disk_id": "disk-2000",
                                      "disk_offering_id": "off-1"}, format="json")
    assert disk.status_code == 201
    for body, text in (({"datastore": "ds", "vm_id": "vm-1", "disk_id": "d", "storage_id": "p"}, "one of the two"),
                       ({"vm_id": "vm-1", "storage_id": "p"}, "both vm_id and disk_id"),
                       ({"datastore": "ds2"}, "disk_offering_id (createVolume diskofferingid) or storage_id"),
                       ({"ossea_config": 999999, "datastore": "x", "storage_id": "p"}, "ossea_config")):
        answer = operator_client.post(URL, {"ossea_config": config.pk, **body}, format="json")
        assert answer.status_code == 400 and text in answer.json()["error"] + str(answer.json().get("details")), body
    listed = viewer_client.get(URL, {"datastore": "ds-fast"})
    assert_matches_schema(listed, URL, "get")
    [row] = listed.json()["results"]
    changed = operator_client.patch(f"{URL}/{row['id']}", {"disk_offering_id": "off-2"}, format="json")
    assert changed.status_code == 200 and changed.json()["storage_id"] == "pool-1"
    assert viewer_client.delete(f"{URL}/{row['id']}").status_code == 403
    assert operator_client.delete(f"{URL}/{row['id']}").status_code == 204
    assert StorageMapping.objects.count() == 1


def test_placement_takes_the_disk_then_its_datastore_then_the_configuration(db):
    config = OsseaConfig.objects.create(name="c", api_url="http://cs", api_key="k", secret_key="s", zone="z",
                                        disk_offering_id="config-offering")
    StorageMapping.objects.create(ossea_config=config, datastore="ds1", storage_id="pool-ds1")
    StorageMapping.objects.create(ossea_config=config, vm_id="vm", disk_id="disk-1", disk_offering_id="off-disk")
    by_disk = storage_mapping.placement_for(config, vm_id="vm", disk_id="disk-1", datastore="ds1")
    assert (by_disk.disk_offering_id, by_disk.storage_id) == ("off-disk", "")
    by_store = storage_mapping.placement_for(config, vm_id="vm", disk_id="disk-2", datastore="ds1")
    assert (by_store.disk_offering_id, by_store.storage_id) == ("config-offering", "pool-ds1")
    default = storage_mapping.placement_for(config, vm_id="vm", disk_id="disk-2", datastore="ds9")
    assert (default.disk_offering_id, default.storage_id, default.source) == ("config-offering", "", "configuration default")


def test_client_lists_pools_and_creates_on_one(client, cs_config, cs_lab):
    zone_id = client.find_zone(cs_config.zone)["id"]
    pools = client.list_storage_pools(zone_id=zone_id)
    assert {p["name"] for p in pools} == {"lab-primary", "lab-ssd", "lab-small"}
    assert client.supports_storage_id() and client.version()[:2] == (4, 23)
    ssd = _pool(client, "lab-ssd")
    volume = client.create_volume_for_disk(vm_name="sm", disk_unit=0, size_bytes=3 * GiB + 1, zone_id=zone_id,
                                           storage_id=ssd["id"])
    assert volume["storageid"] == ssd["id"] and volume["size"] == 4 * GiB
    assert client.get_volume(volume["id"])["storage"] == "lab-ssd"
    assert _pool(client, "lab-ssd")["disksizeallocated"] == 4 * GiB
    # A fixed-size offering: no size sent, and refused before CloudStack when smaller than the disk.
    small = _offering(client, "Small")
    fixed = client.create_volume_for_disk(vm_name="sm", disk_unit=1, size_bytes=GiB, zone_id=zone_id,
                                          disk_offering_id=small["id"])
    assert fixed["size"] == 5 * GiB
    with pytest.raises(cs.CloudStackError, match="fixed 5 GB, smaller than the 6 GB disk"):
        client.create_volume_for_disk(vm_name="sm", disk_unit=2, size_bytes=6 * GiB, zone_id=zone_id,
                                      disk_offering_id=small["id"])
    with pytest.raises(cs.CloudStackNotFoundError, match="no disk offering gone-offering"):
        client.create_volume_for_disk(vm_name="sm", disk_unit=3, size_bytes=GiB, zone_id=zone_id,
                                      disk_offering_id="gone-offering")
    user = cs.CloudStackClient(cs_lab.url, cs_lab.user_api_key, cs_lab.user_secret_key)
    with pytest.raises(cs.CloudStackCommandUnavailableError):
        user.list_storage_pools()


def test_create_and_attach_puts_each_disk_on_its_mapped_pool(client, cs_config, cs_lab):
    ssd, small = _pool(client, "lab-ssd"), _pool(client, "lab-small")
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-ssd", storage_id=ssd["id"])
    StorageMapping.objects.create(ossea_config=cs_config, vm_id="vm-1", disk_id="disk-1", storage_id=small["id"])
    placed = {}
    for unit, disk_id in ((0, "disk-0"), (1, "disk-1")):
        volume, attached = volumes.create_and_attach(config=cs_config, client=client, owner="job-sm", vm_name="sm",
                                                     disk_unit=unit, size_bytes=GiB, vm_id="vm-1", disk_id=disk_id,
                                                     datastore="ds-ssd")
        assert attached.device_path.exists()
        placed[disk_id] = client.get_volume(volume["id"])["storageid"]
    assert placed == {"disk-0": ssd["id"], "disk-1": small["id"]}  # the disk's own mapping wins over its datastore
    recorded = CloudResource.objects.get(kind="volume", resource_id=volume["id"])
    assert recorded.detail["storage_id"] == small["id"]
    # A pool without room: the job fails inside CloudStack, the volume is recorded for the rollback.
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-full", storage_id=small["id"])
    with pytest.raises(cs.CloudStackJobError, match="not enough space"):
        volumes.create_and_attach(config=cs_config, client=client, owner="job-full", vm_name="full", disk_unit=0,
                                  size_bytes=8 * GiB, datastore="ds-full")
    assert volumes.rollback(owner="job-full", client=client)[0].startswith("deleted volume")


@pytest.mark.parametrize("cs_lab_options", [{}])
def test_before_4_23_the_pool_follows_the_offerings_tags_or_the_volume_is_refused(client, cs_config):
    assert not client.supports_storage_id()
    ssd = _pool(client, "lab-ssd")
    tagged = _offering(client, "Custom SSD")
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-ssd", storage_id=ssd["id"],
                                  disk_offering_id=tagged["id"])
    volume, _ = volumes.create_and_attach(config=cs_config, client=client, owner="job-a", vm_name="old",
                                          disk_unit=0, size_bytes=GiB, datastore="ds-ssd")
    assert client.get_volume(volume["id"])["storageid"] == ssd["id"]
    # A pool alone cannot be asked for before 4.23: the untagged volume lands elsewhere and is refused.
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-plain", storage_id=ssd["id"])
    with pytest.raises(cs.CloudStackError, match="createVolume takes storageid from 4.23"):
        volumes.create_and_attach(config=cs_config, client=client, owner="job-b", vm_name="old", disk_unit=1,
                                  size_bytes=GiB, datastore="ds-plain")
    lines = volumes.rollback(owner="job-b", client=client)
    assert any(line.startswith("detached") for line in lines) and any(line.startswith("deleted") for line in lines)


def test_console_refuses_what_the_api_refuses(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()  # the module's `client` is the CloudStack one
    client.force_login(get_user_model().objects.create_superuser("root", password="Console-pass-42"))
    config = OsseaConfig.objects.create(name="c", api_url="http://cs", api_key="k", secret_key="s", zone="z")
    url = "/console/platform_settings/storagemapping/add/"
    refused = client.post(url, {"ossea_config": config.pk, "datastore": "ds1"})
    assert refused.status_code == 200 and b"disk_offering_id (createVolume diskofferingid)" in refused.content
    saved = client.post(url, {"ossea_config": config.pk, "datastore": "ds1", "storage_id": "pool-1"})
    assert saved.status_code == 302 and StorageMapping.objects.get().storage_id == "pool-1"
    assert b"ds1" in client.get("/console/platform_settings/storagemapping/").content
