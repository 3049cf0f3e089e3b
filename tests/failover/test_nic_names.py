"""Which NIC names the conversion keeps (apps/failover/nicnames.py): read from the guest's network configuration, in
vSphere slot order, tied to the KVM NICs by MAC or by the virtio driver. The whole path (a converted guest whose
virtio NIC keeps its VMware name and answers on SSH) is the guest e2e's: tests/e2e/test_guest_failover_e2e.py."""
from __future__ import annotations

import configparser

from apps.failover import nicnames

FILES = {
    "/etc/systemd/network/10-ens192.network": "[Match]\nName=ens192\n\n[Network]\nDHCP=ipv4\n",
    "/etc/network/interfaces": "auto lo\niface lo inet loopback\n\nallow-hotplug ens224\niface ens224 inet dhcp\n"
                               "iface ens224.100 inet manual\n",
    "/etc/netplan/50-cloud-init.yaml": "network:\n  version: 2\n  ethernets:\n    ens256:\n      dhcp4: true\n"
                                       "    lan:\n      match:\n        macaddress: 00:50:56:aa:bb:cc\n"
                                       "      set-name: lan\n",
    "/etc/NetworkManager/system-connections/Wired.nmconnection": "[connection]\nid=Wired\ninterface-name=ens1184\n",
    "/etc/sysconfig/network-scripts/ifcfg-ens161": 'DEVICE="ens161"\nBOOTPROTO=dhcp\n',
}


def test_names_come_from_every_kind_of_configuration_in_slot_order():
    # The netplan entry that matches by MAC keeps its own name (no `name:` under match): not a slot name to pin.
    assert nicnames.configured_names(FILES) == ["ens161", "ens192", "ens224", "ens256", "ens1184"]


def test_loopback_vlans_and_wildcards_are_not_nics():
    files = {"/etc/systemd/network/a.network": "[Match]\nName=en*\n",
             "/etc/network/interfaces": "auto lo\niface lo inet loopback\niface bond0 inet manual\n"}
    assert nicnames.configured_names(files) == []


def test_kept_macs_pin_each_name_to_its_nic():
    pinning = nicnames.plan_links(["ens192", "ens224"], [{"mac": "00:50:56:00:00:01"}, {"mac": "00:50:56:00:00:02"}])
    assert [(link["name"], link["match"]) for link in pinning.links] == [
        ("ens192", "MACAddress=00:50:56:00:00:01"), ("ens224", "MACAddress=00:50:56:00:00:02")]
    assert pinning.links[0]["file"] == "/etc/systemd/network/10-migrated-ens192.link"
    parsed = configparser.ConfigParser()
    parsed.read_string(nicnames.link_file("ens192", pinning.links[0]["match"]))
    assert parsed["Match"]["MACAddress"] == "00:50:56:00:00:01" and parsed["Link"]["Name"] == "ens192"


def test_one_nic_with_a_new_mac_is_pinned_by_its_driver():
    pinning = nicnames.plan_links(["ens192"], [{"mac": None}])
    assert [(link["name"], link["match"]) for link in pinning.links] == [("ens192", "Driver=virtio_net")]


def test_several_nics_with_new_macs_are_left_and_the_job_says_why():
    pinning = nicnames.plan_links(["ens192", "ens224"], [{"mac": None}, {"mac": None}])
    assert pinning.links == [] and "keep_mac_addresses" in pinning.note


def test_nothing_configured_nothing_pinned():
    pinning = nicnames.plan_links([], [{"mac": "00:50:56:00:00:01"}])
    assert pinning.links == [] and "no NIC names" in pinning.note
