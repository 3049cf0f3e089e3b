"""A real guest through the whole stack: the lab guest (as built on VMware) on a vcsim VM's disks -> agent discovery
and replication -> a test failover that converts it with virt-v2v-in-place and verifies its boot -> the test ended
(the replica is the unconverted guest again) -> an incremental sync of a change -> a live failover of the synced
replica, converted again, that boots with the source's MAC and shows the change. The UEFI variant goes through a test
failover too: converted, it boots with OVMF.

Slow (three conversions and three boots under TCG) and marked `guest`; docs/lab-guest.md.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from apps.failover.models import FailoverJob, NetworkMapping
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob, ReplicaVolume
from apps.settings import cloudstack as cs
from lab.guest.reach import run, ssh
from tests.e2e.conftest import wait_for
from tests.e2e.test_replication_e2e import assert_identical
from tests.lab.guest.conftest import guest_images  # noqa: F401 (the fixture: built once, cached under var/)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow, pytest.mark.guest,
              pytest.mark.timeout(2400)]

FAILOVER_TIMEOUT = 1200  # a conversion (about 3 min under TCG here) and a boot (1-2 min), on a busy machine
CHANGE = b"written on the source after the test failover\n"


@pytest.fixture
def cs_lab(tmp_path, settings, guest_images):  # noqa: F811 (the fixture imported above)
    """The emulator with its hypervisor on: a started VM whose root is bootable runs as QEMU."""
    from apps.settings.cloudstack import local_macs
    from lab.cloudstack import launch

    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True
    with launch(tmp_path / "cloudstack", job_delay=0.05, run_guests=True,
                oma_vm_macs=",".join(sorted(local_macs()))) as lab:
        yield lab


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    # KVM hangs on these machines (docs/lab-guest.md): libguestfs's appliance runs under TCG.
    return {"MP_FAILOVER_CONVERT": "1", "MP_FAILOVER_BOOT_CHECK_TIMEOUT": "600",
            "MP_LIBGUESTFS_BACKEND_SETTINGS": "force_tcg", "MP_FAILOVER_CONVERT_TIMEOUT": "1500"}


def _wait(stack, model, job_id, done, timeout=FAILOVER_TIMEOUT):
    logs = [stack.tmp / "worker.log", stack.tmp / "agent.log"]

    def finished():
        job = model.objects.get(job_id=job_id)
        return job if done(job) else None

    return wait_for(finished, timeout, f"job {job_id}", logs)


def _sync(stack, client, kind: str, vm_name: str = "lab-guest") -> ReplicationJob:
    started = client.post("/api/v1/replications", {"vm_name": vm_name, "replication_type": kind}, format="json")
    assert started.status_code == 202, started.json()
    job = _wait(stack, ReplicationJob, started.json()["job_id"], lambda j: j.status in ("completed", "failed"), 600)
    assert job.status == "completed", job.error_message
    return job


def _failover(stack, client, kind: str, body: dict) -> FailoverJob:
    response = client.post(f"/api/v1/failover/{kind}", body, format="json")
    assert response.status_code == 200, response.json()
    job = _wait(stack, FailoverJob, response.json()["job_id"], lambda j: j.status in ("completed", "failed"))
    assert job.status == "completed", f"{job.error_message}\n{job.conversion.get('log', '')[-3000:]}"
    return job


def _end_test(stack, client, job: FailoverJob) -> None:
    ended = client.delete(f"/api/v1/failover/test/{job.job_id}")
    assert ended.status_code in (200, 202), ended.json()
    _wait(stack, FailoverJob, job.job_id, lambda j: j.ended_at is not None and not j.occupies_vm, 300)


def _assert_converted_and_booted(stack, client, job: FailoverJob) -> dict:
    conversion, boot = job.conversion, job.boot_verification
    assert conversion["status"] == "converted" and conversion["seconds"] > 0, conversion
    assert "Converting" in conversion["log"] and conversion["backend_settings"] == "force_tcg"
    assert boot["booted"] is True and boot["greeting"].startswith("SSH-2.0-"), boot
    answer = client.get(f"/api/v1/failover/{job.job_id}/status").json()
    assert answer["conversion"]["status"] == "converted" and answer["boot_verification"]["booted"] is True
    steps = [e["step"] for e in answer["events"]]
    assert "convert" in steps and "verify_boot" in steps
    guest = stack.cs.guest(job.destination_vm_id)
    assert guest["running"] and any("virtio-blk-pci" in arg for arg in guest["command"])
    return guest


def _read_data_disk(client, manifest: dict, names: list[str]) -> dict[str, str]:
    run(client, f"mount -o ro UUID={manifest['data']['fs_uuid']} /mnt")
    sums = run(client, "cd /mnt && sha256sum " + " ".join(names))
    return dict(reversed(line.split()) for line in sums.splitlines())


def test_guest_converted_at_test_and_live_failover_boots_and_keeps_its_data(stack, operator_client, guest_images,  # noqa: F811
                                                                             tmp_path):
    from lab.guest.vsphere import guest_vm
    from lab.vcsim import flat_file_path

    vm = guest_vm(stack.sim, stack.si, "lab-guest", guest_images)
    flats = [flat_file_path(stack.sim, vm, i) for i in range(2)]
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["lab-guest"]},
                                format="json").status_code == 201
    context = VMContext.objects.get(vm_name="lab-guest")
    source_mac = context.nics.get().mac_address.lower()
    _sync(stack, operator_client, "initial")

    client = cs.CloudStackClient(stack.cs.url, stack.cs.api_key, stack.cs.secret_key, poll_interval=0.05)
    networks = {n["name"]: n for n in client.list_networks()}
    for name, is_test in (("shared-net", False), ("test-failover-net", True)):
        NetworkMapping.objects.create(vm_context=context, source_network_name="VM Network", is_test_network=is_test,
                                      destination_network_id=networks[name]["id"], destination_network_name=name)

    # Test failover: converted on top of the snapshots, booted on virtio, answering on SSH with its data intact.
    test_job = _failover(stack, operator_client, "test", {"vm_id": context.vm_id, "test_duration": "1h"})
    _assert_converted_and_booted(stack, operator_client, test_job)
    manifest = guest_images.manifest
    nic = manifest["nic_name"]
    assert [(link["name"], link["match"]) for link in test_job.conversion["nic_names"]["links"]] == [
        (nic, "Driver=virtio_net")]  # a test VM gets a new MAC: its one NIC is pinned by its driver
    with ssh(stack.cs, test_job.destination_vm_id, guest_images.key) as guest:
        # The NIC kept its VMware name: on KVM's PCI address udev would have named it by its path (enp1s0).
        assert run(guest, f"basename $(readlink /sys/class/net/{nic}/device/driver)").strip() == "virtio_net"
        assert "ID_NET_NAME_PATH=enp1s0" in run(guest, f"udevadm info /sys/class/net/{nic}")
        assert "virtio_blk" in run(guest, "lsmod")
        assert run(guest, "findmnt -n -o SOURCE /").startswith("/dev/vda")  # root on the virtio disk
        assert run(guest, "dpkg-query -W -f='${Status}' open-vm-tools 2>/dev/null || echo absent").strip() != \
            "install ok installed"  # VMware tools removed
        assert _read_data_disk(guest, manifest, list(manifest["data"]["sha256"])) == manifest["data"]["sha256"]

    # Ending the test reverts the replicas: the unconverted guest, byte for byte the source's disks again.
    _end_test(stack, operator_client, test_job)
    replicas = {r.disk_id: Path(os.path.realpath(r.device_path)) for r in ReplicaVolume.objects.all()}
    disks = list(context.disks.order_by("unit_number"))
    for flat, disk in zip(flats, disks, strict=True):
        assert_identical(flat, replicas[disk.disk_id])

    # A change on the source (a new file on its data disk); the incremental sync copies only that.
    change = tmp_path / "change.txt"
    change.write_bytes(CHANGE)
    subprocess.run(["debugfs", "-w", "-R", f"write {change} incremental.txt", str(flats[1])], check=True,
                   capture_output=True)
    incremental = _sync(stack, operator_client, "incremental")
    assert 0 < incremental.bytes_transferred < 4 * 1024 * 1024, incremental.bytes_transferred

    # Live failover of the synced replica: converted again (the test's conversion was reverted above), boots with the
    # source's MAC, and the guest reads the change. (A second test failover here would prove nothing more: the replica
    # is the source's bytes again, and each conversion and boot costs minutes under TCG.)
    live_job = _failover(stack, operator_client, "live", {"vm_id": context.vm_id, "power_off_source": True,
                                                          "final_sync": False})
    _assert_converted_and_booted(stack, operator_client, live_job)
    [live_vm] = client.list_all("listVirtualMachines", id=live_job.destination_vm_id)
    assert live_vm["nic"][0]["macaddress"] == source_mac
    assert [link["match"] for link in live_job.conversion["nic_names"]["links"]] == [f"MACAddress={source_mac}"]
    with ssh(stack.cs, live_job.destination_vm_id, guest_images.key) as guest:
        assert source_mac in run(guest, f"ip -br link show {manifest['nic_name']}").lower()
        run(guest, f"mount -o ro UUID={manifest['data']['fs_uuid']} /mnt")
        assert run(guest, "cat /mnt/incremental.txt").encode() == CHANGE

    readiness = operator_client.get(f"/api/v1/failover/{context.vm_id}/readiness?failover_type=test").json()
    check = next(c for c in readiness["validation_result"]["checks"] if c["check_name"] == "Guest Conversion")
    assert check["details"]["history"][0]["booted"] is True


def test_efi_guest_converted_at_test_failover_boots_with_ovmf(stack, operator_client, guest_images):  # noqa: F811
    """The UEFI variant (an EFI system partition, GRUB for EFI) through the platform: discovered with its firmware,
    replicated, created in CloudStack with boottype UEFI, converted on its snapshots, booted by OVMF on virtio."""
    from lab.guest.vsphere import guest_vm

    guest_vm(stack.sim, stack.si, "lab-guest-efi", guest_images, firmware="efi", data_disk=False)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["lab-guest-efi"]},
                                format="json").status_code == 201
    context = VMContext.objects.get(vm_name="lab-guest-efi")
    assert context.firmware == "efi"
    _sync(stack, operator_client, "initial", vm_name="lab-guest-efi")
    client = cs.CloudStackClient(stack.cs.url, stack.cs.api_key, stack.cs.secret_key, poll_interval=0.05)
    test_net = next(n for n in client.list_networks() if n["name"] == "test-failover-net")
    NetworkMapping.objects.create(vm_context=context, source_network_name="VM Network", is_test_network=True,
                                  destination_network_id=test_net["id"], destination_network_name=test_net["name"])

    job = _failover(stack, operator_client, "test", {"vm_id": context.vm_id, "test_duration": "1h"})
    guest = _assert_converted_and_booted(stack, operator_client, job)
    assert any("OVMF" in arg for arg in guest["command"]), guest["command"]  # UEFI firmware, as CloudStack's KVM
    [created] = client.list_all("listVirtualMachines", id=job.destination_vm_id)
    assert created["boottype"] == "UEFI", created
    with ssh(stack.cs, job.destination_vm_id, guest_images.key) as shell:
        assert run(shell, "test -d /sys/firmware/efi && echo uefi").strip() == "uefi"
        assert run(shell, "findmnt -n -o SOURCE /").startswith("/dev/vda")
        assert "virtio_blk" in run(shell, "lsmod")
    _end_test(stack, operator_client, job)
