"""Fault drills, issue 14 item 1: the worker dies while a job provisions (an attachVolume made slow through the
emulator's injection hook). A restarted worker takes the job over once the dead runner's lease runs out and carries
it to the end; a cancel of such a job undoes it. No second volume, no nbdkit left unrecorded."""
import os
from pathlib import Path

import pytest

from apps.replication.models import ReplicationJob, ReplicaVolume, VMExportMapping
from apps.settings import volumes
from apps.settings.models import CloudResource
from tests.e2e.conftest import wait_for
from tests.e2e.faults import assert_no_unrecorded_nbdkit, kill_worker, restart_worker, wait_status
from tests.e2e.test_replication_e2e import assert_identical

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

MiB = 1024 * 1024


def _vm(stack, operator_client, name):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, name, disks_mb=(256,), networks=("VM Network",))
    flat = flat_file_path(stack.sim, vm, 0)
    for n in range(3):
        write_random(flat, n * 64 * MiB, 4 * MiB, seed=n)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": [name]}, format="json").status_code == 201
    return flat


def _logs(stack):
    return sorted(stack.tmp.glob("*.log"))


def _kill_while_attaching(stack, operator_client, name, how):
    """Start a sync whose attachVolume takes 15 s, and kill the worker while it waits on it."""
    flat = _vm(stack, operator_client, name)
    # The worker in use runs with a short lease, as the restarted one will.
    stack.worker.stop()
    restart_worker(stack, "worker-1")
    stack.cs.inject("attachVolume", delay=15)
    response = operator_client.post("/api/v1/replications", {"vm_name": name, "replication_type": "initial"},
                                    format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["job_id"]
    wait_for(lambda: CloudResource.objects.filter(owner=job_id, kind="volume").exists(), 60,
             "the volume to be created (the attach is then under way)", _logs(stack))
    kill_worker(stack.worker, how)
    job = ReplicationJob.objects.get(job_id=job_id)
    assert job.status == "provisioning", job.status
    return job_id, flat


@pytest.mark.parametrize("how", ["sigkill", "sigterm"])
def test_worker_killed_while_attaching_the_job_is_taken_over_and_completes(stack, operator_client, settings, how):
    job_id, flat = _kill_while_attaching(stack, operator_client, f"fault-prov-{how}", how)
    # A new start is refused while the job is in flight (one active job per VM), and nothing is lost by waiting.
    again = operator_client.post("/api/v1/replications", {"vm_name": f"fault-prov-{how}",
                                                          "replication_type": "initial"}, format="json")
    assert again.status_code == 409
    restart_worker(stack, "worker-2")
    # Bounded: the dead runner's lease (3 s), the sweep the worker start schedules, the rest of the attach, the copy.
    job = wait_status(job_id, ("completed", "failed", "cancelled"), 120, _logs(stack))
    assert job.status == "completed", job.error_message
    steps = [e["step"] for e in operator_client.get(f"/api/v1/replications/{job_id}").json()["events"]]
    assert "resume" in steps, steps
    # The volume the dead attempt created was taken up again, not created twice.
    client = volumes.client_for(stack.config)
    named = [v for v in client.list_volumes() if v["name"].startswith(f"migration-fault-prov-{how}-")]
    assert len(named) == 1, named
    replica = ReplicaVolume.objects.get(vm_context=job.vm_context)
    assert replica.volume_id == named[0]["id"]
    assert_identical(flat, Path(os.path.realpath(replica.device_path)))
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])


def test_cancel_of_a_job_whose_worker_died_undoes_it(stack, operator_client):
    job_id, _ = _kill_while_attaching(stack, operator_client, "fault-prov-cancel", "sigkill")
    response = operator_client.delete(f"/api/v1/replications/{job_id}")
    assert response.status_code == 202
    restart_worker(stack, "worker-2")
    job = wait_status(job_id, ("completed", "failed", "cancelled"), 90, _logs(stack))
    assert job.status == "cancelled", (job.status, job.error_message)
    client = volumes.client_for(stack.config)
    assert not [v for v in client.list_volumes() if v["name"].startswith("migration-fault-prov-cancel-")]
    assert not ReplicaVolume.objects.filter(vm_context=job.vm_context).exists()
    assert not VMExportMapping.objects.filter(vm_id=job.vm_context.vm_id, status="active").exists()
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])
    # The VM is free again: a new sync starts.
    assert operator_client.post("/api/v1/replications", {"vm_name": "fault-prov-cancel",
                                                         "replication_type": "initial"},
                                format="json").status_code == 202


def test_cloudstack_killed_while_attaching_the_retry_takes_the_recorded_volume_up_again(stack, operator_client):
    from apps.settings.models import OsseaConfig

    flat = _vm(stack, operator_client, "fault-cs")
    stack.cs.inject("attachVolume", delay=15)
    job_id = operator_client.post("/api/v1/replications", {"vm_name": "fault-cs", "replication_type": "initial"},
                                  format="json").json()["job_id"]
    wait_for(lambda: CloudResource.objects.filter(owner=job_id, kind="volume").exists(), 60,
             "the volume to be created (the attach is then under way)", _logs(stack))
    stack.cs.process.kill()  # SIGKILL: the attach job dies with the emulator
    stack.cs.process.wait()
    failed = wait_status(job_id, ("completed", "failed", "cancelled"), 180, _logs(stack))
    assert failed.status == "failed" and "provisioning failed" in failed.error_message, failed.error_message
    # CloudStack could not be reached to undo: the volume stays recorded for this job (left behind, for the sweep or
    # the retry), not forgotten, and the message says it was not removed.
    recorded = CloudResource.objects.get(owner=job_id, kind="volume")
    assert recorded.state == "orphaned"
    assert "NOT" in failed.error_message and "undone: " not in failed.error_message

    stack.cs.start()  # the same state directory, on a new port
    OsseaConfig.objects.filter(pk=stack.config.pk).update(api_url=stack.cs.url)
    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "pending"},
                               format="json").status_code == 200
    job = wait_status(job_id, ("completed", "failed", "cancelled"), 120, _logs(stack))
    assert job.status == "completed", job.error_message
    client = volumes.client_for(OsseaConfig.objects.get(pk=stack.config.pk))
    named = [v for v in client.list_volumes() if v["name"].startswith("migration-fault-cs-")]
    assert [v["id"] for v in named] == [recorded.resource_id]
    recorded.refresh_from_db()
    assert recorded.state == "released"  # taken up again by the retry and handed over: no longer the sweep's
    replica = ReplicaVolume.objects.get(vm_context=job.vm_context)
    assert replica.volume_id == recorded.resource_id
    assert_identical(flat, Path(os.path.realpath(replica.device_path)))
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])


def test_worker_killed_while_cloudstack_creates_the_volume_the_takeover_takes_it_up(stack, operator_client):
    flat = _vm(stack, operator_client, "fault-create")
    stack.worker.stop()
    restart_worker(stack, "worker-1")
    stack.cs.inject("createVolume", delay=10)
    job_id = operator_client.post("/api/v1/replications", {"vm_name": "fault-create", "replication_type": "initial"},
                                  format="json").json()["job_id"]
    client = volumes.client_for(stack.config)
    # CloudStack has the volume (Allocated) from the submit on; the worker recorded it and its async job from the
    # submit's answer (write-ahead) and now waits on the job.
    created = wait_for(lambda: [v for v in client.list_volumes() if v["name"] == "migration-fault-create-disk-0"],
                       60, "createVolume to be submitted", _logs(stack))
    recorded = wait_for(lambda: CloudResource.objects.filter(owner=job_id, kind="volume").first(), 30,
                        "the write-ahead record of the volume", _logs(stack))
    assert recorded.resource_id == created[0]["id"] and recorded.cloudstack_job_id
    kill_worker(stack.worker, "sigkill")
    restart_worker(stack, "worker-2")
    job = wait_status(job_id, ("completed", "failed", "cancelled"), 120, _logs(stack))
    assert job.status == "completed", job.error_message
    named = [v["id"] for v in client.list_volumes() if v["name"].startswith("migration-fault-create-")]
    assert named == [created[0]["id"]]
    assert CloudResource.objects.get(owner=job_id, kind="volume").resource_id == created[0]["id"]
    replica = ReplicaVolume.objects.get(vm_context=job.vm_context)
    assert replica.volume_id == created[0]["id"]
    assert_identical(flat, Path(os.path.realpath(replica.device_path)))
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])
