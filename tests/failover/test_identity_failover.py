"""The failover VM arrives as itself, read back from the CloudStack emulator with listVirtualMachines.

A two-NIC EFI (secure boot) Windows VM: a live failover keeps both MACs and, on the Shared network, the address the
guest had; a test failover (beside the running source) keeps neither. Both carry the boot type and mode, the mapped
OS type and the virtio KVM details; a speedless customized offering gets its cpuSpeed.
"""
import pytest

from apps.failover.models import FailoverJob
from apps.inventory.models import VMNic
from apps.settings import cloudstack as cs
from apps.settings.models import GuestOsMapping
from tests.failover.conftest import make_replicated_vm

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

MACS = ("00:50:56:8a:10:01", "00:50:56:8a:10:02")


@pytest.fixture
def efi_vm(cloud, cloud_config, client, networks):
    from apps.failover.models import NetworkMapping

    vm = make_replicated_vm(cloud, cloud_config, client, name="winefi", nics=("VM Network", "Backup Network"),
                            guest_os="windows2019srv_64Guest")
    vm.context.firmware, vm.context.secure_boot = "efi", True
    vm.context.save()
    for nic, mac, address in zip(vm.context.nics.order_by("label"), MACS, ("10.1.4.120", "192.168.50.7"),
                                 strict=True):
        VMNic.objects.filter(pk=nic.pk).update(mac_address=mac.upper(), ip_addresses=[address, "fe80::1"])
    for source, live, test in (("VM Network", "shared-net", "test-failover-net"),
                               ("Backup Network", "l2-net", "migration-net")):
        for name, is_test in ((live, False), (test, True)):
            NetworkMapping.objects.create(vm_context=vm.context, source_network_name=source,
                                          destination_network_id=networks[name]["id"],
                                          destination_network_name=name, is_test_network=is_test)
    return vm


def _run(api, capture, path: str, vm, **extra) -> FailoverJob:
    body = {"vm_id": vm.context.vm_id, "vm_name": vm.context.vm_name, **extra}
    with capture(execute=True):
        response = api.post(path, body, format="json")
    assert response.status_code == 200, response.json()
    job = FailoverJob.objects.get(job_id=response.json()["job_id"])
    assert job.status == "completed", job.error_message
    return job


def _windows(client) -> dict:
    return next(t for t in client.list_os_types() if t["description"] == "Windows Server 2019 (64-bit)")


def test_live_failover_keeps_macs_address_boot_and_os_type(operator_client, efi_vm, client, networks,
                                                           django_capture_on_commit_callbacks):
    job = _run(operator_client, django_capture_on_commit_callbacks, "/api/v1/failover/live", efi_vm,
               power_off_source=False, final_sync=False)
    vm = client.get_vm(job.destination_vm_id)
    nics = {n["networkid"]: n for n in vm["nic"]}
    shared, l2 = nics[networks["shared-net"]["id"]], nics[networks["l2-net"]["id"]]
    assert (shared["macaddress"], shared["ipaddress"], shared["isdefault"]) == (MACS[0], "10.1.4.120", True)
    assert l2["macaddress"] == MACS[1] and "ipaddress" not in l2
    assert (vm["boottype"], vm["bootmode"]) == ("UEFI", "secure")
    assert (vm["ostypeid"], vm["osdisplayname"]) == (_windows(client)["id"], "Windows Server 2019 (64-bit)")
    assert vm["details"]["rootDiskController"] == vm["details"]["nicAdapter"] == "virtio"
    assert job.plan["boot"] == {"boot_type": "UEFI", "boot_mode": "SECURE"}
    assert job.validation_result["is_ready"]
    identity = next(c for c in job.validation_result["checks"] if c["check_name"] == "Guest Identity")
    assert identity["status"] == "pass" and "10.1.4.120" in identity["message"]


def test_test_failover_runs_beside_the_source_with_new_macs(operator_client, efi_vm, client, networks,
                                                            django_capture_on_commit_callbacks):
    job = _run(operator_client, django_capture_on_commit_callbacks, "/api/v1/failover/test", efi_vm,
               test_duration="1h")
    vm = client.get_vm(job.destination_vm_id)
    assert [n["networkid"] for n in vm["nic"]] == [networks["test-failover-net"]["id"],
                                                  networks["migration-net"]["id"]]
    assert not {n["macaddress"] for n in vm["nic"]} & set(MACS)
    assert (vm["boottype"], vm["bootmode"]) == ("UEFI", "secure")
    assert vm["ostypeid"] == _windows(client)["id"]


def test_a_test_failover_may_keep_the_macs_when_asked(operator_client, efi_vm, client,
                                                      django_capture_on_commit_callbacks):
    job = _run(operator_client, django_capture_on_commit_callbacks, "/api/v1/failover/test", efi_vm,
               test_duration="1h", custom_config={"keep_mac_addresses": True, "nic_adapter": "e1000"})
    vm = client.get_vm(job.destination_vm_id)
    assert [n["macaddress"] for n in vm["nic"]] == list(MACS)
    assert vm["details"]["nicAdapter"] == "e1000"


def test_customized_offering_without_speed_gets_the_configured_cpu_speed(
        operator_client, efi_vm, client, settings, django_capture_on_commit_callbacks):
    settings.MP_FAILOVER_CPU_SPEED_MHZ = 2400
    custom = next(o for o in client.list_service_offerings() if o["iscustomized"])
    assert not custom.get("cpuspeed")
    job = _run(operator_client, django_capture_on_commit_callbacks, "/api/v1/failover/test", efi_vm,
               test_duration="1h", custom_config={"service_offering_id": custom["id"]})
    vm = client.get_vm(job.destination_vm_id)
    assert (vm["cpunumber"], vm["cpuspeed"], vm["memory"]) == (2, 2400, 2048)
    assert job.plan["compute"]["cpu_speed"] == 2400


def test_readiness_warns_of_an_address_outside_the_range_or_taken_and_an_unmapped_os(
        operator_client, efi_vm, client, networks):
    first = efi_vm.context.nics.order_by("label").first()
    VMNic.objects.filter(pk=first.pk).update(ip_addresses=["10.1.4.20"])  # below the range's start (.100)
    GuestOsMapping.objects.filter(vmware_guest_id="windows2019srv_64Guest").delete()
    body = operator_client.get(f"/api/v1/failover/{efi_vm.context.vm_id}/readiness",
                               {"failover_type": "live"}).json()
    check = next(c for c in body["validation_result"]["checks"] if c["check_name"] == "Guest Identity")
    assert body["is_valid"] and check["status"] == "fail" and check["check_type"] == "warning"
    assert "10.1.4.20 is outside the range of network 'shared-net'" in check["message"]
    assert "'windows2019srv_64Guest' has no guest OS mapping" in check["message"]

    # Taken: a CloudStack VM already holds the address.
    VMNic.objects.filter(pk=first.pk).update(ip_addresses=["10.1.4.130"])
    client.deploy_virtual_machine(zone_id=client.list_zones()[0]["id"],
                                  service_offering_id=client.list_service_offerings()[0]["id"],
                                  template_id=client.list_templates()[0]["id"], name="holder",
                                  nics=[cs.DeployNic(networks["shared-net"]["id"], ip="10.1.4.130")])
    body = operator_client.get(f"/api/v1/failover/{efi_vm.context.vm_id}/readiness",
                               {"failover_type": "live"}).json()
    check = next(c for c in body["validation_result"]["checks"] if c["check_name"] == "Guest Identity")
    assert "10.1.4.130 is taken in network 'shared-net'" in check["message"]


def test_cpu_speed_is_sent_only_where_the_offering_has_none(settings):
    from apps.failover.cloud import Compute

    settings.MP_FAILOVER_CPU_SPEED_MHZ = 1800
    assert Compute({"id": "c", "iscustomized": True}, 2, 2048).cpu_speed == 1800
    # CloudStack refuses a cpuSpeed on an offering with its own speed, and a fixed offering takes no details.
    assert Compute({"id": "c", "iscustomized": True, "cpuspeed": 2000}, 2, 2048).cpu_speed is None
    assert Compute({"id": "f", "iscustomized": False, "cpuspeed": 1000}, None, None).cpu_speed is None
