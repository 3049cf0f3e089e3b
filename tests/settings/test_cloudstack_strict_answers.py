"""The product's client against the emulator's CloudStack-strict answers (errorresponse, cserrorcode, jobresultcode,
paging limits, map parameter spelling), over HTTP to the emulator process."""

from __future__ import annotations

import pytest
from cs import CloudStack

from apps.settings.cloudstack import (
    CloudStackAPIError,
    CloudStackAuthError,
    CloudStackClient,
    CloudStackCommandUnavailableError,
    CloudStackJobError,
    CloudStackNotFoundError,
)
from lab.cloudstack import launch

pytestmark = pytest.mark.integration
GiB = 1024**3
DENIED = "The given command 'listZones' either does not exist, is not available for user."


@pytest.fixture
def cloudstack_lab(tmp_path):
    with launch(tmp_path / "cloudstack", job_delay=0.05) as lab:
        yield lab


@pytest.fixture
def client(cloudstack_lab) -> CloudStackClient:
    return CloudStackClient(cloudstack_lab.url, cloudstack_lab.api_key, cloudstack_lab.secret_key,
                            timeout=5, job_timeout=15, poll_interval=0.05, retries=0)


def test_an_unknown_command_is_named_as_such_not_as_bad_keys(client):
    with pytest.raises(CloudStackCommandUnavailableError) as info:
        client.call("listEverything")
    error = info.value
    assert not isinstance(error, CloudStackAuthError)
    assert (error.errorcode, error.known, error.command) == (401, False, "listEverything")
    assert str(error).startswith("CloudStack does not know the API command listEverything (HTTP 401 under "
                                 "errorresponse)")


def test_a_command_the_role_denies_is_named_with_the_rule_to_add(cloudstack_lab, client):
    # What ApiServer.commandAvailable answers when the key's role has no allow rule for the command.
    cloudstack_lab.inject("listZones", fail=True, errorcode=401, errortext=DENIED)
    with pytest.raises(CloudStackCommandUnavailableError) as info:
        client.list_zones()
    assert info.value.known is True
    assert "add an allow rule for listZones to the role" in str(info.value)
    assert info.value.errortext == DENIED


def test_wrong_keys_are_still_an_auth_error(cloudstack_lab):
    client = CloudStackClient(cloudstack_lab.url, cloudstack_lab.api_key, "wrong", timeout=5, retries=0)
    with pytest.raises(CloudStackAuthError):
        client.list_zones()


def test_a_dispatcher_refusal_carries_cserrorcode_9999(client):
    with pytest.raises(CloudStackNotFoundError) as info:
        client.call("listVolumes", id="no-such-volume")
    assert (info.value.errorcode, info.value.cserrorcode) == (431, 9999)


def test_a_failed_job_reports_its_jobresultcode(cloudstack_lab, client):
    zone_id = client.list_zones()[0]["id"]
    volume = client.create_volume_for_disk(vm_name="strict", disk_unit=0, size_bytes=GiB, zone_id=zone_id)
    with pytest.raises(CloudStackJobError) as info:
        client.detach_volume(volume["id"])
    assert (info.value.errorcode, info.value.errortext) == (431, "The specified volume is not attached to a VM.")
    cloudstack_lab.inject("attachVolume", fail=True, errorcode=533, errortext="no capacity")
    with pytest.raises(CloudStackJobError) as info:
        client.attach_volume(volume["id"], cloudstack_lab.oma_vm_id)
    assert info.value.errorcode == 533


def test_every_list_the_client_makes_pages_within_the_servers_limits(cloudstack_lab, client):
    # The emulator refuses page without pagesize, pagesize without page and pagesize > 500 (431): each list
    # method passing here sends both, within default.page.size.
    zone_id = client.list_zones()[0]["id"]
    found = client.discover_all(zone="OSSEA-Zone", oma_vm_id=cloudstack_lab.oma_vm_id)
    assert found["zones"] and found["networks"] and found["templates"] and found["oma_vm"]
    vm_id = cloudstack_lab.oma_vm_id
    assert client.list_nics(vm_id) and client.list_volumes(vm_id=vm_id, zone_id=zone_id)
    assert client.list_virtual_machines(zone_id=zone_id, state="Running")
    assert client.list_snapshots() == [] and client.list_vm_snapshots(vm_id=vm_id) == []
    assert client.list_async_jobs() == []


def test_a_customized_deploy_spells_its_details_as_cloudstack_reads_them(client):
    # details[0].cpuNumber / memory / cpuSpeed: the emulator, like DeployVMCmd, ignores any other spelling.
    zone_id = client.list_zones()[0]["id"]
    offering = next(o for o in client.list_service_offerings() if o["iscustomized"])
    template = client.list_templates(zone_id=zone_id)[0]
    vm = client.deploy_virtual_machine(zone_id=zone_id, service_offering_id=offering["id"],
                                       template_id=template["id"], name="strict-custom", cpu_number=2,
                                       memory_mb=2048, cpu_speed=1500)
    assert (vm["cpunumber"], vm["memory"], vm["cpuspeed"]) == (2, 2048, 1500)
    with pytest.raises(CloudStackAPIError) as info:  # the same call with the map spelled otherwise
        client.call("deployVirtualMachine", zoneid=zone_id, serviceofferingid=offering["id"],
                    templateid=template["id"], name="strict-miscased", startvm=False,
                    details={"cpunumber": 2, "Memory": 2048, "cpuspeed": 1500})
    assert info.value.errorcode == 431


def test_past_default_page_size_a_list_needs_its_pages_and_the_client_fetches_them(cloudstack_lab, client):
    # Without page/pagesize CloudStack answers the first default.page.size (500) items and the total in count.
    raw = CloudStack(endpoint=cloudstack_lab.url, key=cloudstack_lab.api_key, secret=cloudstack_lab.secret_key,
                     method="post", fetch_result=False)
    zone_id = client.list_zones()[0]["id"]
    offering = client.custom_disk_offering()["id"]
    before = len(client.list_volumes())
    for n in range(501 - before):
        raw.createVolume(name=f"bulk-{n}", zoneid=zone_id, diskofferingid=offering, size=1)
    unpaged = raw.listVolumes(listall=True)
    assert (unpaged["count"], len(unpaged["volume"])) == (501, 500)
    assert len(client.list_volumes()) == 501
