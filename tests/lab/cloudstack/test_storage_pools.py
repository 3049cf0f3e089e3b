"""Storage pools: listStoragePools (admin only), createVolume storageid (4.23+) and its refusals, placement at
attach time by storage tags, capacity consumed by the volumes placed on a pool."""

from __future__ import annotations

import pytest

from tests.lab.cloudstack.helpers import api_error, make_api
from tests.lab.cloudstack.test_volumes import job_error

pytestmark = pytest.mark.integration
GiB = 1024**3


@pytest.fixture
def cloudstack_lab_options() -> dict:
    return {"cloudstack_version": "4.23.0.0", "extra_zone": "Zone-B"}


def _pools(api, **params) -> dict[str, dict]:
    return {p["name"]: p for p in api.listStoragePools(**params)["storagepool"]}


def _ssd_offering(api) -> dict:
    return next(o for o in api.listDiskOfferings()["diskoffering"] if o.get("tags") == "ssd")


def test_pools_are_listed_per_zone_with_capacity_and_only_for_the_admin(api, world, cloudstack_lab):
    pools = _pools(api, zoneid=world.zone["id"])
    assert set(pools) == {"lab-primary", "lab-ssd", "lab-small"}
    ssd = pools["lab-ssd"]
    assert ssd["tags"] == "ssd" and ssd["state"] == "Up" and ssd["scope"] == "ZONE"
    assert ssd["disksizetotal"] == 200 * GiB and ssd["disksizeallocated"] == 0
    assert ssd["zonename"] == world.zone["name"]
    assert set(_pools(api)) > set(pools)  # the second zone's pools too
    assert list(_pools(api, name="lab-small")) == ["lab-small"]
    user = make_api(cloudstack_lab, key=cloudstack_lab.user_api_key, secret=cloudstack_lab.user_secret_key)
    status, body = api_error(user.listStoragePools)
    assert status == 401 and "not available for user" in body["errortext"]


def test_storageid_creates_the_volume_on_that_pool_and_consumes_it(api, world):
    ssd = _pools(api)["lab-ssd"]
    volume = api.createVolume(name="on-ssd", zoneid=world.zone["id"], diskofferingid=world.custom_disk["id"],
                              size=20, storageid=ssd["id"])["volume"]
    assert volume["state"] == "Ready" and volume["storageid"] == ssd["id"] and volume["storage"] == "lab-ssd"
    [listed] = api.listVolumes(id=volume["id"])["volume"]
    assert listed["storageid"] == ssd["id"]
    assert _pools(api)["lab-ssd"]["disksizeallocated"] == 20 * GiB
    api.deleteVolume(id=volume["id"])
    assert _pools(api)["lab-ssd"]["disksizeallocated"] == 0


def test_storageid_refusals(api, world):
    pools = _pools(api)
    common = {"zoneid": world.zone["id"], "diskofferingid": world.custom_disk["id"]}
    status, body = api_error(api.createVolume, name="v", size=1, storageid="no-such-pool", **common)
    assert status == 431 and "Invalid parameter storageid value=no-such-pool" in body["errortext"]
    other_zone = pools["zone-b-primary"]
    error = job_error(api.createVolume, name="v", size=1, storageid=other_zone["id"], **common)
    assert error["errorcode"] == 530 and f"on storage pool {other_zone['id']} in zone" in error["errortext"]
    # lab-small: 10 GB, 2 GB taken, 85% may be allocated.
    error = job_error(api.createVolume, name="v", size=7, storageid=pools["lab-small"]["id"], **common)
    assert error["errorcode"] == 533 and "not enough space" in error["errortext"]
    ssd_only = _ssd_offering(api)
    error = job_error(api.createVolume, name="v", zoneid=world.zone["id"], diskofferingid=ssd_only["id"], size=1,
                      storageid=pools["lab-primary"]["id"])
    assert "is not compatible with the storage pool" in error["errortext"]
    # What a refused pool left: volumes in Destroy, on no pool, consuming nothing.
    refused = [v for v in api.listVolumes()["volume"] if v["name"] == "v"]
    assert len(refused) == 3 and {v["state"] for v in refused} == {"Destroy"}
    assert not any("storageid" in v for v in refused)
    assert _pools(api)["lab-small"]["disksizeallocated"] == 2 * GiB


def test_without_storageid_the_pool_is_chosen_at_attach_by_the_offerings_tags(api, world):
    ssd_only = _ssd_offering(api)
    volume = api.createVolume(name="tagged", zoneid=world.zone["id"], diskofferingid=ssd_only["id"], size=2)["volume"]
    assert volume["state"] == "Allocated" and "storageid" not in volume and "storage" not in volume
    attached = api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)["volume"]
    assert attached["storage"] == "lab-ssd"
    plain = api.createVolume(name="plain", zoneid=world.zone["id"], diskofferingid=world.custom_disk["id"],
                             size=2)["volume"]
    assert api.attachVolume(id=plain["id"], virtualmachineid=world.oma_vm_id)["volume"]["storage"] == "lab-primary"


@pytest.mark.parametrize("cloudstack_lab_options", [{}])
def test_before_4_23_storageid_is_ignored_as_an_undeclared_parameter(api, world):
    assert api.listCapabilities()["capability"]["cloudstackversion"] == "4.20.0.0"
    small = _pools(api)["lab-small"]
    volume = api.createVolume(name="v", zoneid=world.zone["id"], diskofferingid=world.custom_disk["id"], size=1,
                              storageid=small["id"])["volume"]
    assert volume["state"] == "Allocated" and "storageid" not in volume
