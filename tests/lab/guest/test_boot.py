"""The emulator runs lab guests as QEMU: the VMware-built guest, copied raw, fails on virtio and boots
on PVSCSI (BIOS and UEFI), answering on SSH with its data disk intact."""

from __future__ import annotations

import pytest

from lab.guest.reach import run, ssh, wait_serial
from tests.lab.guest.helpers import deploy_guest

pytestmark = [pytest.mark.guest, pytest.mark.slow]


def test_unconverted_guest_does_not_boot_on_a_virtio_disk(guest_api, guest_world, guest_lab, guest_images):
    vm = deploy_guest(guest_api, guest_world, guest_lab, guest_images.bios, name="raw-on-virtio",
                      nicAdapter="vmxnet3")  # rootDiskController unset: virtio, as on KVM
    guest = guest_lab.guest(vm["id"])
    assert guest["running"] and vm["state"] == "Running"
    assert any("virtio-blk-pci" in arg for arg in guest["command"])

    log = wait_serial(guest_lab, vm["id"], r"Gave up waiting for root file system device")
    assert "Linux version" in log  # the kernel itself ran: it is the root disk that is missing
    assert "ALERT!" in log and "does not exist" in log  # initramfs-tools' emergency shell

    guest_api.stopVirtualMachine(id=vm["id"])
    assert not guest_lab.guest(vm["id"])["running"]


def test_guest_boots_on_pvscsi_and_reads_its_data_disk(guest_api, guest_world, guest_lab, guest_images):
    vm = deploy_guest(guest_api, guest_world, guest_lab, guest_images.bios, name="as-on-vsphere",
                      data_image=guest_images.data, rootDiskController="pvscsi", nicAdapter="vmxnet3")
    mac = vm["nic"][0]["macaddress"]
    client = ssh(guest_lab, vm["id"], guest_images.key)
    with client:
        link = run(client, f"ip -br link show {guest_images.manifest['nic_name']}")
        assert mac in link.lower()
        assert "vmw_pvscsi" in run(client, "lsmod")
        data = guest_images.manifest["data"]
        run(client, f"mount -o ro UUID={data['fs_uuid']} /mnt")
        names = " ".join(data["sha256"])
        sums = dict(reversed(line.split()) for line in run(client, f"cd /mnt && sha256sum {names}").splitlines())
        assert sums == data["sha256"]
    guest = guest_lab.guest(vm["id"])
    assert guest["accel"] in ("kvm", "tcg") and guest["accel_reason"]

    guest_api.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert not guest_lab.guest(vm["id"])["running"]


def test_efi_variant_boots_with_ovmf(guest_api, guest_world, guest_lab, guest_images):
    vm = deploy_guest(guest_api, guest_world, guest_lab, guest_images.efi, name="efi-guest",
                      boottype="UEFI", rootDiskController="sata", nicAdapter="vmxnet3")
    # SATA, a vSphere controller too: Debian's OVMF has no PVSCSI driver to boot from.
    assert any("OVMF_CODE" in arg for arg in guest_lab.guest(vm["id"])["command"])
    with ssh(guest_lab, vm["id"], guest_images.key) as client:
        assert run(client, "test -d /sys/firmware/efi && echo uefi").strip() == "uefi"
        assert "/boot/efi" in run(client, "mount -a && findmnt -n -o TARGET /boot/efi")
    guest_api.stopVirtualMachine(id=vm["id"])
    assert not guest_lab.guest(vm["id"])["running"]
