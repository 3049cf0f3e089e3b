"""Play the guest: change a simulated disk by writing its ``-flat.vmdk`` directly.

vcsim has no guest OS and no delta disks, so a disk's content is whatever its flat file holds.
These helpers never change the file's size: the flat file's size is the disk's capacity.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import random
from pathlib import Path

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


def _check_range(fd: int, offset: int, length: int) -> None:
    size = os.fstat(fd).st_size
    if offset < 0 or length < 0 or offset + length > size:
        raise ValueError(f"range {offset}+{length} is outside the disk (capacity {size} bytes)")


def write_random(path: str | os.PathLike[str], offset: int, length: int, seed: int) -> bytes:
    """Write ``length`` pseudo-random bytes (reproducible from ``seed``) at ``offset``; returns them."""
    data = random.Random(seed).randbytes(length)
    fd = os.open(path, os.O_WRONLY)
    try:
        _check_range(fd, offset, length)
        view = memoryview(data)
        written = 0
        while written < length:
            written += os.pwrite(fd, view[written:], offset + written)
        os.fsync(fd)
    finally:
        os.close(fd)
    return data


def _libc_fallocate():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fn = libc.fallocate
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


def punch_zero(path: str | os.PathLike[str], offset: int, length: int) -> None:
    """Make ``[offset, offset+length)`` read as zeros, deallocating it where the file system can
    (a hole, as after a guest TRIM); otherwise zeros are written."""
    fd = os.open(path, os.O_WRONLY)
    try:
        _check_range(fd, offset, length)
        if length == 0:
            return
        try:
            rc = _libc_fallocate()(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length)
            err = ctypes.get_errno() if rc != 0 else 0
        except (OSError, AttributeError):
            rc, err = -1, errno.EOPNOTSUPP
        if rc != 0:
            if err not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise OSError(err, os.strerror(err), str(path))
            zeros = bytes(min(length, 1 << 20))
            done = 0
            while done < length:
                n = min(len(zeros), length - done)
                done += os.pwrite(fd, zeros[:n], offset + done)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_range(path: str | os.PathLike[str], offset: int, length: int) -> bytes:
    """Read bytes of a disk (holes read as zeros)."""
    with Path(path).open("rb") as f:
        f.seek(offset)
        return f.read(length)
