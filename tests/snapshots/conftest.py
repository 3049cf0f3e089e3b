"""The emulator's web-01 VM with a data disk, both holding known bytes, and the API clients by role."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.settings import cloudstack as cs
from tests.lab.guest.conftest import guest_images  # noqa: F401 -- the lab guest's images, for the boot test

MARK = 4096  # the marker's offset in each disk


@dataclass
class LabVm:
    vm: dict
    root: dict
    data: dict
    state_dir: Path

    def disk(self, volume_id: str) -> Path:
        return self.state_dir / "volumes" / f"{volume_id}.img"

    def write(self, volume_id: str, text: str) -> None:
        with open(self.disk(volume_id), "r+b") as handle:
            handle.seek(MARK)
            handle.write(text.encode().ljust(32, b"\0"))

    def read(self, volume_id: str) -> str:
        with open(self.disk(volume_id), "rb") as handle:
            handle.seek(MARK)
            return handle.read(32).rstrip(b"\0").decode()


@pytest.fixture
def cloud(cs_config, cs_lab, settings):
    """The product's client on the emulator; tasks run in the test's process."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return cs.CloudStackClient(cs_lab.url, cs_lab.api_key, cs_lab.secret_key, poll_interval=0.05, job_timeout=30)


@pytest.fixture
def web(cloud, cs_lab) -> LabVm:
    """web-01 (running) with its ROOT and a 1 GB data disk, each marked 'before'."""
    vm = next(v for v in cloud.list_virtual_machines() if v["name"] == "web-01")
    data = cloud.create_volume(name="web-01-data", zone_id=vm["zoneid"],
                               disk_offering_id=cloud.custom_disk_offering()["id"], size_gb=1)
    cloud.attach_volume(data["id"], vm["id"])
    root = next(v for v in cloud.list_volumes(vm_id=vm["id"]) if v["deviceid"] == 0)
    lab = LabVm(vm, root, cloud.get_volume(data["id"]), cs_lab.state_dir)
    lab.write(root["id"], "root-before")
    lab.write(data["id"], "data-before")
    return lab

