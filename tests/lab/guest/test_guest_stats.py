"""A VM running as QEMU reports statistics measured from its process, as CloudStack's KVM agent measures a domain:
CPU over the time since the previous listing, memory against the VM's RAM, and none once it stops."""

from __future__ import annotations

import time

import pytest

from lab.guest.reach import wait_serial
from tests.lab.guest.helpers import deploy_guest

pytestmark = [pytest.mark.guest, pytest.mark.slow]


def test_a_qemu_guest_reports_its_process_figures(guest_api, guest_world, guest_lab, guest_images):
    # The raw-copied guest on virtio: its kernel boots and waits for a root disk, enough to be a busy process.
    vm = deploy_guest(guest_api, guest_world, guest_lab, guest_images.bios, name="measured")
    guest = guest_lab.guest(vm["id"])
    assert guest["running"] and "cpuused" in vm  # the start's answer already has the process's figures
    wait_serial(guest_lab, vm["id"], r"Linux version")
    time.sleep(1.0)
    [listed] = guest_api.listVirtualMachines(id=vm["id"])["virtualmachine"]
    cpu = float(listed["cpuused"].rstrip("%"))
    assert cpu > 0  # a booting guest (under TCG, QEMU translating it) uses CPU
    assert listed["memorykbs"] == listed["memorytargetkbs"] == vm["memory"] * 1024
    resident = [line for line in open(f"/proc/{guest['pid']}/status") if line.startswith("VmRSS:")][0]
    assert 0 <= listed["memoryintfreekbs"] < listed["memorykbs"]  # QEMU holds part of the RAM it was given
    assert abs(listed["memorykbs"] - listed["memoryintfreekbs"] - int(resident.split()[1])) < 64 * 1024
    assert (listed["networkkbsread"], listed["networkkbswrite"], listed["diskioread"]) == (0, 0, 0)
    assert listed["diskkbsread"] >= 0 and listed["diskkbswrite"] >= 0

    guest_api.stopVirtualMachine(id=vm["id"])
    assert "cpuused" not in guest_api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
