"""The lab guest: a small Debian image as it comes off VMware, built once and cached under var/.

    from lab.guest import images
    guest = images()          # builds on first use (minutes), then answers from the cache
    guest.bios, guest.efi, guest.data, guest.key

`python -m lab.guest build` does the same from a shell; docs/lab-guest.md tells what is inside.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from lab.guest.build import MANIFEST, BuildError, build, ensure_key, missing_tools

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["BuildError", "GuestImages", "cache_root", "images", "missing_tools"]


def cache_root() -> Path:
    return Path(os.environ.get("LAB_GUEST_DIR") or REPO_ROOT / "var" / "lab-guest")


@dataclass(frozen=True)
class GuestImages:
    directory: Path
    key: Path
    manifest: dict

    def _file(self, name: str) -> Path:
        return self.directory / name

    @property
    def bios(self) -> Path:
        return self._file(self.manifest["bios"]["path"])

    @property
    def efi(self) -> Path:
        return self._file(self.manifest["efi"]["path"])

    @property
    def data(self) -> Path:
        return self._file(self.manifest["data"]["path"])

    @property
    def kernel(self) -> Path:
        return self._file("vmlinuz")

    @property
    def initrd(self) -> Path:
        return self._file("initrd.img")

    @property
    def data_checksums(self) -> dict[str, str]:
        return self.manifest["data"]["sha256"]


def images(root: Path | None = None, *, force: bool = False) -> GuestImages:
    root = (root or cache_root()).resolve()
    directory = build(root, force=force)
    key, _ = ensure_key(root)
    return GuestImages(directory, key, json.loads((directory / MANIFEST).read_text()))
