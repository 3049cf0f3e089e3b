"""Replication through the whole stack: vcsim -> agent -> datamover -> NBD export -> CloudStack volume."""
import os
from pathlib import Path

import pytest

from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

MiB = 1024 * 1024
BLOCK = 64 * 1024


def data_ranges(path: Path) -> list[tuple[int, int]]:
    """Allocated ranges of a sparse file (SEEK_DATA/SEEK_HOLE)."""
    ranges, size = [], path.stat().st_size
    with open(path, "rb") as handle:
        fd, offset = handle.fileno(), 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, end))
            offset = end
    return ranges


def assert_identical(source: Path, target: Path) -> None:
    """Byte-identical over the whole disk; only allocated ranges are read (holes read as zeros on both)."""
    assert target.stat().st_size >= source.stat().st_size
    spans = sorted(data_ranges(source) + data_ranges(target))
    with open(source, "rb") as a, open(target, "rb") as b:
        for start, end in spans:
            end = min(end, source.stat().st_size)
            pos = start
            while pos < end:
                n = min(4 * MiB, end - pos)
                a.seek(pos)
                b.seek(pos)
                assert a.read(n) == b.read(n), f"{target} differs from {source} in [{pos}, {pos + n})"
                pos += n
    tail = [(s, e) for s, e in data_ranges(target) if e > source.stat().st_size]
    assert not tail, "the target holds data beyond the source disk"


def start_sync(client, vm_name, kind):
    response = client.post("/api/v1/replications", {"vm_name": vm_name, "replication_type": kind}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()["job_id"]


def wait_job(stack, job_id, timeout=180):
    logs = [stack.tmp / "worker.log", stack.tmp / "agent.log"]

    def done():
        job = ReplicationJob.objects.get(job_id=job_id)
        return job if job.status in ("completed", "failed", "cancelled") else None

    return wait_for(done, timeout, f"job {job_id}", logs)


def test_initial_then_incremental_sync_is_block_identical(stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, "e2e-vm", disks_mb=(1024, 1024), networks=("VM Network",), cbt=False)
    flats = [flat_file_path(stack.sim, vm, i) for i in range(2)]
    # Several MiB of random data with holes between them, different per disk.
    for i, flat in enumerate(flats):
        for n, offset in enumerate((0, 5 * MiB, 64 * MiB + 12345, 700 * MiB)):
            write_random(flat, offset, 3 * MiB + n * BLOCK, seed=i * 10 + n)

    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["e2e-vm"]}, format="json")
    assert added.status_code == 201, added.json()

    initial = wait_job(stack, start_sync(operator_client, "e2e-vm", "initial"))
    assert initial.status == "completed", initial.error_message
    replicas = {r.disk_id: r for r in ReplicaVolume.objects.all()}
    assert len(replicas) == 2
    targets = [Path(os.path.realpath(replicas[d.disk_id].device_path))
               for d in initial.vm_context.disks.order_by("unit_number")]
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    first_ids = dict(ChangeIdRecord.objects.filter(job=initial).values_list("disk_id", "change_id"))
    from apps.replication.models import VMExportMapping

    export_pids = sorted(VMExportMapping.objects.values_list("pid", flat=True))
    assert len(first_ids) == 2 and all(first_ids.values())

    # Change a few blocks: overwrite inside data, write into a hole, on both disks.
    written = 0
    for i, flat in enumerate(flats):
        write_random(flat, 5 * MiB + 3 * BLOCK, 2 * BLOCK, seed=100 + i)
        write_random(flat, 300 * MiB, 5 * BLOCK, seed=200 + i)
        written += 7 * BLOCK
    incremental = wait_job(stack, start_sync(operator_client, "e2e-vm", "incremental"))
    assert incremental.status == "completed", incremental.error_message
    for flat, target in zip(flats, targets, strict=True):
        assert_identical(flat, target)
    # The agent moved the changed blocks, not the disks (its own counters, reported to the job).
    assert written <= incremental.bytes_transferred <= written + 4 * BLOCK, incremental.bytes_transferred
    assert incremental.bytes_transferred < initial.bytes_transferred / 10
    # What crossed the wire on the initial sync is the data (rounded to the copier's 1 MiB requests), not the
    # 2 GiB of scope that bytes_transferred counts; the rest went as zero requests.
    listed = {j["job_id"]: j for j in operator_client.get("/api/v1/replications").json()}
    data = sum(3 * MiB + n * BLOCK for n in range(4)) * 2
    assert data <= listed[initial.job_id]["bytes_copied"] <= data + 16 * MiB, listed[initial.job_id]
    assert listed[initial.job_id]["bytes_copied"] + listed[initial.job_id]["bytes_zeroed"] == initial.bytes_total
    assert written <= listed[incremental.job_id]["bytes_copied"] <= written + 4 * BLOCK
    second_ids = dict(ChangeIdRecord.objects.filter(job=incremental).values_list("disk_id", "change_id"))
    assert second_ids.keys() == first_ids.keys() and all(second_ids[k] != first_ids[k] for k in first_ids)

    detail = operator_client.get("/api/v1/vm-contexts/e2e-vm").json()
    assert detail["context"]["current_status"] == "ready_for_failover"
    assert [j["status"] for j in detail["job_history"]] == ["completed", "completed"]
    assert len(detail["cbt_history"]) == 4
    # The exports were reused by the second sync, not restarted.
    assert sorted(VMExportMapping.objects.values_list("pid", flat=True)) == export_pids


def test_agent_killed_mid_copy_fails_the_job_and_the_retry_resumes(stack, operator_client, settings):
    from apps.replication.tasks import reap_stale_jobs
    from lab.vcsim import create_vm, flat_file_path, write_random
    from tests.agent.vmlab import AgentProcess
    from tests.e2e.conftest import Worker

    vm = create_vm(stack.si, "e2e-kill", disks_mb=(1024,), networks=("VM Network",))
    flat = flat_file_path(stack.sim, vm, 0)
    for n in range(8):
        write_random(flat, n * 96 * MiB, 48 * MiB, seed=n)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["e2e-kill"]},
                                format="json").status_code == 201
    # A bandwidth cap keeps the copy long enough to kill the agent in the middle of it.
    response = operator_client.post("/api/v1/replications", {"vm_name": "e2e-kill", "replication_type": "initial",
                                                             "bandwidth_limit_mbps": 48}, format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["job_id"]
    wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, progress_percent__gte=15).exists(), 120,
             "the copy to be under way", [stack.tmp / "worker.log", stack.tmp / "agent.log"])
    stack.agent.proc.kill()  # SIGKILL: no cleanup, no goodbye
    stack.agent.proc.wait()

    settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = 2
    wait_for(lambda: reap_stale_jobs() or ReplicationJob.objects.get(job_id=job_id).status == "failed", 30,
             "the reaper to fail the silent job")
    failed = ReplicationJob.objects.get(job_id=job_id)
    assert failed.status == "failed" and "stopped reporting progress" in failed.error_message
    assert not ChangeIdRecord.objects.filter(job=failed).exists()  # no change id without the data

    # Restart the agent on the same state directory (checkpoints survive) and the worker pointing at it.
    stack.agent = AgentProcess(stack.agent.env, stack.tmp / "agent2.log").start()
    settings.AGENT_API_URL = stack.agent.url
    stack.worker.stop()
    stack.worker = Worker({**stack.worker.env, "MP_AGENT_API_URL": stack.agent.url}, stack.tmp / "worker2.log").start()
    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "pending"}, format="json").status_code == 200
    retried = wait_job(stack, job_id)
    assert retried.status == "completed", retried.error_message
    target = Path(os.path.realpath(ReplicaVolume.objects.get(vm_context=retried.vm_context).device_path))
    assert_identical(flat, target)
    disk = retried.disk_progress[0]
    # The retry resumed: what the killed attempt had finished was skipped, not copied again.
    assert disk["bytes_skipped"] > 0, disk
    assert disk["bytes_copied"] < 8 * 48 * MiB, disk


def test_cancel_a_running_sync_stops_the_agent_and_stores_nothing(stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, "e2e-cancel", disks_mb=(1024,), networks=("VM Network",))
    flat = flat_file_path(stack.sim, vm, 0)
    for n in range(6):
        write_random(flat, n * 128 * MiB, 64 * MiB, seed=50 + n)
    operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["e2e-cancel"]}, format="json")
    job_id = operator_client.post("/api/v1/replications", {"vm_name": "e2e-cancel", "replication_type": "initial",
                                                           "bandwidth_limit_mbps": 32}, format="json").json()["job_id"]
    wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, status="replicating", progress_percent__gt=5).exists(),
             120, "the copy to be under way", [stack.tmp / "worker.log", stack.tmp / "agent.log"])
    response = operator_client.delete(f"/api/v1/replications/{job_id}")
    assert response.status_code == 202
    job = wait_job(stack, job_id, timeout=90)
    assert job.status == "cancelled"
    assert not ChangeIdRecord.objects.filter(job=job).exists()
    # The agent stopped the copy and removed its snapshot.
    import requests

    status = requests.get(f"{stack.agent.url}/api/v1/status/{job_id}", timeout=10).json()
    assert status["status"] == "cancelled"
    assert vm.snapshot is None or not vm.snapshot.rootSnapshotList  # pyVmomi reads it afresh
    # A new sync can start at once.
    assert operator_client.post("/api/v1/replications", {"vm_name": "e2e-cancel", "replication_type": "incremental"},
                                format="json").status_code == 202
