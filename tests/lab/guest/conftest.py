"""Lab guest tests: the image is built once (cached under var/lab-guest) and booted under QEMU.

They are slow (each boot is about a minute under TCG) and marked `guest`. They skip, saying why,
only where QEMU, OVMF or the image tools are not installed; `.ci/system-deps.sh` installs them.
"""

from __future__ import annotations

import shutil

import pytest

from lab.cloudstack import hypervisor, launch
from lab.guest import images, missing_tools
from tests.lab.cloudstack.helpers import World, make_api


def _missing() -> list[str]:
    missing = missing_tools()
    if shutil.which(hypervisor.QEMU) is None:
        missing.append(hypervisor.QEMU)
    if not hypervisor.OVMF_CODE.exists():
        missing.append(f"{hypervisor.OVMF_CODE} (ovmf)")
    return missing


@pytest.fixture(scope="session")
def guest_images():
    missing = _missing()
    if missing:
        pytest.skip(f"the lab guest needs {', '.join(missing)}: run .ci/system-deps.sh")
    return images()


@pytest.fixture
def guest_lab(tmp_path, guest_images):
    with launch(tmp_path / "cloudstack", job_delay=0.05, run_guests=True) as lab:
        yield lab


@pytest.fixture
def guest_api(guest_lab):
    return make_api(guest_lab, job_timeout=60)


@pytest.fixture
def guest_world(guest_api, guest_lab) -> World:
    return World(guest_api, guest_lab)
