"""Build the lab guest's disk images into the cache, once per recipe.

Two stages, each cached under the cache root (`var/lab-guest/` by default):
- the root file system, a directory made by mmdebstrap (the slow part: packages are downloaded and
  unpacked), keyed by what goes into it;
- the disk images made from it (BIOS/MBR and UEFI/GPT variants, and the data disk), keyed by the
  recipe's source files, so a change to partitioning or the boot loader does not re-download.
No loop device or mount is used: file systems are made from directories with `mke2fs -d`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from lab.guest import bootloader, recipe

log = logging.getLogger("lab.guest")

MIB = 1024**2
MANIFEST = "manifest.json"
KEY_NAME = "lab_key"
TOOLS = ("mmdebstrap", "mke2fs", "sfdisk", "mkfs.vfat", "mcopy", "ssh-keygen")


class BuildError(RuntimeError):
    pass


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def ensure_key(cache_root: Path) -> tuple[Path, str]:
    """The lab's SSH key (private half stays under var/, never in the repository)."""
    key = cache_root / KEY_NAME
    if not key.exists():
        cache_root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-guest",
                        "-f", str(key)], check=True)
    return key, key.with_suffix(".pub").read_text().strip()


@contextmanager
def _locked(cache_root: Path):
    """One builder at a time (test workers, `make bench` and a developer may all ask at once)."""
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / "build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{args[0]} failed ({exc.returncode}):\n{(exc.stderr or '')[-3000:]}") from None


def _rootfs_key(public_key: str) -> str:
    what = {
        "suite": recipe.SUITE, "packages": recipe.PACKAGES, "modules": recipe.INITRAMFS_MODULES,
        "overlay": recipe.overlay(public_key), "excludes": recipe.DPKG_EXCLUDES,
        "pruned": recipe.PRUNED_MODULE_DIRS, "customize": _CUSTOMIZE,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


_CUSTOMIZE = """#!/bin/sh
set -eu
root="$1"
chroot "$root" systemctl enable systemd-networkd.service
kver=$(ls "$root/usr/lib/modules")
for dir in $PRUNED; do rm -rf "$root/usr/lib/modules/$kver/$dir"; done
chroot "$root" depmod -a "$kver"
mkdir -p "$root/boot/grub"
cp -a "$root/usr/lib/grub/i386-pc" "$root/usr/lib/grub/x86_64-efi" "$root/boot/grub/"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
"""


def build_rootfs(cache_root: Path, public_key: str) -> Path:
    target = cache_root / f"rootfs-{_rootfs_key(public_key)}"
    if (target / "etc/os-release").exists():
        return target
    with tempfile.TemporaryDirectory(dir=cache_root, prefix="rootfs-build-") as tmp:
        tmp = Path(tmp)
        overlay = tmp / "overlay"
        for rel, (text, mode) in recipe.overlay(public_key).items():
            path = overlay / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(mode)
        (overlay / "root").chmod(0o700)
        (overlay / "root/.ssh").chmod(0o700)
        customize = tmp / "customize.sh"
        customize.write_text(_CUSTOMIZE)
        customize.chmod(0o755)
        staging = tmp / "root"
        args = ["mmdebstrap", "--mode=root", "--variant=minbase", "--format=directory",
                "--aptopt=APT::Install-Recommends \"false\"",
                f"--include={','.join(recipe.PACKAGES)}",
                f"--setup-hook=cp -a {overlay}/. \"$1\"/",
                f"--customize-hook={customize}"]
        args += [f"--dpkgopt={opt}" for opt in recipe.DPKG_EXCLUDES]
        args += [recipe.SUITE, str(staging), recipe.MIRROR]
        env = dict(os.environ, PRUNED=" ".join(recipe.PRUNED_MODULE_DIRS))
        log.info("mmdebstrap %s into %s", recipe.SUITE, staging)
        _run(args, env=env)
        for old in cache_root.glob("rootfs-*"):
            if old.is_dir() and old != target and not old.name.startswith("rootfs-build-"):
                shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    return target


def _kernel(rootfs: Path) -> tuple[str, str]:
    kernels = sorted(p.name for p in (rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise BuildError(f"no kernel in {rootfs}/boot")
    version = kernels[-1].removeprefix("vmlinuz-")
    return f"vmlinuz-{version}", f"initrd.img-{version}"


def _ext4(path: Path, size: int, source: Path, fs_uuid: str, label: str) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-U", fs_uuid, "-L", label, "-d", str(source), str(path)])


def _place(part: Path, disk: Path, offset: int) -> None:
    """Copy a partition image into the disk at `offset`, holes kept as holes."""
    _run(["dd", f"if={part}", f"of={disk}", "bs=1M", f"seek={offset // MIB}",
          "conv=notrunc,sparse", "status=none"])
    part.unlink()


def _new_disk(path: Path, size: int, table: str) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    _run(["sfdisk", "--quiet", str(path)], input=table)


def _prepare_root(rootfs: Path, root_uuid: str, esp_uuid: str | None) -> None:
    kernel, initrd = _kernel(rootfs)
    (rootfs / "etc/fstab").write_text(recipe.fstab(root_uuid, esp_uuid))
    (rootfs / "boot/grub/grub.cfg").write_text(recipe.grub_cfg(root_uuid, kernel, initrd))
    (rootfs / "boot/efi").mkdir(exist_ok=True)


def build_bios(rootfs: Path, out: Path, work: Path) -> dict:
    root_uuid = str(uuid.uuid4())
    _prepare_root(rootfs, root_uuid, None)
    start = MIB
    part = work / "bios-root.ext4"
    _ext4(part, recipe.DISK_BYTES - start, rootfs, root_uuid, "root")
    _new_disk(out, recipe.DISK_BYTES, "label: dos\nstart=2048, type=83, bootable\n")
    _place(part, out, start)
    core = bootloader.mkimage(rootfs, "i386-pc", bootloader.BIOS_MODULES, root_uuid, work / "core.img")
    bootloader.install_bios(out, rootfs, core, start // bootloader.SECTOR)
    return {"path": out.name, "root_uuid": root_uuid, "boottype": "BIOS"}


def build_efi(rootfs: Path, out: Path, work: Path) -> dict:
    root_uuid = str(uuid.uuid4())
    esp_serial = uuid.uuid4().hex[:8].upper()
    esp_uuid = f"{esp_serial[:4]}-{esp_serial[4:]}"
    _prepare_root(rootfs, root_uuid, esp_uuid)
    esp_start, root_start = MIB, MIB + recipe.ESP_MIB * MIB
    root_size = recipe.DISK_BYTES - root_start - MIB  # the last MiB holds GPT's backup header
    _new_disk(out, recipe.DISK_BYTES,
              "label: gpt\n"
              f"start=2048, size={recipe.ESP_MIB * MIB // 512}, type=U, name=EFI\n"
              f"start={root_start // 512}, size={root_size // 512}, type=L, name=root\n")
    efi = bootloader.mkimage(rootfs, "x86_64-efi", bootloader.EFI_MODULES, root_uuid,
                             work / "BOOTX64.EFI")
    esp = work / "esp.vfat"
    bootloader.make_esp(esp, recipe.ESP_MIB, efi, esp_serial, root_uuid)
    _place(esp, out, esp_start)
    part = work / "efi-root.ext4"
    _ext4(part, root_size, rootfs, root_uuid, "root")
    _place(part, out, root_start)
    return {"path": out.name, "root_uuid": root_uuid, "esp_uuid": esp_uuid, "boottype": "UEFI"}


def build_data(out: Path, work: Path) -> dict:
    files = recipe.data_files()
    tree = work / "data"
    for name, body in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    fs_uuid = str(uuid.uuid4())
    _ext4(out, recipe.DATA_DISK_BYTES, tree, fs_uuid, recipe.DATA_LABEL)
    return {"path": out.name, "fs_uuid": fs_uuid, "label": recipe.DATA_LABEL,
            "sha256": recipe.checksums(files)}


def build(cache_root: Path, *, force: bool = False) -> Path:
    """Make sure the images of the current recipe exist; returns their directory."""
    cache_root = cache_root.resolve()
    with _locked(cache_root):
        _, public_key = ensure_key(cache_root)
        out = cache_root / recipe.recipe_hash(public_key)
        if (out / MANIFEST).exists() and not force:
            return out
        missing = missing_tools()
        if missing:
            raise BuildError(f"missing tools to build the lab guest: {', '.join(missing)} "
                             "(.ci/system-deps.sh installs them)")
        started = time.monotonic()
        rootfs_started = time.monotonic()
        rootfs = build_rootfs(cache_root, public_key)
        rootfs_seconds = time.monotonic() - rootfs_started
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        with tempfile.TemporaryDirectory(dir=cache_root, prefix="images-") as work:
            work = Path(work)
            kernel, initrd = _kernel(rootfs)
            manifest = {
                "recipe": out.name, "suite": recipe.SUITE, "kernel": kernel.removeprefix("vmlinuz-"),
                "bios": build_bios(rootfs, out / "bios.img", work),
                "efi": build_efi(rootfs, out / "efi.img", work),
                "data": build_data(out / "data.img", work),
                "nic_name": recipe.NIC_NAME, "initramfs_modules": list(recipe.INITRAMFS_MODULES),
            }
        # Kept beside the images: the initramfs for listing, the kernel for the accelerator probe.
        shutil.copy2(rootfs / "boot" / kernel, out / "vmlinuz")
        shutil.copy2(rootfs / "boot" / initrd, out / "initrd.img")
        manifest["build_seconds"] = round(time.monotonic() - started, 1)
        manifest["rootfs_seconds"] = round(rootfs_seconds, 1)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
        for old in cache_root.iterdir():
            if old.is_dir() and old != out and len(old.name) == 16 and (old / MANIFEST).exists():
                shutil.rmtree(old, ignore_errors=True)
        return out
