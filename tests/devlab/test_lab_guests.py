"""`make run`'s lab has the bootable guest (issue 16): on by default where the machine has the tools, the image built
in the background while the console already answers, then put on two vCenter VMs (BIOS and UEFI) that discovery,
replication and a failover treat as any other; the emulator runs started guests as QEMU. A failover of that guest
is the e2e's (tests/e2e/test_guest_failover_e2e.py)."""
from __future__ import annotations

import hashlib

import pytest

from apps.devlab import lab as devlab
from apps.devlab.lab import GUEST_VMS, Lab
from lab.vcsim import find_vm, flat_file_path
from tests.lab.guest.conftest import guest_images  # noqa: F401 (the fixture: built once, cached under var/)

MiB = 1024 ** 2


def _head(path, size: int = 4 * MiB) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(size)).hexdigest()


def test_guests_are_on_by_default_where_the_tools_are_and_off_when_asked(monkeypatch):
    monkeypatch.delenv("LAB_RUN_GUESTS", raising=False)
    monkeypatch.setattr(devlab, "guests_missing", list)
    assert devlab.guests_wanted() is True
    monkeypatch.setattr(devlab, "guests_missing", lambda: ["mmdebstrap"])
    assert devlab.guests_wanted() is False  # a machine without the tools still runs the console
    monkeypatch.setenv("LAB_RUN_GUESTS", "0")
    monkeypatch.setattr(devlab, "guests_missing", list)
    assert devlab.guests_wanted() is False
    monkeypatch.setenv("LAB_RUN_GUESTS", "1")
    assert devlab.guests_wanted() is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.guest
@pytest.mark.timeout(1800)
def test_make_run_lab_puts_the_bootable_guest_on_vcenter(tmp_path, guest_images, monkeypatch):  # noqa: F811
    monkeypatch.delenv("LAB_RUN_GUESTS", raising=False)
    said: list[str] = []

    class Out:
        def write(self, text):
            said.append(text)

    lab = Lab(tmp_path / "lab", stdout=Out())
    assert lab.guests, f"the guests are off on a machine with the tools: missing {devlab.guests_missing()}"
    try:
        env = lab.start()
        assert "MP_AGENT_API_URL" in env and env["MP_LIBGUESTFS_BACKEND_SETTINGS"] == "force_tcg"
        assert lab.cloudstack.options["run_guests"] is True  # started VMs with a bootable root run as QEMU
        assert any("prepared in the background" in line for line in said), said
        assert lab.wait_for_guests(timeout=1500), "the guest VMs were not placed in time"
        assert any("hold the lab guest" in line for line in said), said
        for name, firmware in GUEST_VMS.items():
            vm = find_vm(lab.si, name)
            assert vm is not None, f"{name} is not on vCenter: {said}"
            assert vm.config.firmware == firmware and vm.config.changeTrackingEnabled
            image = guest_images.efi if firmware == "efi" else guest_images.bios
            # The vCenter VM's disks hold the guest and its data file system, as replication will read them.
            assert _head(flat_file_path(lab.sim, vm, 0)) == _head(image)
            assert _head(flat_file_path(lab.sim, vm, 1)) == _head(guest_images.data)
    finally:
        lab.stop()
