"""GRUB on a disk image file, without loop devices or mounts.

grub-install wants a block device and a mounted /boot; an image file has neither. What it does for
BIOS is small and documented in GRUB's boot.S/diskboot.S: boot.img's code in the MBR (the
partition table kept), core.img in the gap before the first partition, and diskboot's block list
told how many sectors follow it. For UEFI it is one EFI binary at the removable-media path of a FAT
ESP, which OVMF boots with no NVRAM entry. Both core images carry an early config that finds the
root file system by UUID, so the normal GRUB menu (/boot/grub/grub.cfg) is read from there.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

SECTOR = 512
BIOS_MODULES = ("biosdisk", "part_msdos", "ext2", "search", "search_fs_uuid", "normal", "linux",
                "configfile", "echo", "serial", "terminal", "test", "gzio")
EFI_MODULES = ("part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_uuid", "normal", "linux",
               "configfile", "echo", "serial", "terminal", "test", "gzio", "efi_gop")
# diskboot.S: the last 12 bytes of core.img's first sector are its block list
# (start: u64, len: u16, segment: u16); start defaults to sector 2, len must be filled in.
_BLOCKLIST_LEN = SECTOR - 4
# boot.S keeps the partition table and signature at 0x1b8..0x200: only the code is ours.
_MBR_CODE = 0x1B8


def _early_config(workdir: Path, root_uuid: str) -> Path:
    path = workdir / "early.cfg"
    path.write_text(f"search --no-floppy --fs-uuid --set=root {root_uuid}\n"
                    "set prefix=($root)/boot/grub\n")
    return path


def mkimage(rootfs: Path, fmt: str, modules: tuple[str, ...], root_uuid: str, out: Path) -> Path:
    """grub-mkimage from the guest's own GRUB, so the host needs none installed."""
    work = rootfs / "tmp"
    early = _early_config(work, root_uuid)
    platform = "i386-pc" if fmt == "i386-pc" else "x86_64-efi"
    inside = Path("/tmp") / out.name
    subprocess.run(["chroot", str(rootfs), "grub-mkimage", "-O", fmt, "-d",
                    f"/usr/lib/grub/{platform}", "-p", "/boot/grub", "-c", f"/tmp/{early.name}",
                    "-o", str(inside), *modules], check=True, capture_output=True)
    (rootfs / inside.relative_to("/")).replace(out)
    early.unlink()
    return out


def install_bios(disk: Path, rootfs: Path, core: Path, first_partition_sector: int) -> None:
    boot = (rootfs / "usr/lib/grub/i386-pc/boot.img").read_bytes()
    image = bytearray(core.read_bytes())
    sectors = -(-len(image) // SECTOR)
    if 1 + sectors > first_partition_sector:
        raise RuntimeError(f"core.img ({sectors} sectors) does not fit before the first partition")
    struct.pack_into("<H", image, _BLOCKLIST_LEN, sectors - 1)
    with open(disk, "r+b") as fh:
        fh.seek(0)
        fh.write(boot[:_MBR_CODE])  # kernel_sector in boot.img already says 1: core.img follows
        fh.seek(SECTOR)
        fh.write(image)


def make_esp(path: Path, size_mib: int, efi_binary: Path, volume_id: str, root_uuid: str) -> None:
    """The ESP as a Debian install leaves it: GRUB at EFI/debian with the small grub.cfg that grub-install writes
    beside it (find the root file system, read /boot/grub/grub.cfg there), and the same binary at the removable-media
    path OVMF boots without an NVRAM entry. The stub matters to converters: virt-v2v looks for the UEFI guest's
    grub.cfg under /boot/efi/EFI and says "no bootloader detected" without one."""
    path.unlink(missing_ok=True)
    subprocess.run(["mkfs.vfat", "-C", "-i", volume_id, "-n", "EFI", str(path), str(size_mib * 1024)],
                   check=True, capture_output=True)
    for directory in ("::/EFI", "::/EFI/BOOT", "::/EFI/debian"):
        subprocess.run(["mmd", "-i", str(path), directory], check=True, capture_output=True)
    stub = efi_binary.with_name("grub.cfg")
    stub.write_text(f"search.fs_uuid {root_uuid} root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n")
    for source, target in ((efi_binary, "::/EFI/BOOT/BOOTX64.EFI"), (efi_binary, "::/EFI/debian/grubx64.efi"),
                           (stub, "::/EFI/debian/grub.cfg")):
        subprocess.run(["mcopy", "-i", str(path), str(source), target], check=True, capture_output=True)
