"""The product's CloudStack client against the lab emulator, a separate process spoken to over HTTP."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from apps.settings.cloudstack import (
    CloudStackAPIError,
    CloudStackAuthError,
    CloudStackBadResponseError,
    CloudStackClient,
    CloudStackDeviceError,
    CloudStackError,
    CloudStackJobError,
    CloudStackJobTimeoutError,
    CloudStackNotFoundError,
    CloudStackUnreachableError,
    OmaVmDetectionError,
    detect_oma_vm,
    local_macs,
    size_bytes_to_gb,
    test_connection,
    volume_device_path,
    volume_name_for_disk,
)
from lab.cloudstack import launch

pytestmark = pytest.mark.integration
GiB = 1024**3
HOST_MACS = sorted(local_macs())


@pytest.fixture
def cloudstack_lab(tmp_path):
    # The control plane's VM carries this host's MACs, so detection can be tested for real.
    options = {"oma_vm_macs": HOST_MACS} if HOST_MACS else {}
    with launch(tmp_path / "cloudstack", job_delay=0.05, **options) as lab:
        yield lab


def make_client(lab, **overrides) -> CloudStackClient:
    options = {"timeout": 5, "job_timeout": 15, "poll_interval": 0.05}
    options.update(overrides)
    return CloudStackClient(lab.url, lab.api_key, lab.secret_key, **options)


@pytest.fixture
def client(cloudstack_lab) -> CloudStackClient:
    return make_client(cloudstack_lab)


@pytest.fixture
def zone_id(client) -> str:
    return client.list_zones()[0]["id"]


@pytest.fixture
def new_volume(client, zone_id):
    def make(disk_unit: int = 0, size_bytes: int = GiB) -> dict:
        return client.create_volume_for_disk(vm_name="pgtest1", disk_unit=disk_unit,
                                             size_bytes=size_bytes, zone_id=zone_id)
    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- inventory ---------------------------------------------------------------------------------


def test_inventory_lists(client):
    [zone] = client.list_zones()
    assert zone["name"] == "OSSEA-Zone"
    assert client.find_zone("OSSEA-Zone")["id"] == zone["id"]
    assert client.find_zone(zone["id"])["name"] == "OSSEA-Zone"
    assert {n["name"] for n in client.list_networks(zone_id=zone["id"])} == {
        "oma-net", "migration-net", "test-failover-net", "shared-net", "l2-net"}
    offerings = client.list_service_offerings()
    assert any(o["iscustomized"] for o in offerings)
    assert all(o["cpunumber"] and o["memory"] for o in offerings if not o["iscustomized"])
    assert client.custom_disk_offering()["iscustomized"] is True
    assert [t["name"] for t in client.list_templates(zone_id=zone["id"])] == ["lab-template"]


def test_unknown_zone_names_the_zones_there_are(client):
    with pytest.raises(CloudStackNotFoundError) as info:
        client.find_zone("Nowhere")
    assert str(info.value) == "CloudStack has no zone 'Nowhere' (zones: OSSEA-Zone)"


def test_get_vm_and_volume_not_found(client):
    with pytest.raises(CloudStackNotFoundError):
        client.get_vm("5d1e1c2b-0000-4000-8000-000000000000")
    with pytest.raises(CloudStackNotFoundError):
        client.get_volume("5d1e1c2b-0000-4000-8000-000000000000")


def test_discover_all(client, cloudstack_lab):
    found = client.discover_all(zone="OSSEA-Zone", oma_vm_id=cloudstack_lab.oma_vm_id)
    assert [z["name"] for z in found["zones"]] == ["OSSEA-Zone"]
    assert len(found["networks"]) == 5
    assert len(found["service_offerings"]) == 4 and len(found["disk_offerings"]) == 5  # one tagged "ssd"
    assert found["templates"][0]["name"] == "lab-template"
    assert found["oma_vm"]["id"] == cloudstack_lab.oma_vm_id
    assert found["oma_vm_error"] is None
    missing = client.discover_all(oma_macs=["02:de:ad:be:ef:00"])
    assert missing["oma_vm"] is None
    assert "No CloudStack VM has a NIC" in missing["oma_vm_error"]


# -- test_connection (seed 001's `test` action) ------------------------------------------------


def test_connection_answers_the_seed_details(cloudstack_lab):
    lab = cloudstack_lab
    assert test_connection(lab.url, lab.api_key, lab.secret_key, zone="OSSEA-Zone") == {
        "zones_found": 1, "zone_verified": "OSSEA-Zone", "api_accessible": True}
    assert test_connection(lab.url, lab.api_key, lab.secret_key)["zone_verified"] is None
    assert test_connection(lab.url, lab.api_key, lab.secret_key,
                           zone="Elsewhere")["zone_verified"] is None


def test_connection_with_a_wrong_secret_is_an_auth_error(cloudstack_lab):
    with pytest.raises(CloudStackAuthError) as info:
        test_connection(cloudstack_lab.url, cloudstack_lab.api_key, "wrong-secret")
    message = str(info.value)
    assert "unable to verify user credentials and/or request signature" in message
    assert "API key and secret key" in message
    assert "wrong-secret" not in message


def test_html_instead_of_json_is_a_bad_response(cloudstack_lab):
    ui_url = cloudstack_lab.url.removesuffix("/api") + "/"
    with pytest.raises(CloudStackBadResponseError) as info:
        test_connection(ui_url, cloudstack_lab.api_key, cloudstack_lab.secret_key)
    assert info.value.status == 200
    assert "text/html" in str(info.value)
    assert "/client/api" in str(info.value)
    not_found = cloudstack_lab.url + "/v2"
    with pytest.raises(CloudStackBadResponseError) as info:
        test_connection(not_found, cloudstack_lab.api_key, cloudstack_lab.secret_key)
    assert info.value.status == 404


def test_unreachable_host():
    url = f"http://127.0.0.1:{free_port()}/client/api"
    with pytest.raises(CloudStackUnreachableError) as info:
        test_connection(url, "key", "secret")
    assert str(info.value) == (f"Cannot reach CloudStack at {url}: connection refused "
                               "(nothing listens on that port)")
    with pytest.raises(CloudStackUnreachableError) as info:
        test_connection("http://cloudstack.nonexistent.invalid/client/api", "key", "secret")
    assert info.value.reason == "host name does not resolve"
    with pytest.raises(CloudStackUnreachableError) as info:
        test_connection("cloudstack.example/client/api", "key", "secret")
    assert "http://" in str(info.value)


def test_a_silent_server_is_unreachable_after_the_timeout():
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/client/api"
        with pytest.raises(CloudStackUnreachableError) as info:
            CloudStackClient(url, "k", "s", timeout=1, retries=0).list_zones()
    assert info.value.reason == "no answer within the request timeout"


# -- async jobs and errors ---------------------------------------------------------------------


def test_async_failure_surfaces_cloudstacks_errortext(cloudstack_lab, client, new_volume):
    volume = new_volume()
    cloudstack_lab.inject("attachVolume", fail=True,
                          errortext="Failed to attach volume data to VM oma; primary storage full")
    with pytest.raises(CloudStackJobError) as info:
        client.attach_volume(volume["id"], cloudstack_lab.oma_vm_id)
    error = info.value
    assert error.errortext == "Failed to attach volume data to VM oma; primary storage full"
    assert error.errorcode == 530
    assert error.command == "attachVolume"
    assert error.jobid in str(error) and "primary storage full" in str(error)
    assert isinstance(error, CloudStackAPIError)


def test_failed_create_job_names_what_it_was_creating(cloudstack_lab, client, zone_id):
    cloudstack_lab.inject("createVolume", fail=True, errortext="No storage pool available")
    with pytest.raises(CloudStackJobError) as info:
        client.create_volume_for_disk(vm_name="web", disk_unit=1, size_bytes=GiB, zone_id=zone_id)
    assert info.value.resource_id  # the id CloudStack answered before the job ran


def test_job_timeout(cloudstack_lab, zone_id):
    cloudstack_lab.inject("createVolume", delay=3)
    impatient = make_client(cloudstack_lab, job_timeout=0.5)
    with pytest.raises(CloudStackJobTimeoutError) as info:
        impatient.create_volume_for_disk(vm_name="web", disk_unit=0, size_bytes=GiB,
                                         zone_id=zone_id)
    assert info.value.resource_id
    assert "did not finish within 0.5 s" in str(info.value)


def test_rule_errors_carry_cloudstacks_code_and_text(cloudstack_lab, client, new_volume):
    volume = new_volume()
    client.attach_volume(volume["id"], cloudstack_lab.oma_vm_id)
    with pytest.raises(CloudStackAPIError) as info:
        client.delete_volume(volume["id"])  # synchronous: no job involved
    assert not isinstance(info.value, CloudStackJobError)
    assert (info.value.errorcode, info.value.cserrorcode) == (431, 4350)
    assert info.value.errortext == "Please specify a volume that is not attached to any VM."
    with pytest.raises(CloudStackJobError) as info:
        client.attach_volume(volume["id"], cloudstack_lab.oma_vm_id)
    assert info.value.errorcode == 431


def test_list_calls_are_retried_after_a_dropped_connection(cloudstack_lab, client, new_volume):
    cloudstack_lab.inject("listZones", reset=True, count=2)
    assert len(client.list_zones()) == 1
    assert cloudstack_lab.injections() == []  # both drops were met, then the retry succeeded
    cloudstack_lab.inject("listZones", reset=True)
    with pytest.raises(CloudStackUnreachableError):
        make_client(cloudstack_lab, retries=0).list_zones()
    volume = new_volume()
    cloudstack_lab.inject("deleteVolume", reset=True)
    with pytest.raises(CloudStackUnreachableError) as info:
        client.delete_volume(volume["id"])  # a write is never retried blindly
    assert "closed the connection" in str(info.value)
    client.delete_volume(volume["id"])


def test_a_tilde_is_refused_before_it_becomes_a_signature_error(client):
    with pytest.raises(CloudStackError) as info:
        client.list_volumes(name="disk~1")
    assert "'~'" in str(info.value)
    assert volume_name_for_disk("pg~test 1", 0) == "migration-pg-test-1-disk-0"


def test_secrets_never_reach_the_logs(cloudstack_lab, client, new_volume, caplog):
    caplog.set_level(logging.DEBUG)
    volume = new_volume()
    client.attach_volume(volume["id"], cloudstack_lab.oma_vm_id)
    with pytest.raises(CloudStackAPIError):
        client.delete_volume(volume["id"])
    with pytest.raises(CloudStackAuthError) as info:
        CloudStackClient(cloudstack_lab.url, cloudstack_lab.api_key, "bad-secret-value").list_zones()
    logged = caplog.text + str(info.value) + repr(client)
    assert cloudstack_lab.secret_key not in logged
    assert "bad-secret-value" not in logged
    assert "signature=" not in logged.lower()
    assert "cloudstack.job command=attachVolume" in caplog.text  # the logs do say what ran


# -- volumes for replication and failover ------------------------------------------------------


def test_volume_for_a_disk_uses_the_custom_offering_and_rounds_up(new_volume):
    volume = new_volume(disk_unit=2, size_bytes=10 * GiB + 1)
    assert volume["name"] == "migration-pgtest1-disk-2"
    assert volume["size"] == 11 * GiB
    assert volume["diskofferingname"] == "Custom"
    assert volume["state"] == "Allocated"
    assert size_bytes_to_gb(1) == 1 and size_bytes_to_gb(40 * GiB) == 40


def test_attach_to_oma_waits_for_the_device_and_detach_for_it_to_go(cloudstack_lab, client,
                                                                    new_volume):
    volume = new_volume(size_bytes=2 * GiB)
    attached = client.attach_to_oma(volume["id"], cloudstack_lab.oma_vm_id,
                                    dev_root=cloudstack_lab.dev_root, device_timeout=5)
    assert attached.device_id == 1
    assert attached.volume["state"] == "Ready"
    assert attached.device_path == volume_device_path(volume["id"], cloudstack_lab.dev_root)
    assert attached.device_path.exists()
    assert os.path.getsize(attached.device_path) == 2 * GiB
    second = client.attach_to_oma(new_volume(disk_unit=1)["id"], cloudstack_lab.oma_vm_id,
                                  dev_root=cloudstack_lab.dev_root)
    assert second.device_id == 2

    client.detach_from_oma(volume["id"], dev_root=cloudstack_lab.dev_root, device_timeout=5)
    assert not attached.device_path.exists()
    assert client.get_volume(volume["id"]).get("virtualmachineid") is None
    # Again, as a rollback might: nothing to do, no error.
    assert client.detach_from_oma(volume["id"], dev_root=cloudstack_lab.dev_root)["id"] == volume["id"]
    with pytest.raises(CloudStackJobError):
        client.detach_volume(volume["id"])  # the plain call stays strict
    client.delete_volume(volume["id"])
    with pytest.raises(CloudStackNotFoundError):
        client.get_volume(volume["id"])


def test_attach_to_a_vm_that_is_not_this_host_reports_the_missing_device(
        cloudstack_lab, client, new_volume):
    other = next(vm for vm in client.list_virtual_machines() if vm["name"] == "web-01")
    volume = new_volume()
    with pytest.raises(CloudStackDeviceError) as info:
        client.attach_to_oma(volume["id"], other["id"], dev_root=cloudstack_lab.dev_root,
                             device_timeout=0.3)
    assert "did not appear" in str(info.value)
    assert "it was detached again" in str(info.value)
    assert info.value.volume_id == volume["id"]
    assert client.get_volume(volume["id"]).get("virtualmachineid") is None


def test_already_gone_is_decided_by_listing_not_by_the_second_deletes_error(client, new_volume):
    volume = new_volume()
    client.delete_volume(volume["id"])
    # CloudStack keeps the removed row: a second delete is an ordinary refusal, no "gone" error to rely on.
    with pytest.raises(CloudStackAPIError) as info:
        client.delete_volume(volume["id"])
    assert info.value.errorcode == 431 and not isinstance(info.value, CloudStackNotFoundError)
    assert "Unable to find volume with ID" in info.value.errortext
    assert client.find("volume", volume["id"]) is None  # the list by its id is empty: gone
    assert client.find("vm", "0b7c0b7c-0000-4000-8000-000000000000") is None  # an id CloudStack never had
    assert client.find("volume", new_volume()["id"])["state"] == "Allocated"


def test_snapshot_revert_restores_the_data(cloudstack_lab, client, new_volume):
    volume = new_volume()
    device = client.attach_to_oma(volume["id"], cloudstack_lab.oma_vm_id,
                                  dev_root=cloudstack_lab.dev_root).device_path
    with open(device, "r+b") as disk:
        disk.seek(512 * 1024 * 1024)
        disk.write(b"replicated block")
    snapshot = client.create_snapshot(volume["id"], name="before-test-failover")
    assert snapshot["state"] == "BackedUp"
    assert client.list_snapshots(volume_id=volume["id"])[0]["id"] == snapshot["id"]
    with open(device, "r+b") as disk:
        disk.seek(512 * 1024 * 1024)
        disk.write(b"test boot wrote!")
        disk.seek(0)
        disk.write(b"bootsector")

    with pytest.raises(CloudStackJobError) as info:  # attached to the running control plane
        client.revert_snapshot(snapshot["id"])
    assert info.value.errortext == ("The VM the specified disk is attached to is not in the "
                                    "shutdown state.")
    client.detach_from_oma(volume["id"], dev_root=cloudstack_lab.dev_root)
    client.revert_snapshot(snapshot["id"])
    device = client.attach_to_oma(volume["id"], cloudstack_lab.oma_vm_id,
                                  dev_root=cloudstack_lab.dev_root).device_path
    with open(device, "rb") as disk:
        assert disk.read(10) == bytes(10)
        disk.seek(512 * 1024 * 1024)
        assert disk.read(16) == b"replicated block"
    clone = client.create_volume_from_snapshot(snapshot_id=snapshot["id"], name="test-boot")
    assert (clone["state"], clone["size"]) == ("Ready", volume["size"])
    client.delete_snapshot(snapshot["id"])
    assert client.list_snapshots(volume_id=volume["id"]) == []


def test_snapshot_needs_a_ready_volume(client, new_volume):
    with pytest.raises(CloudStackAPIError) as info:
        client.create_snapshot(new_volume()["id"])
    assert "is not in Ready state but Allocated" in info.value.errortext


def test_resize_volume(cloudstack_lab, client, new_volume):
    volume = new_volume()
    assert client.resize_volume(volume["id"], 2)["size"] == 2 * GiB


# -- virtual machines --------------------------------------------------------------------------


def test_vm_lifecycle_with_a_replicated_root_volume(cloudstack_lab, client, zone_id, new_volume):
    service = next(o for o in client.list_service_offerings() if o["iscustomized"])
    template = client.list_templates()[0]
    network = next(n for n in client.list_networks() if n["name"] == "test-failover-net")
    vm = client.deploy_virtual_machine(zone_id=zone_id, service_offering_id=service["id"],
                                       template_id=template["id"], network_ids=[network["id"]],
                                       name="pgtest1-test", cpu_number=2, memory_mb=4096, cpu_speed=1000)
    assert (vm["state"], vm["cpunumber"], vm["memory"]) == ("Stopped", 2, 4096)
    assert vm["nic"][0]["networkid"] == network["id"]
    assert client.list_nics(vm["id"])[0]["macaddress"] == vm["nic"][0]["macaddress"]

    boot = new_volume(disk_unit=0, size_bytes=4 * GiB)
    data = new_volume(disk_unit=1)
    client.attach_to_oma(boot["id"], cloudstack_lab.oma_vm_id, dev_root=cloudstack_lab.dev_root)
    client.detach_from_oma(boot["id"], dev_root=cloudstack_lab.dev_root)
    root = client.replace_root_volume(vm["id"], boot["id"])
    assert (root["type"], root["deviceid"]) == ("ROOT", 0)
    assert client.attach_volume(data["id"], vm["id"])["deviceid"] == 1
    assert {v["id"] for v in client.list_volumes(vm_id=vm["id"])} == {boot["id"], data["id"]}

    assert client.start_virtual_machine(vm["id"])["state"] == "Running"
    assert client.get_vm(vm["id"])["state"] == "Running"
    assert client.stop_virtual_machine(vm["id"])["state"] == "Stopped"
    client.destroy_virtual_machine(vm["id"])
    with pytest.raises(CloudStackNotFoundError):
        client.get_vm(vm["id"])
    # Expunging deletes the root; data volumes come back detached, data intact.
    assert client.get_volume(data["id"]).get("virtualmachineid") is None
    with pytest.raises(CloudStackNotFoundError):
        client.get_volume(boot["id"])


def test_replace_root_volume_puts_the_old_root_back_when_the_swap_fails(client, zone_id,
                                                                       new_volume):
    service = next(o for o in client.list_service_offerings() if not o["iscustomized"])
    vm = client.deploy_virtual_machine(zone_id=zone_id, service_offering_id=service["id"],
                                       template_id=client.list_templates()[0]["id"], start=True)
    [old_root] = client.list_volumes(vm_id=vm["id"], volume_type="ROOT")
    with pytest.raises(CloudStackJobError) as info:  # a running VM keeps its root
        client.replace_root_volume(vm["id"], new_volume()["id"])
    assert "only when vm is in states: Stopped" in info.value.errortext
    assert client.get_volume(old_root["id"])["deviceid"] == 0


def test_customized_offering_needs_cpu_and_memory(client, zone_id):
    service = next(o for o in client.list_service_offerings() if o["iscustomized"])
    with pytest.raises(CloudStackAPIError) as info:
        client.deploy_virtual_machine(zone_id=zone_id, service_offering_id=service["id"],
                                      template_id=client.list_templates()[0]["id"])
    assert "custom parameter values cpu" in info.value.errortext


def test_vm_names_follow_cloudstacks_hostname_rule(client, zone_id):
    service = client.list_service_offerings()[0]
    with pytest.raises(CloudStackAPIError) as info:
        client.deploy_virtual_machine(zone_id=zone_id, service_offering_id=service["id"],
                                      template_id=client.list_templates()[0]["id"],
                                      name="PG Test_1")
    assert info.value.errortext.startswith("Invalid name. Vm name can contain ASCII letters")


def test_vm_snapshots(cloudstack_lab, client):
    snap = client.create_vm_snapshot(cloudstack_lab.oma_vm_id, name="pre-upgrade")
    assert snap["state"] == "Ready"
    assert [s["name"] for s in client.list_vm_snapshots(vm_id=cloudstack_lab.oma_vm_id)] == [
        "pre-upgrade"]
    client.delete_vm_snapshot(snap["id"])
    assert client.list_vm_snapshots() == []


def test_list_async_jobs(client, new_volume):
    new_volume()
    [job] = client.list_async_jobs()
    assert job["jobstatus"] == 1 and job["cmd"].endswith("CreateVolumeCmd")


# -- the control plane's own VM ----------------------------------------------------------------


@pytest.mark.skipif(not HOST_MACS, reason="this host has no network interface with a MAC")
def test_detect_oma_vm_from_this_hosts_macs(cloudstack_lab, client):
    assert detect_oma_vm(client)["id"] == cloudstack_lab.oma_vm_id


def test_detect_oma_vm_by_given_macs_or_id(cloudstack_lab, client):
    oma = client.get_vm(cloudstack_lab.oma_vm_id)
    macs = [nic["macaddress"].upper() for nic in oma["nic"]]
    assert detect_oma_vm(client, macs=macs)["id"] == oma["id"]
    assert detect_oma_vm(client, vm_id=oma["id"])["name"] == oma["name"]
    with pytest.raises(OmaVmDetectionError) as info:
        detect_oma_vm(client, macs=["02:12:34:56:78:9a"])
    assert "set the control-plane VM id" in str(info.value)
    with pytest.raises(OmaVmDetectionError) as info:
        detect_oma_vm(client, vm_id="0b7c0b7c-0000-4000-8000-000000000000")
    assert "does not exist" in str(info.value)
