"""A VM restored from its volume snapshots boots: the lab guest (docs/lab-guest.md) on the emulator's QEMU
hypervisor, snapshotted, restored as a new VM through the API, and reached over SSH with its data disk's files intact.
"""
from __future__ import annotations

import pytest

from apps.settings.models import OsseaConfig
from lab.cloudstack import launch
from lab.guest.reach import copy_onto_volumes, run, ssh
from tests.lab.cloudstack.helpers import World, make_api

pytestmark = [pytest.mark.integration, pytest.mark.guest, pytest.mark.slow]


@pytest.fixture
def guest_cloud(tmp_path, settings, guest_images, db):
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True
    settings.MP_CLOUDSTACK_JOB_TIMEOUT = 120
    settings.MP_CLOUDSTACK_POLL_INTERVAL = 0.1
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with launch(tmp_path / "cloudstack", job_delay=0.05, run_guests=True) as lab:
        settings.MP_DEVICE_ROOT = str(lab.dev_root)
        OsseaConfig.objects.create(name="lab", api_url=lab.url, api_key=lab.api_key, secret_key=lab.secret_key,
                                   zone="OSSEA-Zone")
        yield lab


def test_a_restored_vm_boots_with_the_snapshots_data(operator_client, guest_cloud, guest_images,
                                                      django_capture_on_commit_callbacks):
    api = make_api(guest_cloud, job_timeout=120)
    world = World(api, guest_cloud)
    vm = api.deployVirtualMachine(
        name="as-on-vsphere", zoneid=world.zone["id"], serviceofferingid=world.small_service["id"],
        templateid=world.template["id"], networkids=world.networks[1]["id"], startvm=False,
        diskofferingid=world.fixed_disk["id"], **{"details[0].rootDiskController": "pvscsi",
                                                  "details[1].nicAdapter": "vmxnet3"})["virtualmachine"]
    copy_onto_volumes(api, guest_cloud, vm["id"], guest_images.bios, guest_images.data)
    api.startVirtualMachine(id=vm["id"])  # puts its disks on primary storage (the guest need not finish booting)
    api.stopVirtualMachine(id=vm["id"], forced=True)
    disks = sorted(api.listVolumes(virtualmachineid=vm["id"])["volume"], key=lambda v: v["deviceid"])
    snaps = [api.createSnapshot(volumeid=d["id"])["snapshot"] for d in disks]

    planned = operator_client.post("/restore/plan", {"project_id": "admin", "vm_id": vm["id"],
                                                     "restore_point_id": snaps[0]["id"],
                                                     "new_vm_name": "restored-guest"}, format="json")
    assert planned.status_code == 201, planned.json()
    assert planned.json()["plan_json"]["details"] == {"rootDiskController": "pvscsi", "nicAdapter": "vmxnet3"}
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post("/restore/execute", {"plan_id": planned.json()["job_id"]}, format="json")
    job = operator_client.get(f"/restore/jobs/{planned.json()['job_id']}").json()
    assert job["status"] == "COMPLETED", job
    restored = job["result_vm_id"]
    assert guest_cloud.guest(restored)["running"]
    data = guest_images.manifest["data"]
    with ssh(guest_cloud, restored, guest_images.key) as client:
        assert "vmw_pvscsi" in run(client, "lsmod")
        run(client, f"mount -o ro UUID={data['fs_uuid']} /mnt")
        names = " ".join(data["sha256"])
        sums = dict(reversed(line.split()) for line in run(client, f"cd /mnt && sha256sum {names}").splitlines())
    assert sums == data["sha256"]
    assert {v["id"] for v in api.listVolumes(virtualmachineid=restored)["volume"]} == {
        m["volume_id"] for m in job["created_volume_ids"]}
