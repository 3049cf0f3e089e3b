"""The lab guest image as built: cached, bootable disks, and an initramfs made on (and for) VMware."""

from __future__ import annotations

import os
import subprocess

import pytest

from lab.cloudstack import hypervisor
from lab.guest import images
from lab.guest.recipe import VIRTIO_MODULES

pytestmark = [pytest.mark.guest, pytest.mark.slow]


def initramfs_listing(initrd) -> list[str]:
    """What `lsinitramfs` shows, from the zstd-compressed cpio initramfs-tools writes."""
    unpacked = subprocess.run(["zstd", "-dc", str(initrd)], capture_output=True, check=True).stdout
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=unpacked, capture_output=True, check=True)
    return listing.stdout.decode().split()


def test_initramfs_has_the_vmware_storage_drivers_and_no_virtio(guest_images):
    names = initramfs_listing(guest_images.initrd)
    modules = {os.path.basename(n).removesuffix(".ko") for n in names if n.endswith(".ko")}
    assert {"vmw_pvscsi", "mptspi", "mptsas", "ext4", "sd_mod"} <= modules, sorted(modules)
    assert not [m for m in modules if m.startswith("virtio")], sorted(modules)
    assert not set(VIRTIO_MODULES) & modules
    assert any(n.endswith("scripts/local") for n in names), "not an initramfs-tools image"


def test_images_are_cached_and_not_rebuilt(guest_images):
    manifest = guest_images.directory / "manifest.json"
    before = manifest.stat().st_mtime_ns
    again = images()
    assert again.directory == guest_images.directory
    assert manifest.stat().st_mtime_ns == before
    assert guest_images.manifest["build_seconds"] > 0


def test_the_disks_are_sparse_and_bootable_the_data_disk_not(guest_images, tmp_path):
    for disk in (guest_images.bios, guest_images.efi):
        assert hypervisor.is_bootable(disk)
        assert disk.stat().st_blocks * 512 < 1024**3, f"{disk} allocates a GiB or more"
    assert not hypervisor.is_bootable(guest_images.data)
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\0" * 4096)
    assert not hypervisor.is_bootable(blank)


def test_the_lab_key_stays_out_of_the_repository(guest_images):
    assert guest_images.key.exists()
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(guest_images.key)],
                             cwd=hypervisor.Path(__file__).parent, capture_output=True)
    assert tracked.returncode != 0


def test_the_efi_variant_has_debians_esp_layout(guest_images):
    """GRUB where Debian's grub-install puts it, with its grub.cfg stub (what virt-v2v looks for on a UEFI guest),
    and the removable-media fallback OVMF boots without an NVRAM entry."""
    esp = f"{guest_images.efi}@@1M"  # the ESP is the first partition, at 1 MiB
    listing = subprocess.run(["mdir", "-b", "-i", esp, "::/EFI/debian", "::/EFI/BOOT"], capture_output=True,
                             text=True, check=True).stdout
    assert {"::/EFI/debian/grub.cfg", "::/EFI/debian/grubx64.efi", "::/EFI/BOOT/BOOTX64.EFI"} <= set(listing.split())
    stub = subprocess.run(["mtype", "-i", esp, "::/EFI/debian/grub.cfg"], capture_output=True, text=True,
                          check=True).stdout
    assert f"search.fs_uuid {guest_images.manifest['efi']['root_uuid']} root" in stub
    assert "configfile $prefix/grub.cfg" in stub
