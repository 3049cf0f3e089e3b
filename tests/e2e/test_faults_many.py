"""Issue 14 items 4 and 6 on the lab: 20 VMs started at once are provisioned by four worker processes together and
all complete, each on its own NBD port; the control plane's data-volume cap is handled: the sync that would pass it
is refused up front with a clear 409, and creates nothing."""
import os
from pathlib import Path

import pytest

from apps.replication.models import ReplicationJob, ReplicaVolume, VMExportMapping
from apps.settings import volumes
from tests.e2e.conftest import wait_for
from tests.e2e.faults import PreforkWorker, assert_no_unrecorded_nbdkit
from tests.e2e.test_replication_e2e import assert_identical

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

MiB = 1024 * 1024
COUNT = 20


@pytest.fixture
def cs_lab(tmp_path, settings):
    """The emulator with room for COUNT data volumes on the control plane's VM (the lab's default is 6)."""
    from apps.settings.cloudstack import local_macs
    from lab.cloudstack import launch

    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True
    settings.MP_OMA_MAX_DATA_VOLUMES = COUNT
    with launch(tmp_path / "cloudstack", job_delay=0.05, max_data_volumes=COUNT,
                oma_vm_macs=",".join(sorted(local_macs()))) as lab:
        yield lab


def test_twenty_vms_started_at_once_complete_on_distinct_ports_and_the_cap_refuses_the_next(stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    stack.worker.stop()
    stack.worker = PreforkWorker(stack.worker.env, stack.tmp / "worker-prefork.log").start()
    names = [f"many-{n:02d}" for n in range(COUNT)]
    flats = {}
    for n, name in enumerate(names):
        vm = create_vm(stack.si, name, disks_mb=(32,), networks=("VM Network",))
        flats[name] = flat_file_path(stack.sim, vm, 0)
        write_random(flats[name], n * 64 * 1024, 2 * MiB, seed=300 + n)
    create_vm(stack.si, "many-over", disks_mb=(32, 32), networks=("VM Network",))
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": [*names, "many-over"]},
                                format="json").status_code == 201

    jobs = {}
    for name in names:
        response = operator_client.post("/api/v1/replications", {"vm_name": name, "replication_type": "initial"},
                                        format="json")
        assert response.status_code == 202, response.json()
        jobs[name] = response.json()["job_id"]
    # Twenty replicas promised, the cap is twenty: the next VM's two disks do not fit, and it is told why.
    over = operator_client.post("/api/v1/replications", {"vm_name": "many-over", "replication_type": "initial"},
                                format="json")
    assert over.status_code == 409 and over.json()["error_code"] == "DATA_VOLUME_LIMIT", over.json()
    assert over.json()["details"] == {"needed": 2, "in_use": COUNT, "limit": COUNT}

    logs = sorted(stack.tmp.glob("*.log"))

    def all_done():
        rows = ReplicationJob.objects.filter(job_id__in=jobs.values())
        return all(r.status in ("completed", "failed", "cancelled") for r in rows)

    wait_for(all_done, 900, f"{COUNT} syncs to end", logs)
    ended = {j.vm_context.vm_name: j for j in ReplicationJob.objects.filter(job_id__in=jobs.values())}
    assert {name: (j.status, j.error_message) for name, j in ended.items() if j.status != "completed"} == {}
    ports = list(VMExportMapping.objects.filter(status="active").values_list("port", flat=True))
    assert len(ports) == COUNT and len(set(ports)) == COUNT, sorted(ports)
    for name, job in ended.items():
        replica = ReplicaVolume.objects.get(vm_context=job.vm_context)
        assert_identical(flats[name], Path(os.path.realpath(replica.device_path)))
    assert_no_unrecorded_nbdkit([j.vm_context.vm_id for j in ended.values()])
    client = volumes.client_for(stack.config)
    assert not [v for v in client.list_volumes() if v["name"].startswith("migration-many-over-")]
    assert "Address already in use" not in (stack.tmp / "worker-prefork.log").read_text()
