"""The platform's client deploys a VM's identity in the parameters CloudStack reads (checked by the emulator)."""
from __future__ import annotations

import pytest

from apps.settings.cloudstack import CloudStackClient, DeployNic, nic_parameters


@pytest.fixture
def client(cloudstack_lab) -> CloudStackClient:
    return CloudStackClient(cloudstack_lab.url, cloudstack_lab.api_key, cloudstack_lab.secret_key,
                            poll_interval=0.05, job_timeout=20)


def test_nic_parameters_follow_cloudstacks_rules():
    assert nic_parameters([], ["a"]) == {"networkids": ["a"]}
    # Only the default NIC's MAC: networkids + macaddress.
    assert nic_parameters([DeployNic("a", mac="00:50:56:00:00:01"), DeployNic("b")]) == {
        "networkids": ["a", "b"], "macaddress": "00:50:56:00:00:01"}
    # More to keep: the list (never with networkids); the default MAC stays in macaddress while it keeps no address.
    assert nic_parameters([DeployNic("a", mac="00:50:56:00:00:01"), DeployNic("b", mac="00:50:56:00:00:02")]) == {
        "macaddress": "00:50:56:00:00:01",
        "iptonetworklist": [{"networkid": "a"}, {"networkid": "b", "mac": "00:50:56:00:00:02"}]}
    # A default NIC keeping its address has its MAC in the list: macaddress would replace the address.
    assert nic_parameters([DeployNic("a", ip="10.1.4.120", mac="00:50:56:00:00:01")]) == {
        "iptonetworklist": [{"networkid": "a", "ip": "10.1.4.120", "mac": "00:50:56:00:00:01"}]}


def test_deploy_keeps_the_default_nics_address_and_mac_and_boots_uefi(client):
    zone = client.list_zones()[0]["id"]
    networks = {n["name"]: n["id"] for n in client.list_networks()}
    offering = next(o for o in client.list_service_offerings() if o["iscustomized"])
    vm = client.deploy_virtual_machine(
        zone_id=zone, service_offering_id=offering["id"], template_id=client.list_templates()[0]["id"],
        name="keeper", cpu_number=2, memory_mb=2048, cpu_speed=1800, boot_type="UEFI", boot_mode="LEGACY",
        details={"rootDiskController": "scsi", "nicAdapter": "virtio"},
        nics=[DeployNic(networks["shared-net"], ip="10.1.4.121", mac="00:50:56:00:00:11"),
              DeployNic(networks["l2-net"], mac="00:50:56:00:00:12")])
    listed = client.get_vm(vm["id"])
    assert [(n["macaddress"], n.get("ipaddress")) for n in listed["nic"]] == [
        ("00:50:56:00:00:11", "10.1.4.121"), ("00:50:56:00:00:12", None)]
    assert (listed["boottype"], listed["bootmode"], listed["cpuspeed"]) == ("UEFI", "legacy", 1800)
    assert listed["details"]["rootDiskController"] == "scsi"
    windows = next(t for t in client.list_os_types() if t["description"] == "Windows Server 2022 (64-bit)")
    assert client.update_virtual_machine(vm["id"], os_type_id=windows["id"])["ostypeid"] == windows["id"]
    assert client.get_vm(vm["id"])["osdisplayname"] == "Windows Server 2022 (64-bit)"
