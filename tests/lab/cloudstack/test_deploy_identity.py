"""deployVirtualMachine with a VM's identity: cpu speed, MACs, addresses, boot, OS type, KVM details.

Each refusal is the one CloudStack gives (BaseDeployVMCmd, UserVmManagerImpl.validateCustomParameters,
NetUtils, the NIC allocation); what is accepted reads back from listVirtualMachines.
"""
from __future__ import annotations

from tests.lab.cloudstack.helpers import api_error


def _base(world, **extra) -> dict:
    return {"zoneid": world.zone["id"], "serviceofferingid": world.small_service["id"],
            "templateid": world.template["id"], "startvm": False, **extra}


def _net(world, name: str) -> dict:
    return next(n for n in world.networks if n["name"] == name)


def _listed(api, vm_id: str) -> dict:
    [vm] = api.listVirtualMachines(id=vm_id)["virtualmachine"]
    return vm


def test_customized_offering_without_speed_needs_cpu_speed(api, world):
    assert "cpuspeed" not in world.custom_service
    base = {**_base(world), "serviceofferingid": world.custom_service["id"]}
    status, body = api_error(api.deployVirtualMachine, name="nospeed",
                             details={"cpuNumber": 2, "memory": 2048}, **base)
    assert (status, body["errortext"]) == (431, "Invalid cpu speed value, specify a value between 1 and 2147483647")
    status, body = api_error(api.deployVirtualMachine, name="zerospeed",
                             details={"cpuNumber": 2, "memory": 2048, "cpuSpeed": 0}, **base)
    assert status == 431 and body["errortext"].startswith("Invalid cpu speed value")
    # The detail is read by its exact name, as validateCustomParameters reads it.
    status, body = api_error(api.deployVirtualMachine, name="lowercase",
                             details={"cpuNumber": 2, "memory": 2048, "cpuspeed": 1500}, **base)
    assert status == 431 and body["errortext"].startswith("Invalid cpu speed value")
    vm = api.deployVirtualMachine(name="speed", details={"cpuNumber": 2, "memory": 2048, "cpuSpeed": 1500},
                                  **base)["virtualmachine"]
    assert (vm["cpunumber"], vm["cpuspeed"], vm["memory"]) == (2, 1500, 2048)
    assert _listed(api, vm["id"])["details"]["cpuSpeed"] == "1500"


def test_mac_addresses_are_checked_and_kept(api, world):
    migration, test = _net(world, "migration-net"), _net(world, "test-failover-net")
    status, body = api_error(api.deployVirtualMachine, name="badmac", networkids=migration["id"],
                             macaddress="00:50:56:zz:00:01", **_base(world))
    assert (status, body["errortext"]) == (431, "Mac address is not valid: 00:50:56:zz:00:01")
    status, body = api_error(api.deployVirtualMachine, name="multicast", networkids=migration["id"],
                             macaddress="01:00:5e:00:00:01", **_base(world))
    assert (status, body["errortext"]) == (431, "Mac address is not unicast: 01:00:5e:00:00:01")
    status, body = api_error(api.deployVirtualMachine, name="badmac2", **_base(
        world, iptonetworklist=[{"networkid": migration["id"], "mac": "00:50:56:aa:bb"}]))
    assert (status, body["errortext"]) == (431, "Mac address is not valid: 00:50:56:aa:bb")

    vm = api.deployVirtualMachine(name="macs", **_base(world, iptonetworklist=[
        {"networkid": migration["id"], "mac": "00:50:56:AA:00:01"},
        {"networkid": test["id"], "mac": "00-50-56-aa-00-02"}]))["virtualmachine"]
    nics = {n["networkid"]: n for n in _listed(api, vm["id"])["nic"]}
    assert nics[migration["id"]]["macaddress"] == "00:50:56:aa:00:01"
    assert nics[migration["id"]]["isdefault"] is True
    assert nics[test["id"]]["macaddress"] == "00:50:56:aa:00:02"

    vm = api.deployVirtualMachine(name="defaultmac", networkids=migration["id"], macaddress="00:50:56:aa:00:03",
                                  **_base(world))["virtualmachine"]
    assert _listed(api, vm["id"])["nic"][0]["macaddress"] == "00:50:56:aa:00:03"


def test_ip_to_network_list_excludes_network_ids(api, world):
    migration = _net(world, "migration-net")
    status, body = api_error(api.deployVirtualMachine, name="both", networkids=migration["id"],
                             **_base(world, iptonetworklist=[{"networkid": migration["id"]}]))
    assert (status, body["errortext"]) == (431, "ipToNetworkMap can't be specified along with networkIds or "
                                                "ipAddress")


def test_addresses_inside_the_networks_range_are_kept(api, world):
    shared, l2 = _net(world, "shared-net"), _net(world, "l2-net")
    assert (shared["type"], shared["startip"], shared["endip"]) == ("Shared", "10.1.4.100", "10.1.4.199")
    vm = api.deployVirtualMachine(name="keeps", **_base(world, iptonetworklist=[
        {"networkid": shared["id"], "ip": "10.1.4.150", "mac": "00:50:56:aa:01:01"},
        {"networkid": l2["id"], "mac": "00:50:56:aa:01:02"}]))["virtualmachine"]
    nics = {n["networkid"]: n for n in _listed(api, vm["id"])["nic"]}
    assert (nics[shared["id"]]["ipaddress"], nics[shared["id"]]["macaddress"]) == ("10.1.4.150", "00:50:56:aa:01:01")
    assert "ipaddress" not in nics[l2["id"]] and nics[l2["id"]]["macaddress"] == "00:50:56:aa:01:02"

    status, body = api_error(api.deployVirtualMachine, name="taken", **_base(
        world, iptonetworklist=[{"networkid": shared["id"], "ip": "10.1.4.150"}]))
    assert status == 533 and "requested ip 10.1.4.150 is not available" in body["errortext"]
    status, body = api_error(api.deployVirtualMachine, name="outside", **_base(
        world, iptonetworklist=[{"networkid": shared["id"], "ip": "10.1.4.20"}]))
    assert status == 533 and "requested ip 10.1.4.20 is not available" in body["errortext"]
    status, body = api_error(api.deployVirtualMachine, name="isolated", **_base(
        world, iptonetworklist=[{"networkid": _net(world, "migration-net")["id"], "ip": "192.168.9.9"}]))
    assert (status, body["errortext"]) == (533, "Unable to acquire Guest IP address for network migration-net")
    status, body = api_error(api.deployVirtualMachine, name="notanip", **_base(
        world, iptonetworklist=[{"networkid": shared["id"], "ip": "10.1.4.x"}]))
    assert (status, body["errortext"]) == (431, "Invalid specified IPv4 address 10.1.4.x")
    # A later allocation skips the kept address.
    auto = api.deployVirtualMachine(name="auto", networkids=shared["id"], **_base(world))["virtualmachine"]
    assert auto["nic"][0]["ipaddress"] != "10.1.4.150"


def test_macaddress_replaces_what_the_list_asked_for_the_default_nic(api, world):
    shared = _net(world, "shared-net")
    vm = api.deployVirtualMachine(name="override", macaddress="00:50:56:aa:02:01", **_base(
        world, iptonetworklist=[{"networkid": shared["id"], "ip": "10.1.4.160"}]))["virtualmachine"]
    nic = _listed(api, vm["id"])["nic"][0]
    assert nic["macaddress"] == "00:50:56:aa:02:01" and nic["ipaddress"] != "10.1.4.160"


def test_boot_type_and_mode(api, world):
    status, body = api_error(api.deployVirtualMachine, name="uefi", boottype="UEFI", **_base(world))
    assert (status, body["errortext"]) == (431, "bootmode must be specified for the VM with boot type: UEFI. "
                                                "Valid values are: [LEGACY, SECURE]")
    status, body = api_error(api.deployVirtualMachine, name="efi", boottype="EFI", bootmode="SECURE",
                             **_base(world))
    assert status == 431 and body["errortext"].startswith("Invalid bootType EFI")
    status, body = api_error(api.deployVirtualMachine, name="uefi", boottype="UEFI", bootmode="strict",
                             **_base(world))
    assert status == 431 and body["errortext"].startswith("Invalid bootmode: strict")
    vm = api.deployVirtualMachine(name="uefi", boottype="UEFI", bootmode="SECURE",
                                  details={"rootDiskController": "virtio", "nicAdapter": "virtio"},
                                  **_base(world))["virtualmachine"]
    listed = _listed(api, vm["id"])
    assert (listed["boottype"], listed["bootmode"]) == ("UEFI", "secure")
    assert listed["details"] == {"UEFI": "SECURE", "rootDiskController": "virtio", "nicAdapter": "virtio"}
    plain = api.deployVirtualMachine(name="plain", **_base(world))["virtualmachine"]
    assert (plain["boottype"], plain["bootmode"]) == ("BIOS", "legacy")


def test_os_types_and_updating_a_vms_os_type(api, world):
    types = api.listOsTypes()["ostype"]
    windows = next(t for t in types if t["description"] == "Windows Server 2019 (64-bit)")
    assert api.listOsTypes(description="Windows Server 2019 (64-bit)")["ostype"] == [windows]
    vm = api.deployVirtualMachine(name="os", **_base(world))["virtualmachine"]
    assert vm["ostypeid"] == world.template["ostypeid"]
    status, body = api_error(api.updateVirtualMachine, id=vm["id"], ostypeid="nope")
    assert status == 431 and "Invalid parameter ostypeid value=nope" in body["errortext"]
    updated = api.updateVirtualMachine(id=vm["id"], ostypeid=windows["id"])["virtualmachine"]
    assert (updated["ostypeid"], updated["guestosid"]) == (windows["id"], windows["id"])
    listed = _listed(api, vm["id"])
    assert (listed["ostypeid"], listed["osdisplayname"]) == (windows["id"], "Windows Server 2019 (64-bit)")
