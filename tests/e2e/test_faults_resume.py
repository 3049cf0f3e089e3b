"""Issue 14 item 7: a cancel no longer throws the copy away. The agent keeps each disk's resume record and checkpoint
per VM disk (not per job), so the VM's next job on the same base change id resumes the copy instead of starting over;
the cancelled job's own files are gone; a completed sync leaves nothing to resume."""
import os
from pathlib import Path

import pytest

from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume
from tests.e2e.conftest import wait_for
from tests.e2e.faults import assert_no_unrecorded_nbdkit, wait_status
from tests.e2e.test_replication_e2e import assert_identical

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

MiB = 1024 * 1024


def test_a_new_job_after_a_cancel_resumes_the_copy(stack, operator_client):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, "fault-resume", disks_mb=(512,), networks=("VM Network",))
    flat = flat_file_path(stack.sim, vm, 0)
    for n in range(6):
        write_random(flat, n * 80 * MiB, 32 * MiB, seed=90 + n)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["fault-resume"]},
                                format="json").status_code == 201
    logs = sorted(stack.tmp.glob("*.log"))
    first = operator_client.post("/api/v1/replications", {"vm_name": "fault-resume", "replication_type": "initial",
                                                          "bandwidth_limit_mbps": 32}, format="json").json()["job_id"]
    wait_for(lambda: ReplicationJob.objects.filter(job_id=first, progress_percent__gte=30).exists(), 120,
             "the copy to be under way", logs)
    assert operator_client.delete(f"/api/v1/replications/{first}").status_code == 202
    assert wait_status(first, ("cancelled", "completed", "failed"), 90, logs).status == "cancelled"
    state = stack.tmp / "agent-state"
    wait_for(lambda: not (state / f"{first}.json").exists(), 30, "the cancelled job's own file to go", logs)
    assert not [p.name for p in state.iterdir() if p.name.startswith(first)]
    resume = sorted(p.name for p in (state / "resume").iterdir())
    assert resume == [f"{vm._moId}-disk-0.ckpt", f"{vm._moId}-disk-0.json"], resume

    second = operator_client.post("/api/v1/replications", {"vm_name": "fault-resume", "replication_type": "initial"},
                                  format="json").json()["job_id"]
    job = wait_status(second, ("cancelled", "completed", "failed"), 180, logs)
    assert job.status == "completed", job.error_message
    target = Path(os.path.realpath(ReplicaVolume.objects.get(vm_context=job.vm_context).device_path))
    assert_identical(flat, target)
    disk = job.disk_progress[0]
    # The cancelled job's flushed ranges were not copied again.
    assert disk["bytes_skipped"] > 0 and disk["bytes_copied"] < 6 * 32 * MiB, disk
    assert ChangeIdRecord.objects.filter(job=job).count() == 1
    assert not list((state / "resume").iterdir()) and not (state / f"{second}.json").exists()
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])
