"""What the lab guest is made of: a Debian guest as it comes off VMware, and its data disk's files.

Everything that changes the built image lives here or in the modules its hash covers
(`RECIPE_SOURCES`), so editing the recipe rebuilds the cache and nothing else does.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
HOSTNAME = "lab-guest"

# minbase has no init, no kernel, no boot loader: the rest a VMware-built server would have.
PACKAGES = (
    "linux-image-amd64", "initramfs-tools", "zstd", "systemd-sysv", "udev", "kmod",
    "e2fsprogs", "iproute2", "openssh-server", "open-vm-tools",
    "grub2-common", "grub-pc-bin", "grub-efi-amd64-bin",
)

# A host-only style initramfs, as an installer running on vSphere leaves it: the storage drivers of
# the controllers vSphere offers (PVSCSI, LSI Logic parallel and SAS, SATA/AHCI, IDE/PIIX), the disk
# and file system layers above them, and nothing for virtio. `MODULES=list` keeps initramfs-tools
# from adding every storage driver it knows ("most"), which is what makes virtio disks unbootable.
INITRAMFS_MODULES = (
    "vmw_pvscsi", "mptspi", "mptsas", "ahci", "ata_piix", "sd_mod", "sr_mod",
    "ext4", "crc32c_generic",
)
# What the unconverted guest must not carry: the proof that it is "as built on VMware".
VIRTIO_MODULES = ("virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net")

# The name udev gives the first vmxnet3 NIC on vSphere (behind its PCIe root port, slot 192).
NIC_NAME = "ens192"

KERNEL_CMDLINE = "ro console=tty0 console=ttyS0,115200n8"

# Modules a server guest never loads; pruned so the image stays small (initramfs is built before).
PRUNED_MODULE_DIRS = (
    "kernel/sound", "kernel/drivers/gpu", "kernel/drivers/media", "kernel/drivers/net/wireless",
    "kernel/drivers/infiniband", "kernel/drivers/bluetooth", "kernel/net/wireless",
    "kernel/net/mac80211", "kernel/drivers/staging", "kernel/drivers/iio", "kernel/drivers/isdn",
    "kernel/drivers/net/ethernet/mellanox", "kernel/drivers/net/ethernet/intel/ice",
    "kernel/drivers/net/ethernet/chelsio", "kernel/drivers/net/ethernet/qlogic",
    "kernel/drivers/net/ethernet/broadcom/bnx2x", "kernel/drivers/scsi/lpfc",
    "kernel/drivers/scsi/qla2xxx", "kernel/drivers/usb/gadget", "kernel/drivers/hwmon",
    "kernel/drivers/input/touchscreen", "kernel/drivers/net/can", "kernel/fs/ocfs2",
    "kernel/fs/xfs", "kernel/fs/btrfs", "kernel/fs/ceph",
)
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*", "path-exclude=/usr/share/i18n/*",
)

DISK_BYTES = 2 * 1024**3  # the lab template's size: the image fills a root volume exactly
ESP_MIB = 34  # large enough for FAT32 is not needed; FAT16 holds one boot loader
DATA_DISK_BYTES = 256 * 1024**2
DATA_LABEL = "labdata"


def data_files() -> dict[str, bytes]:
    """The data disk's files: text, a few MiB of (seeded) random bytes, a nested path."""
    rng = random.Random(16)
    return {
        "hello.txt": b"bootable on arrival\n",
        "random-4m.bin": rng.randbytes(4 * 1024**2),
        "nested/dir/sparse-tail.bin": b"\0" * 65536 + rng.randbytes(4096),
    }


def checksums(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(body).hexdigest() for name, body in sorted(files.items())}


def overlay(public_key: str) -> dict[str, tuple[str, int]]:
    """Files laid into the root before any package: path -> (text, mode)."""
    modules = "".join(f"{m}\n" for m in INITRAMFS_MODULES)
    return {
        "etc/initramfs-tools/conf.d/vmware-hostonly.conf": ("MODULES=list\n", 0o644),
        "usr/share/initramfs-tools/modules.d/vmware-storage": (modules, 0o644),
        "etc/hostname": (f"{HOSTNAME}\n", 0o644),
        "etc/hosts": (f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n", 0o644),
        f"etc/systemd/network/10-{NIC_NAME}.network": (
            f"# Written on vSphere: the vmxnet3 NIC by its name there.\n"
            f"[Match]\nName={NIC_NAME}\n\n[Network]\nDHCP=ipv4\n", 0o644),
        "etc/default/grub": (
            "GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR=Debian\n"
            f'GRUB_CMDLINE_LINUX="{KERNEL_CMDLINE.removeprefix("ro ")}"\n'
            'GRUB_TERMINAL="serial console"\n'
            'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n', 0o644),
        "root/.ssh/authorized_keys": (public_key.strip() + "\n", 0o600),
    }


def grub_cfg(root_uuid: str, kernel: str, initrd: str) -> str:
    return (
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial console\nterminal_output serial console\n"
        "set timeout=0\nset default=0\n"
        "menuentry 'Debian GNU/Linux (lab guest)' {\n"
        f"  search --no-floppy --fs-uuid --set=root {root_uuid}\n"
        f"  linux /boot/{kernel} root=UUID={root_uuid} {KERNEL_CMDLINE}\n"
        f"  initrd /boot/{initrd}\n"
        "}\n"
    )


def fstab(root_uuid: str, esp_uuid: str | None) -> str:
    lines = [f"UUID={root_uuid}\t/\text4\terrors=remount-ro\t0\t1"]
    if esp_uuid:
        lines.append(f"UUID={esp_uuid}\t/boot/efi\tvfat\tumask=0077,nofail\t0\t1")
    return "\n".join(lines) + "\n"


RECIPE_SOURCES = ("recipe.py", "build.py", "bootloader.py")


def recipe_hash(public_key: str) -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256(public_key.strip().encode())
    for name in RECIPE_SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]
