"""Fault drills, issue 14 items 3 and 7: the web dies for longer than the heartbeat timeout while the agent copies
(the reaper asks the agent and adopts the copy instead of failing it), and the agent and the worker restart under a
running copy (the worker's start settles the job with the agent at once; the retry copies only what was not done)."""
import os
import time
from pathlib import Path

import pytest

from apps.core.models import JobEvent
from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume
from apps.replication.tasks import reap_stale_jobs
from tests.agent.vmlab import AgentProcess
from tests.e2e.conftest import agent_env, wait_for
from tests.e2e.faults import Web, assert_no_unrecorded_nbdkit, restart_worker, wait_status
from tests.e2e.test_replication_e2e import assert_identical

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

MiB = 1024 * 1024


def _vm(stack, operator_client, name, chunks=6):
    from lab.vcsim import create_vm, flat_file_path, write_random

    vm = create_vm(stack.si, name, disks_mb=(512,), networks=("VM Network",))
    flat = flat_file_path(stack.sim, vm, 0)
    for n in range(chunks):
        write_random(flat, n * 80 * MiB, 32 * MiB, seed=70 + n)
    assert operator_client.post("/api/v1/discovery/add-vms", {"vm_names": [name]}, format="json").status_code == 201
    return flat


def _start(operator_client, name, mbps):
    response = operator_client.post("/api/v1/replications", {"vm_name": name, "replication_type": "initial",
                                                             "bandwidth_limit_mbps": mbps}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()["job_id"]


def _logs(stack):
    return sorted(stack.tmp.glob("*.log"))


def _steps(job_id):
    return list(JobEvent.objects.filter(job_kind="replication", job_id=job_id).values_list("step", flat=True))


def test_web_down_past_the_heartbeat_timeout_the_reaper_adopts_the_running_copy(stack, operator_client, settings):
    from apps.enrollment.services import appliance_create
    from tests.e2e.conftest import free_port_block

    flat = _vm(stack, operator_client, "fault-web")
    # The agent reports to a real gunicorn (which the test kills), and keeps retrying its reports meanwhile.
    web = Web({**stack.worker.env, "MP_AGENT_API_URL": ""}, free_port_block(1), stack.tmp / "web.log").start()
    appliance, token = appliance_create(appliance_id="vma-outage")
    stack.agent.stop()
    stack.agent = AgentProcess({**agent_env(stack.tmp / "agent-state", stack.sim, stack.si, VMA_OMA_URL=web.url,
                                            VMA_OMA_APPLIANCE_ID=appliance.appliance_id, VMA_OMA_TOKEN=token),
                                "VMA_OMA_MAX_ATTEMPTS": "100", "VMA_OMA_BACKOFF_MAX": "1"},
                               stack.tmp / "agent-web.log").start()
    settings.AGENT_API_URL = stack.agent.url
    stack.worker.stop()
    restart_worker(stack, "worker-web", MP_AGENT_API_URL=stack.agent.url, MP_OMA_URL_FOR_AGENT=web.url)
    try:
        job_id = _start(operator_client, "fault-web", 24)
        wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, status="replicating",
                                                       progress_percent__gte=5).exists(), 120,
                 "the copy to be under way", _logs(stack))
        web.kill()
        settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = 2
        time.sleep(3)  # past the heartbeat timeout with no report: the web is gone
        assert reap_stale_jobs() >= 1
        job = ReplicationJob.objects.get(job_id=job_id)
        assert job.status == "replicating", job.error_message
        assert "adopted" in _steps(job_id)
        settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = 300
        web.start()
        job = wait_status(job_id, ("completed", "failed", "cancelled"), 180, _logs(stack))
    finally:
        web.stop()
    assert job.status == "completed", job.error_message
    assert ChangeIdRecord.objects.filter(job=job).count() == 1
    target = Path(os.path.realpath(ReplicaVolume.objects.get(vm_context=job.vm_context).device_path))
    assert_identical(flat, target)
    assert_no_unrecorded_nbdkit([job.vm_context.vm_id])


def test_agent_and_worker_restart_the_job_is_settled_at_once_and_the_retry_resumes(stack, operator_client):
    flat = _vm(stack, operator_client, "fault-restart")
    job_id = _start(operator_client, "fault-restart", 32)
    wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, progress_percent__gte=20).exists(), 120,
             "the copy to be under way", _logs(stack))
    stack.agent.proc.kill()  # the agent host rebooted: its job list is gone, its checkpoints are on disk
    stack.agent.proc.wait()
    stack.agent = AgentProcess(stack.agent.env, stack.tmp / "agent2.log").start()
    stack.worker.stop()
    # The heartbeat timeout stays 300 s: the worker's start asks the agent at once, not after the timeout.
    restart_worker(stack, "worker-2", MP_AGENT_API_URL=stack.agent.url)
    failed = wait_status(job_id, ("failed", "completed", "cancelled"), 60, _logs(stack))
    assert failed.status == "failed" and "no longer knows this job" in failed.error_message, failed.error_message
    assert not ChangeIdRecord.objects.filter(job=failed).exists()

    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "pending"},
                               format="json").status_code == 200
    retried = wait_status(job_id, ("failed", "completed", "cancelled"), 180, _logs(stack))
    assert retried.status == "completed", retried.error_message
    assert_identical(flat, Path(os.path.realpath(ReplicaVolume.objects.get(vm_context=retried.vm_context).device_path)))
    disk = retried.disk_progress[0]
    # Only what was not done was copied: the first attempt's flushed ranges were skipped.
    assert disk["bytes_skipped"] > 0 and disk["bytes_copied"] < 6 * 32 * MiB, disk
    assert_no_unrecorded_nbdkit([retried.vm_context.vm_id])


def test_a_copy_failed_while_the_agent_could_not_be_asked_is_adopted_by_the_retry(stack, operator_client, settings):
    flat = _vm(stack, operator_client, "fault-unasked")
    job_id = _start(operator_client, "fault-unasked", 24)
    wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, status="replicating",
                                                   progress_percent__gte=5).exists(), 120,
             "the copy to be under way", _logs(stack))
    # The control plane cannot reach the agent (its tunnel's reverse forward is down) and hears nothing from it.
    agent_url, settings.AGENT_API_URL = settings.AGENT_API_URL, "http://127.0.0.1:1"
    settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = 0
    ReplicationJob.objects.filter(job_id=job_id).update(last_heartbeat_at=None)
    assert reap_stale_jobs() >= 1
    failed = ReplicationJob.objects.get(job_id=job_id)
    assert failed.status == "failed" and "cannot be asked" in failed.error_message, failed.error_message
    settings.AGENT_API_URL, settings.MP_REPLICATION_HEARTBEAT_TIMEOUT = agent_url, 300
    # The retry finds the agent still copying: it adopts that copy rather than failing on "already running".
    assert operator_client.put(f"/api/v1/replications/{job_id}", {"status": "pending"},
                               format="json").status_code == 200
    job = wait_status(job_id, ("completed", "failed", "cancelled"), 180, _logs(stack))
    assert job.status == "completed", job.error_message
    assert "adopted" in _steps(job_id)
    assert_identical(flat, Path(os.path.realpath(ReplicaVolume.objects.get(vm_context=job.vm_context).device_path)))
