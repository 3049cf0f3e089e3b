"""Sparse backing files and the virtio device links a KVM guest would see."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

FICLONE = 0x40049409  # linux/fs.h: share extents on btrfs/xfs, instant and space-free
_CHUNK = 64 * 1024 * 1024


def virtio_serial(volume_id: str) -> str:
    """The disk serial CloudStack's KVM agent gives a volume: its UUID without dashes, 20 chars."""
    return volume_id.replace("-", "")[:20]


def device_link(lab_root: Path, volume_id: str) -> Path:
    return lab_root / "dev" / "disk" / "by-id" / f"virtio-{virtio_serial(volume_id)}"


def create_sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab"):
        pass
    os.truncate(path, size)


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _data_extents(fd: int, size: int):
    """Yield (offset, length) of the allocated regions, so holes stay holes in the copy."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after offset
                return
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end - start
        offset = end


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    done = 0
    while done < length:
        want = min(_CHUNK, length - done)
        try:
            n = os.copy_file_range(src, dst, want, offset + done, offset + done)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            n = os.pwrite(dst, os.pread(src, want, offset + done), offset + done)
        if n == 0:
            raise OSError(errno.EIO, "short copy")
        done += n


def copy_sparse_into(src: Path, dst: Path) -> None:
    """Make dst's content equal src's, in place (dst keeps its inode, as a device would).

    Holes in src become holes in dst: dst is cut to zero length first, then only src's data
    extents are copied. A reflink is tried first where the file system shares extents.
    """
    size = src.stat().st_size
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fsrc, open(dst, "r+b" if dst.exists() else "w+b") as fdst:
        try:
            fcntl.ioctl(fdst.fileno(), FICLONE, fsrc.fileno())
            return
        except OSError:
            pass
        os.ftruncate(fdst.fileno(), 0)
        os.ftruncate(fdst.fileno(), size)
        for offset, length in _data_extents(fsrc.fileno(), size):
            _copy_range(fsrc.fileno(), fdst.fileno(), offset, length)
        os.fsync(fdst.fileno())


def allocated_bytes(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def virtual_bytes(path: Path) -> int | None:
    """The size the guest sees (qemu-img's "virtual size"): the sparse file's length; None without a file."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def link_device(lab_root: Path, volume_id: str, target: Path) -> Path:
    link = device_link(lab_root, volume_id)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(link.name + ".tmp")
    remove(tmp)
    tmp.symlink_to(target.resolve())
    os.replace(tmp, link)  # atomic: a watcher never sees a half-made link
    return link


def unlink_device(lab_root: Path, volume_id: str) -> None:
    remove(device_link(lab_root, volume_id))


def reconcile_devices(lab_root: Path, wanted: dict[str, Path]) -> None:
    """Make the by-id directory hold exactly the links for `wanted` (volume id -> backing file)."""
    by_id = lab_root / "dev" / "disk" / "by-id"
    keep = {device_link(lab_root, vid).name for vid in wanted}
    if by_id.is_dir():
        for entry in by_id.iterdir():
            if entry.name.startswith("virtio-") and entry.name not in keep:
                remove(entry)
    for vid, target in wanted.items():
        link = device_link(lab_root, vid)
        if not (link.is_symlink() and Path(os.readlink(link)) == target.resolve()):
            link_device(lab_root, vid, target)
