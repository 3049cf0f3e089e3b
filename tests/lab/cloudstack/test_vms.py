"""VMs: deploy (fixed and customized offerings, startvm=false), NICs, start/stop/destroy."""

from __future__ import annotations

import re

import pytest
from cs import CloudStackApiException

from tests.lab.cloudstack.helpers import api_error

pytestmark = pytest.mark.integration
MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def test_seeded_cloud_has_the_control_plane_vm_with_nics(api, world):
    vms = api.listVirtualMachines(listall=True)["virtualmachine"]
    oma = next(vm for vm in vms if vm["id"] == world.oma_vm_id)
    assert oma["state"] == "Running"
    assert all(MAC.match(nic["macaddress"]) for nic in oma["nic"])
    assert len(vms) == 2  # and one other VM, so detection has to choose


def test_deploy_stopped_on_chosen_networks(api, world):
    nets = [world.networks[1]["id"], world.networks[2]["id"]]
    vm = api.deployVirtualMachine(name="pgtest1", zoneid=world.zone["id"],
                                  serviceofferingid=world.small_service["id"],
                                  templateid=world.template["id"], networkids=nets,
                                  startvm=False)["virtualmachine"]
    assert vm["state"] == "Stopped"
    assert (vm["cpunumber"], vm["memory"]) == (1, 1024)
    assert [n["networkid"] for n in vm["nic"]] == nets
    assert vm["nic"][0]["isdefault"] is True
    assert len({n["macaddress"] for n in vm["nic"]}) == 2
    [root] = api.listVolumes(virtualmachineid=vm["id"])["volume"]
    assert (root["type"], root["deviceid"], root["state"]) == ("ROOT", 0, "Allocated")
    assert root["size"] == world.template["size"]
    nics = api.listNics(virtualmachineid=vm["id"])["nic"]
    assert [n["macaddress"] for n in nics] == [n["macaddress"] for n in vm["nic"]]

    started = api.startVirtualMachine(id=vm["id"])["virtualmachine"]
    assert started["state"] == "Running"
    assert api.listVolumes(id=root["id"])["volume"][0]["state"] == "Ready"
    with pytest.raises(CloudStackApiException) as info:
        api.startVirtualMachine(id=vm["id"])
    assert "is already running" in info.value.error["errortext"]
    assert api.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    assert api.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"


def test_deploy_with_customized_offering_and_bigger_root(api, world):
    base = {"zoneid": world.zone["id"], "serviceofferingid": world.custom_service["id"],
            "templateid": world.template["id"]}
    status, body = api_error(api.deployVirtualMachine, name="custom", **base)
    assert status == 431
    assert body["errortext"].startswith("Need to specify custom parameter values cpu")
    vm = api.deployVirtualMachine(name="custom", details={"cpuNumber": 4, "memory": 8192, "cpuSpeed": 1000},
                                  rootdisksize=20, startvm=False, **base)["virtualmachine"]
    assert (vm["cpunumber"], vm["memory"]) == (4, 8192)
    assert vm["details"]["cpuNumber"] == "4"
    [root] = api.listVolumes(virtualmachineid=vm["id"])["volume"]
    assert root["size"] == 20 * 1024**3


def test_deploy_validates_names_and_ids(api, world):
    base = {"zoneid": world.zone["id"], "serviceofferingid": world.small_service["id"],
            "templateid": world.template["id"]}
    status, body = api_error(api.deployVirtualMachine, name="1bad_name", **base)
    assert status == 431 and body["errortext"].startswith("Invalid name.")
    status, body = api_error(api.deployVirtualMachine, name="web-01",
                             networkids=world.networks[1]["id"], **base)
    assert "The vm with hostName web-01 already exists in the network domain" in body["errortext"]
    status, body = api_error(api.deployVirtualMachine, name="ok", zoneid=world.zone["id"],
                             serviceofferingid=world.small_service["id"], templateid="nope")
    assert "Invalid parameter templateid value=nope" in body["errortext"]
    status, body = api_error(api.deployVirtualMachine, name="ok", zoneid=world.zone["id"],
                             serviceofferingid=world.small_service["id"])
    assert body["errortext"].endswith("due to missing parameter templateid")


def test_failed_deploy_leaves_the_vm_in_error(cloudstack_lab, api, world):
    cloudstack_lab.inject("deployVirtualMachine", fail=True,
                          errortext="Unable to create a deployment for VM")
    with pytest.raises(CloudStackApiException) as info:
        world.vm(api, name="doomed")
    assert info.value.error["errortext"] == "Unable to create a deployment for VM"
    [vm] = api.listVirtualMachines(name="doomed")["virtualmachine"]
    assert vm["state"] == "Error"


def test_destroy_and_expunge(api, world):
    guest = world.vm(api, name="gone")
    data = world.volume(api)
    api.attachVolume(id=data["id"], virtualmachineid=guest["id"])
    destroyed = api.destroyVirtualMachine(id=guest["id"])["virtualmachine"]
    assert destroyed["state"] == "Destroyed"
    assert api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]["state"] == "Destroyed"
    # Data volumes are detached, not deleted; the root stays with the VM until expunged.
    assert "virtualmachineid" not in api.listVolumes(id=data["id"])["volume"][0]
    api.destroyVirtualMachine(id=guest["id"], expunge=True)
    # CloudStack keeps the removed row: its id still resolves, and lists with it find nothing.
    assert api.listVirtualMachines(id=guest["id"]) == {}
    assert api.listVolumes(type="ROOT", virtualmachineid=world.oma_vm_id)["count"] == 1
    assert [v["name"] for v in api.listVolumes(type="DATADISK")["volume"]] == ["data"]


def test_a_vm_left_mid_transition_stops_only_when_forced_and_reboots_only_running(cloudstack_lab, api, world):
    guest = world.vm(api, name="stuck")
    cloudstack_lab.leave_stuck(guest["id"], state="Starting", since="2026-01-01T00:00:00+0000")
    [vm] = api.listVirtualMachines(id=guest["id"])["virtualmachine"]
    assert (vm["state"], vm["lastupdated"]) == ("Starting", "2026-01-01T00:00:00+0000")
    with pytest.raises(CloudStackApiException) as info:
        api.stopVirtualMachine(id=guest["id"], fetch_result=True)
    assert "in state Starting" in info.value.error["errortext"]
    with pytest.raises(CloudStackApiException):
        api.rebootVirtualMachine(id=guest["id"], fetch_result=True)
    assert api.stopVirtualMachine(id=guest["id"], forced=True, fetch_result=True)["virtualmachine"]["state"] == "Stopped"
    api.startVirtualMachine(id=guest["id"], fetch_result=True)
    rebooted = api.rebootVirtualMachine(id=guest["id"], fetch_result=True)["virtualmachine"]
    assert rebooted["state"] == "Running"
