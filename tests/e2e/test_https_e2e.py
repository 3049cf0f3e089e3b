"""Replication read over HTTPS through the whole stack: vcsim's datastore file service -> agent (nbdkit curl)
-> datamover -> NBD export -> CloudStack volume.

The agent has no datastore map, so it has no way to the datastore directory but vcsim's /folder service; its
`auto` disk source finds no VDDK and picks `https`.
"""
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from apps.replication.models import ReplicaVolume
from tests.agent.vmlab import AgentProcess
from tests.e2e.conftest import Worker, add_lab_credential, agent_env, stop_active_exports, worker_env
from tests.e2e.test_replication_e2e import BLOCK, MiB, assert_identical, start_sync, wait_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def https_stack(tmp_path, vcsim, cs_lab, cs_config, live_server, settings):
    """The e2e stack (tests/e2e/conftest.py `stack`) with an agent that cannot see the datastore directory."""
    from apps.enrollment.services import appliance_create

    si = vcsim.connect()
    appliance, token = appliance_create(appliance_id="vma-https")
    env = agent_env(tmp_path / "agent-state", vcsim, si, VMA_OMA_URL=live_server.url,
                    VMA_OMA_APPLIANCE_ID=appliance.appliance_id, VMA_OMA_TOKEN=token)
    del env["VMA_DATASTORE_MAP"]
    env["VMA_VDDK_LIBDIR"] = str(tmp_path / "no-vddk")
    agent = AgentProcess(env, tmp_path / "agent.log").start()
    settings.AGENT_API_URL = agent.url
    worker = Worker(worker_env(cs_lab, MP_AGENT_API_URL=agent.url, MP_OMA_URL_FOR_AGENT=live_server.url),
                    tmp_path / "worker.log").start()
    add_lab_credential(vcsim)
    try:
        yield SimpleNamespace(sim=vcsim, si=si, agent=agent, worker=worker, cs=cs_lab, tmp=tmp_path)
    finally:
        worker.stop()
        agent.stop()
        stop_active_exports()


def test_initial_then_incremental_sync_read_over_https(https_stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    assert "VMA_DATASTORE_MAP" not in https_stack.agent.env
    vm = create_vm(https_stack.si, "https-vm", disks_mb=(256, 128), networks=("VM Network",))
    flats = [flat_file_path(https_stack.sim, vm, i) for i in range(2)]
    for i, flat in enumerate(flats):
        for n, offset in enumerate((0, 5 * MiB, 64 * MiB + 12345)):
            write_random(flat, offset, 2 * MiB + n * BLOCK, seed=i * 10 + n)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["https-vm"]},
                                format="json").status_code == 201

    initial = wait_job(https_stack, start_sync(operator_client, "https-vm", "initial"))
    assert initial.status == "completed", initial.error_message
    replicas = {r.disk_id: r for r in ReplicaVolume.objects.all()}
    targets = [Path(os.path.realpath(replicas[d.disk_id].device_path))
               for d in initial.vm_context.disks.order_by("unit_number")]
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    # The job records which source read each disk.
    assert [d["source"] for d in initial.disk_progress] == ["https", "https"]

    written = 0
    for i, flat in enumerate(flats):
        write_random(flat, 5 * MiB + 3 * BLOCK, 2 * BLOCK, seed=100 + i)
        write_random(flat, 100 * MiB, 5 * BLOCK, seed=200 + i)
        written += 7 * BLOCK
    incremental = wait_job(https_stack, start_sync(operator_client, "https-vm", "incremental"))
    assert incremental.status == "completed", incremental.error_message
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    # Only the changed blocks were read over HTTPS and moved.
    listed = {j["job_id"]: j for j in operator_client.get("/api/v1/replications").json()}
    assert written <= incremental.bytes_transferred <= written + 4 * BLOCK, incremental.bytes_transferred
    assert written <= listed[incremental.job_id]["bytes_copied"] <= written + 4 * BLOCK
    assert [d["source"] for d in incremental.disk_progress] == ["https", "https"]
    agent_log = (https_stack.tmp / "agent.log").read_text()
    assert "plugin=curl" in agent_log and "plugin=file" not in agent_log


def test_a_vm_with_an_older_snapshot_is_refused_with_the_reason(https_stack, operator_client):
    from lab.vcsim import create_vm
    from tests.agent.vmlab import snapshot_names, wait_task

    vm = create_vm(https_stack.si, "https-snap", disks_mb=(64,), networks=("VM Network",))
    wait_task(vm.CreateSnapshot_Task(name="before-upgrade", memory=False, quiesce=False))
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["https-snap"]},
                                format="json").status_code == 201
    job = wait_job(https_stack, start_sync(operator_client, "https-snap", "initial"))
    assert job.status == "failed"
    assert "needs VDDK" in job.error_message and "'before-upgrade'" in job.error_message, job.error_message
    shown = operator_client.get(f"/api/v1/replications/{job.job_id}").json()
    assert "needs VDDK" in str(shown), shown
    assert snapshot_names(vm) == ["before-upgrade"]
