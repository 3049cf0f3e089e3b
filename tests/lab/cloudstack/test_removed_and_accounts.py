"""CloudStack's answers about deleted things and about what a user key may do, as 4.19-4.21 give them.

Removed rows stay in CloudStack's tables: their ids still resolve, so a second delete fails like CloudStack's
(deleteVolume: 431 "Unable to find volume with ID"; destroyVirtualMachine, deleteSnapshot: inside the async job),
and a list by a removed id is empty. A user key may expunge only with allow.user.expunge.recover.vm (default false)
and force-stop only with allow.user.force.stop.vm (default true). Each test fails against the emulator before this.
"""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.lab.cloudstack.helpers import api_error, make_api, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture
def user_api(cloudstack_lab):
    return make_api(cloudstack_lab, key=cloudstack_lab.user_api_key, secret=cloudstack_lab.user_secret_key)


@pytest.fixture
def raw_user_api(cloudstack_lab):
    return make_api(cloudstack_lab, key=cloudstack_lab.user_api_key, secret=cloudstack_lab.user_secret_key,
                    fetch_result=False)


def test_second_delete_volume_is_refused_with_cloudstacks_text_and_lists_find_nothing(api, world):
    volume = world.volume(api)
    assert api.deleteVolume(id=volume["id"]) == {"success": True}
    assert api.listVolumes(id=volume["id"]) == {}
    status, body = api_error(api.deleteVolume, id=volume["id"])
    assert status == 431 and body["errortext"] == f"Unable to find volume with ID: {volume['id']}"
    assert "entity does not exist" not in body["errortext"]
    # An id CloudStack never had is still refused by the parameter check.
    status, body = api_error(api.deleteVolume, id="3f0c6a2e-0000-4000-8000-000000000000")
    assert status == 431 and "entity does not exist" in body["errortext"]


def test_second_destroy_of_an_expunged_vm_fails_inside_the_job(api, raw_api, world):
    guest = world.vm(api, name="twice")
    api.destroyVirtualMachine(id=guest["id"], expunge=True)
    assert api.listVirtualMachines(id=guest["id"]) == {}
    answer = raw_api.destroyVirtualMachine(id=guest["id"], expunge=True)  # accepted: the id resolves
    job = wait_job(raw_api, answer["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"]["errortext"] == "Unable to find a virtual machine with specified vmId"
    assert api.listVolumes(virtualmachineid=guest["id"]) == {}  # its ROOT went with it; the VM id still resolves


def test_second_delete_snapshot_fails_inside_the_job(api, raw_api, world):
    guest = world.vm(api, name="snapper")
    root = api.listVolumes(virtualmachineid=guest["id"], type="ROOT")["volume"][0]
    snap = api.createSnapshot(volumeid=root["id"])["snapshot"]
    api.deleteSnapshot(id=snap["id"])
    assert api.listSnapshots(id=snap["id"]) == {}
    job = wait_job(raw_api, raw_api.deleteSnapshot(id=snap["id"])["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errortext"] == f"unable to find a snapshot with id {snap['id']}"


def test_user_key_cannot_expunge_by_default_but_can_destroy(api, user_api, raw_user_api, world):
    guest = world.vm(api, name="users-vm")
    assert user_api.listCapabilities()["capability"]["allowuserexpungerecovervm"] is False
    assert api.listCapabilities()["capability"]["allowuserexpungerecovervm"] is True  # an admin may
    job = wait_job(raw_user_api, raw_user_api.destroyVirtualMachine(id=guest["id"], expunge=True)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 531
    assert job["jobresult"]["errortext"] == "Account does not have permission for expunging."
    assert api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]["state"] == "Running"  # nothing happened
    user_api.destroyVirtualMachine(id=guest["id"])
    # Destroyed, kept until CloudStack expunges it; an admin sees it, a user (allow.user.view.destroyed.vm) does not.
    assert api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]["state"] == "Destroyed"
    assert user_api.listVirtualMachines(id=guest["id"]) == {}


def test_user_key_expunges_once_the_admin_allows_it(api, user_api, world):
    guest = world.vm(api, name="allowed")
    with pytest.raises(CloudStackApiException):  # a user cannot change global settings
        user_api.updateConfiguration(name="allow.user.expunge.recover.vm", value="true")
    api.updateConfiguration(name="allow.user.expunge.recover.vm", value="true")
    assert user_api.listCapabilities()["capability"]["allowuserexpungerecovervm"] is True
    user_api.destroyVirtualMachine(id=guest["id"], expunge=True)
    assert api.listVirtualMachines(id=guest["id"]) == {}


def test_user_key_force_stop_follows_allow_user_force_stop_vm(api, user_api, raw_user_api, world):
    guest = world.vm(api, name="stopper")
    assert user_api.listCapabilities()["capability"]["allowuserforcestopvm"] is True  # CloudStack's default
    user_api.stopVirtualMachine(id=guest["id"], forced=True)
    user_api.startVirtualMachine(id=guest["id"])
    api.updateConfiguration(name="allow.user.force.stop.vm", value="false")
    job = wait_job(raw_user_api, raw_user_api.stopVirtualMachine(id=guest["id"], forced=True)["jobid"])
    assert job["jobstatus"] == 2 and job["jobresult"]["errorcode"] == 531
    assert job["jobresult"]["errortext"] == "Account does not have the permission to force stop the vm."
    user_api.stopVirtualMachine(id=guest["id"])  # an ordinary stop still works
    assert api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]["state"] == "Stopped"


def test_a_create_job_cut_by_a_crash_leaves_its_resource_in_error(cloudstack_lab, raw_api, world):
    cloudstack_lab.inject("deployVirtualMachine", delay=30)
    answer = raw_api.deployVirtualMachine(name="cut", zoneid=world.zone["id"],
                                          serviceofferingid=world.small_service["id"],
                                          templateid=world.template["id"], networkids=world.networks[1]["id"])
    cloudstack_lab.kill()
    cloudstack_lab.start()
    api = make_api(cloudstack_lab)
    job = make_api(cloudstack_lab, fetch_result=False).queryAsyncJobResult(jobid=answer["jobid"])
    assert job["jobstatus"] == 2 and "management server restarted" in job["jobresult"]["errortext"]
    [vm] = api.listVirtualMachines(id=answer["id"])["virtualmachine"]
    assert vm["state"] == "Error"
    assert api.listVolumes(virtualmachineid=vm["id"])["count"] == 1  # its ROOT volume is still there
