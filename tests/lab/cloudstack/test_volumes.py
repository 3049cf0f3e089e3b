"""Volumes: sizes, states, attach/detach rules, device ids, and the guest's by-id links."""

from __future__ import annotations

import os

import pytest
from cs import CloudStackApiException

from lab.cloudstack import responses
from lab.cloudstack.storage import device_link
from tests.lab.cloudstack.helpers import api_error, make_api

pytestmark = pytest.mark.integration
GiB = 1024**3


def job_error(call, **params) -> dict:
    """The jobresult of an async call expected to fail."""
    with pytest.raises(CloudStackApiException) as info:
        call(**params)
    return info.value.error


def test_create_volume_sizes_and_state(api, world):
    volume = world.volume(api, size_gb=3)
    assert volume["state"] == "Allocated"
    assert volume["size"] == 3 * GiB  # bytes in answers, GB in requests
    assert volume["type"] == "DATADISK"
    fixed = api.createVolume(name="fixed", zoneid=world.zone["id"],
                             diskofferingid=world.fixed_disk["id"])["volume"]
    assert fixed["size"] == world.fixed_disk["disksize"] * GiB


@pytest.mark.parametrize(("offering", "size", "text"), [
    ("custom_disk", None, "This disk offering requires a custom size specified"),
    ("fixed_disk", 7, "This disk offering does not allow custom size"),
    ("custom_disk", 5000, "Volume size: 5000 GB is out of allowed range. Max: 1024 Min:1"),
])
def test_create_volume_refuses_bad_sizes(api, world, offering, size, text):
    status, body = api_error(api.createVolume, name="v", zoneid=world.zone["id"],
                             diskofferingid=getattr(world, offering)["id"], size=size)
    assert (status, body["errortext"]) == (431, text)


def test_first_attach_makes_it_ready_and_a_device_appears_detach_removes_it(
        cloudstack_lab, api, world):
    volume = world.volume(api, size_gb=2)
    link = device_link(cloudstack_lab.lab_root, volume["id"])
    assert not link.exists()
    attached = api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)["volume"]
    assert attached["state"] == "Ready"
    assert attached["virtualmachineid"] == world.oma_vm_id
    assert link.name == "virtio-" + volume["id"].replace("-", "")[:20]
    assert link.is_symlink()
    backing = link.resolve()
    assert backing.is_relative_to(cloudstack_lab.state_dir.resolve())
    assert backing.stat().st_size == 2 * GiB
    assert backing.stat().st_blocks == 0  # sparse

    detached = api.detachVolume(id=volume["id"])["volume"]
    assert "virtualmachineid" not in detached and "deviceid" not in detached
    assert detached["state"] == "Ready"
    assert not link.exists() and not link.is_symlink()
    assert backing.exists()  # the data stays with the volume


def test_attach_to_another_vm_makes_no_device_on_this_host(cloudstack_lab, api, world):
    guest = world.vm(api)
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=guest["id"])
    assert not device_link(cloudstack_lab.lab_root, volume["id"]).exists()


def test_device_ids_skip_3_and_reuse_the_lowest_free(api, world):
    ids = []
    volumes = [world.volume(api, name=f"v{i}") for i in range(4)]
    for volume in volumes:
        ids.append(api.attachVolume(id=volume["id"],
                                    virtualmachineid=world.oma_vm_id)["volume"]["deviceid"])
    assert ids == [1, 2, 4, 5]
    api.detachVolume(id=volumes[1]["id"])
    again = api.attachVolume(id=volumes[1]["id"], virtualmachineid=world.oma_vm_id)["volume"]
    assert again["deviceid"] == 2


@pytest.fixture
def cloudstack_lab_options(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("cloudstack_lab_options", [{"max_data_volumes": 3}], indirect=True)
def test_max_data_volumes_limit(api, world):
    volumes = [world.volume(api, name=f"v{i}") for i in range(4)]
    for volume in volumes[:3]:
        api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    error = job_error(api.attachVolume, id=volumes[3]["id"], virtualmachineid=world.oma_vm_id)
    assert error == {"errorcode": 431, "errortext": "The specified VM already has the maximum "
                     "number of data disks (3) attached. Please specify another VM."}


def test_detach_by_vm_and_device_id(cloudstack_lab, api, world):
    volume = world.volume(api)
    attached = api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)["volume"]
    detached = api.detachVolume(virtualmachineid=world.oma_vm_id,
                                deviceid=attached["deviceid"])["volume"]
    assert detached["id"] == volume["id"]
    assert not device_link(cloudstack_lab.lab_root, volume["id"]).is_symlink()
    error = job_error(api.detachVolume, id=volume["id"])
    assert error["errortext"] == "The specified volume is not attached to a VM."
    error = job_error(api.detachVolume, virtualmachineid=world.oma_vm_id)
    assert "either a volume id, or a tuple(device id, instance id)" in error["errortext"]


def test_delete_volume_is_refused_while_attached(cloudstack_lab, api, world):
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    backing = device_link(cloudstack_lab.lab_root, volume["id"]).resolve()
    status, body = api_error(api.deleteVolume, id=volume["id"])
    assert (status, body["cserrorcode"]) == (431, 4350)
    assert body["errortext"] == "Please specify a volume that is not attached to any VM."
    api.detachVolume(id=volume["id"])
    assert api.deleteVolume(id=volume["id"]) == {"success": True}  # synchronous: no job
    assert not backing.exists()
    assert api.listVolumes(name="data") == {}


def test_vm_snapshots_block_attach_and_detach(api, world):
    guest = world.vm(api)
    attached = world.volume(api, name="attached")
    api.attachVolume(id=attached["id"], virtualmachineid=guest["id"])
    snap = api.createVMSnapshot(virtualmachineid=guest["id"])["vmsnapshot"]
    other = world.volume(api, name="other")
    error = job_error(api.attachVolume, id=other["id"], virtualmachineid=guest["id"])
    assert error["errortext"] == ("Unable to attach volume, please specify a VM that does not "
                                  "have VM snapshots")
    error = job_error(api.detachVolume, id=attached["id"])
    assert "does not have VM snapshots" in error["errortext"]
    api.deleteVMSnapshot(vmsnapshotid=snap["id"])
    assert api.attachVolume(id=other["id"], virtualmachineid=guest["id"])["volume"]["deviceid"] == 2


def test_root_volume_swap_needs_a_stopped_vm(api, world):
    guest = world.vm(api, start=True)
    [root] = api.listVolumes(virtualmachineid=guest["id"], type="ROOT")["volume"]
    error = job_error(api.detachVolume, id=root["id"])
    assert error["errortext"] == ("Root volume detach can happen only when vm is in states: "
                                  "Stopped or Destroyed")
    api.stopVirtualMachine(id=guest["id"])
    old_root = api.detachVolume(id=root["id"])["volume"]
    assert old_root["type"] == "DATADISK"  # a detached root is an ordinary data volume

    replica = world.volume(api, name="replica-root", size_gb=4)
    api.attachVolume(id=replica["id"], virtualmachineid=world.oma_vm_id)  # replicated...
    api.detachVolume(id=replica["id"])  # ...then handed over
    new_root = api.attachVolume(id=replica["id"], virtualmachineid=guest["id"],
                                deviceid=0)["volume"]
    assert (new_root["type"], new_root["deviceid"]) == ("ROOT", 0)
    error = job_error(api.attachVolume, id=old_root["id"], virtualmachineid=guest["id"], deviceid=0)
    assert error["errortext"] == "Vm already has root volume attached to it"
    api.deleteVolume(id=old_root["id"])
    assert api.startVirtualMachine(id=guest["id"])["virtualmachine"]["state"] == "Running"


def test_a_vm_without_root_volume_does_not_start(api, world):
    guest = world.vm(api, start=False)
    [root] = api.listVolumes(virtualmachineid=guest["id"])["volume"]
    assert root["state"] == "Allocated"  # never started: nothing on primary storage yet
    api.detachVolume(id=root["id"])
    error = job_error(api.startVirtualMachine, id=guest["id"])
    assert error["errorcode"] == 530
    assert "no ROOT volume" in error["errortext"]


def test_resize_grows_the_backing_file(cloudstack_lab, api, world):
    volume = world.volume(api, size_gb=1)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    resized = api.resizeVolume(id=volume["id"], size=3)["volume"]
    assert resized["size"] == 3 * GiB
    assert os.path.getsize(device_link(cloudstack_lab.lab_root, volume["id"])) == 3 * GiB
    error = job_error(api.resizeVolume, id=volume["id"], size=2)
    assert "would shrink the volume" in error["errortext"]


def test_volume_stats_report_what_the_disk_holds(cloudstack_lab, api, world):
    # CloudStack's StatsCollector reports a volume on a pool; an Allocated one is on none yet: no figures.
    volume = world.volume(api, size_gb=1)
    assert not {"physicalsize", "virtualsize", "utilization"} & set(volume)
    attached = api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)["volume"]
    assert (attached["physicalsize"], attached["virtualsize"], attached["utilization"]) == (0, GiB, "0.0%")

    # The guest writes 256 MiB: qemu-img's "disk size" grows by the blocks written, the virtual size stays.
    with open(device_link(cloudstack_lab.lab_root, volume["id"]), "r+b") as disk:
        disk.write(b"\xab" * (256 * 1024**2))
        os.fsync(disk.fileno())
    listed = api.listVolumes(id=volume["id"])["volume"][0]
    # What the file system allocated: the data's blocks, and now and then an extent-tree block of ext4's.
    allocated = cloudstack_lab.volume_file(volume["id"]).stat().st_blocks * 512
    assert (listed["physicalsize"], listed["virtualsize"]) == (allocated, GiB)
    assert 256 * 1024**2 <= allocated < 257 * 1024**2
    assert listed["utilization"] == "25.0%"  # DecimalFormat("0.0%")
    assert listed["size"] == GiB


@pytest.mark.parametrize(("physical", "virtual", "text"), [
    (0, GiB, "0.0%"), (GiB, GiB, "100.0%"), (1, 3, "33.3%"), (2, 3, "66.7%"), (1, 8, "12.5%"),
    (1, 16, "6.2%"), (3, 16, "18.8%"), (1, 1000, "0.1%"), (21, 20, "105.0%"),
])
def test_utilization_is_java_decimal_format_percent(physical, virtual, text):
    assert responses.utilization_text(physical, virtual) == text


def test_a_user_key_sees_utilization_but_not_the_byte_figures(cloudstack_lab, api, world):
    # CloudStack gives physicalsize/virtualsize in the root admin's (Full) view only; utilization to every caller.
    user = make_api(cloudstack_lab, key=cloudstack_lab.user_api_key, secret=cloudstack_lab.user_secret_key)
    vm = world.vm(user, name="users")
    root = user.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["utilization"] == "0.0%"
    assert "physicalsize" not in root and "virtualsize" not in root
    as_admin = api.listVolumes(id=root["id"])["volume"][0]
    assert (as_admin["physicalsize"], as_admin["virtualsize"]) == (0, root["size"])
