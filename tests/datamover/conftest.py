"""Fixtures for datamover tests: real nbdkit servers over real (sparse) image files."""

from __future__ import annotations

import hashlib
import os
import random
import shutil

import pytest

nbd = pytest.importorskip("nbd", reason="libnbd Python bindings missing (Debian package python3-libnbd)")

if shutil.which("nbdkit") is None:
    pytest.skip("nbdkit is not installed (Debian package nbdkit)", allow_module_level=True)

from datamover.nbdkit import NbdkitServer, file_server  # noqa: E402

KiB = 1024
MiB = 1024 * KiB


class Image:
    """A sparse disk image file and helpers to shape its content."""

    def __init__(self, path: str, size: int):
        self.path = path
        self.size = size
        with open(path, "wb") as fh:
            fh.truncate(size)

    def write(self, offset: int, data: bytes) -> None:
        with open(self.path, "r+b") as fh:
            fh.seek(offset)
            fh.write(data)

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read(self.size - offset if length is None else length)

    def punch(self, offset: int, length: int) -> None:
        """Turn a range back into a hole (what a guest TRIM does to a thin disk)."""
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.path, os.O_RDWR)
        try:
            # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
            if libc.fallocate(fd, 3, ctypes.c_long(offset), ctypes.c_long(length)) != 0:
                raise OSError(ctypes.get_errno(), "fallocate punch hole failed")
        finally:
            os.close(fd)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(4 * MiB), b""):
                digest.update(block)
        return digest.hexdigest()

    @property
    def allocated(self) -> int:
        return os.stat(self.path).st_blocks * 512


def random_bytes(rng: random.Random, n: int) -> bytes:
    data = rng.randbytes(n)
    # Never let a "data" block be all zeroes by chance.
    return data if any(data[:64]) else b"\x01" + data[1:]


@pytest.fixture
def rng():
    return random.Random(1234)


@pytest.fixture
def image(tmp_path):
    """``image(name, size)`` makes a sparse image file in the test's directory."""

    def make(name: str, size: int) -> Image:
        return Image(str(tmp_path / name), size)

    return make


@pytest.fixture
def vm_disk(image, rng):
    """A 48 MiB source shaped like a thin VM disk.

    Random data runs, an allocated run of zero bytes (thick-zeroed blocks), holes,
    and data that is not aligned to the request size.
    """
    disk = image("source.img", 48 * MiB)
    layout = [
        (0, random_bytes(rng, 1 * MiB)),  # boot area
        (3 * MiB, random_bytes(rng, 5 * MiB + 4096)),  # data ending off a request boundary
        (12 * MiB, bytes(3 * MiB)),  # allocated zeroes: must become a hole, not data
        (20 * MiB + 4096, random_bytes(rng, 700 * KiB)),  # 4 KiB-aligned, not request-aligned
        (30 * MiB, random_bytes(rng, 2 * MiB)),
        (48 * MiB - 64 * KiB, random_bytes(rng, 64 * KiB)),  # last block
    ]
    for offset, data in layout:
        disk.write(offset, data)
    disk.data_bytes = sum(len(data) for _, data in layout if any(data))
    return disk


@pytest.fixture
def serve():
    """``serve(path_or_image, readonly=..., filters=..., args=...)`` starts nbdkit file; stopped after the test."""
    servers: list[NbdkitServer] = []

    def start(target, *, readonly: bool = False, filters=(), args=(), **kwargs) -> NbdkitServer:
        path = target.path if isinstance(target, Image) else target
        server = file_server(path, readonly=readonly, filters=filters, args=args, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(params=["one-connection", "two-connections"])
def copy_mode(request, monkeypatch):
    """Run a test with one worker, and with two workers in threads on their own connections.

    Test disks are small, so the size below which a copy stays on one connection is
    lowered for the two-connection run.
    """
    if request.param == "one-connection":
        return {"connections": 1}
    import datamover.coordinator

    monkeypatch.setattr(datamover.coordinator, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(datamover.coordinator, "STRIPE", 4 * MiB)
    return {"connections": 2}
