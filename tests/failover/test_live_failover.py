"""Live failover against the CloudStack emulator: the destination VM runs with every replica, mapped NICs,
the VM context is failed_over; the final sync is chained through replication's finish signal."""
import os

import pytest
from django.core import mail

from apps.core.models import JobEvent
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob, VMExportMapping
from apps.settings.models import CloudResource
from tests.failover.conftest import HttpPeer, assert_documented, make_replicated_vm, map_networks

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def start_live(api, vm, capture, **extra):
    body = {"vm_id": vm.context.vm_id, "vm_name": vm.context.vm_name, "power_off_source": False,
            "final_sync": False, **extra}
    with capture(execute=True):
        return api.post("/api/v1/failover/live", body, format="json")


def test_live_failover_runs_destination_vm_with_every_volume_and_nic(operator_client, cloud, cloud_config, client,
                                                                      networks, webhook,
                                                                      django_capture_on_commit_callbacks):
    vm = make_replicated_vm(cloud, cloud_config, client, name="PGWINTESTBIOS", disks=3,
                            nics=("VM Network", "Backup Network"), cpu=4, memory_mb=6144)
    map_networks(vm, networks)
    response = start_live(operator_client, vm, django_capture_on_commit_callbacks,
                          notification_config={"email": "admin@company.com", "webhook_url": webhook.url + "/hook"})
    assert response.status_code == 200, response.json()
    body = assert_documented(response)
    assert body["job_id"].startswith(f"live-failover-{vm.context.vm_id}-") and body["data"]["job_type"] == "live"
    job = FailoverJob.objects.get()
    assert job.status == "completed", job.error_message
    destination = client.get_vm(job.destination_vm_id)
    assert destination["state"] == "Running" and destination["name"] == "PGWINTESTBIOS"
    # Both source networks map to the same production network: one NIC on it.
    assert [n["networkid"] for n in destination["nic"]] == [networks["migration-net"]["id"]]
    assert destination["cpunumber"] >= 4 and destination["memory"] >= 6144  # Large Instance fits 4 vCPU/6 GB
    attached = {v["id"]: v for v in client.list_volumes(vm_id=destination["id"])}
    assert set(attached) == {r.volume_id for r in vm.replicas}
    assert attached[vm.replicas[0].volume_id]["deviceid"] == 0
    assert vm.current_digests() == vm.digests  # the destination boots exactly what was synced
    assert client.list_snapshots() == []  # the cut-over is final: its snapshots are gone
    context = VMContext.objects.get()
    assert context.current_status == "failed_over"
    assert CloudResource.objects.get(owner=job.job_id, kind="vm").state == "released"
    assert {r.status for r in vm.replicas[0].__class__.objects.all()} == {"attached_to_vm"}
    assert len(mail.outbox) == 1 and "completed" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["admin@company.com"]
    assert webhook.requests[0]["body"]["event"] == "failover.completed"
    assert webhook.requests[0]["body"]["destination_vm_id"] == job.destination_vm_id
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["plan"]["compute"] and len(status["volumes"]) == 3

    # Final: no second failover, no rollback, no more replication.
    again = start_live(operator_client, vm, django_capture_on_commit_callbacks)
    assert again.status_code == 409 and assert_documented(again)["error_code"] == "INVALID_STATE"
    rollback = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert rollback.status_code == 409 and "final" in assert_documented(rollback)["error"]
    sync = operator_client.post("/api/v1/replications", {"vm_name": vm.context.vm_name}, format="json")
    assert sync.status_code == 409


@pytest.fixture
def standin_agent(cloud, settings):  # after `cloud`, which points the agent URL at nothing
    """The agent's /replicate as a stand-in that accepts the job; the test then reports like the agent does."""
    with HttpPeer({"/api/v1/replicate": (200, {"job_id": "x", "status": "started", "vm_count": 1,
                                              "started_at": "2025-08-18T16:15:08Z"})}) as peer:
        settings.AGENT_API_URL = peer.url
        yield peer


def test_final_sync_is_waited_for_by_chaining_then_failover_goes_on(operator_client, lab_vm, client, standin_agent,
                                                                     django_capture_on_commit_callbacks):
    response = start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, final_sync=True)
    assert response.status_code == 200, response.json()
    job = FailoverJob.objects.get()
    # The final sync was provisioned (exports up) and handed to the agent; the failover waits, no worker blocked.
    assert job.status == "pending" and job.final_sync_job_id
    sync = ReplicationJob.objects.get(job_id=job.final_sync_job_id)
    assert sync.status == "ready_for_sync" and sync.replication_type == "incremental"
    assert standin_agent.requests[0]["body"]["job_id"] == sync.job_id
    exports = list(VMExportMapping.objects.filter(status="active"))
    assert len(exports) == 2
    status = assert_documented(operator_client.get(f"/api/v1/failover/{job.job_id}/status"))
    assert status["status"] == "pending" and "final sync" in status["current_step"]

    # The agent reports the new change ids and the completion: the failover resumes on the finish signal.
    for replica in lab_vm.replicas:
        stored = operator_client.post(f"/api/v1/replications/{sync.job_id}/changeid",
                                      {"vm_path": lab_vm.context.vm_path, "disk_id": replica.disk_id,
                                       "change_id": f"52 aa/{replica.disk_unit_number + 9}"}, format="json")
        assert stored.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        done = operator_client.post(f"/api/v1/replications/{sync.job_id}/progress", {"status": "completed"},
                                    format="json")
    assert done.status_code == 200
    job.refresh_from_db()
    assert job.status == "completed", job.error_message
    # The exports were stopped before the volumes left the control plane.
    for mapping in exports:
        mapping.refresh_from_db()
        assert mapping.status == "inactive" and mapping.pid is None
    steps = list(JobEvent.objects.filter(job_kind="failover", job_id=job.job_id).values_list("step", flat=True))
    assert steps.index("final_sync") < steps.index("validated") < steps.index("export") < steps.index("detach")
    assert VMContext.objects.get().current_status == "failed_over"


def test_failed_final_sync_fails_the_failover_and_changes_nothing(operator_client, lab_vm, client,
                                                                  django_capture_on_commit_callbacks):
    # No agent at all: the final sync fails at the hand-over, so does the failover, before touching a volume.
    response = start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, final_sync=True)
    assert response.status_code == 200
    job = FailoverJob.objects.get()
    assert job.status == "failed" and job.error_code == "FINAL_SYNC_FAILED", job.error_message
    assert "No agent is connected" in job.error_message
    from tests.failover.conftest import assert_back_on_control_plane

    assert_back_on_control_plane(lab_vm, client)
    assert VMContext.objects.get().current_status == "ready_for_failover"


def test_power_off_through_an_unreachable_agent_fails_before_anything(operator_client, lab_vm, client,
                                                                      django_capture_on_commit_callbacks):
    response = start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, power_off_source=True)
    assert response.status_code == 200
    job = FailoverJob.objects.get()
    assert job.status == "failed" and job.error_code == "AGENT_UNREACHABLE"
    assert job.source_powered_off_at is None and not job.volumes.exists()
    assert not job.source_power_uncertain  # refused: the call never reached the agent, nothing was powered off
    assert client.list_snapshots() == [] and not job.destination_vm_id


def test_final_sync_that_never_ends_times_out(operator_client, lab_vm, standin_agent, settings,
                                              django_capture_on_commit_callbacks):
    from datetime import timedelta

    from apps.failover.tasks import failover_housekeeping

    start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, final_sync=True)
    job = FailoverJob.objects.get()
    assert failover_housekeeping()["final_sync_checked"] == 1
    job.refresh_from_db()
    assert job.status == "pending"
    FailoverJob.objects.filter(pk=job.pk).update(final_sync_started_at=job.final_sync_started_at - timedelta(hours=13))
    failover_housekeeping()
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "FINAL_SYNC_FAILED" and "did not finish" in job.error_message
    assert os.path.exists(lab_vm.device(lab_vm.replicas[0].volume_id))


@pytest.fixture
def standin_power_agent(cloud, settings):  # after `cloud`, which points the agent URL at nothing
    """The agent's /power-off, /replicate and /power-on as a stand-in that answers like the agent does."""
    vm = {"vm_id": "vm-42", "vm_path": "/DC0/vm/pgtest1"}
    with HttpPeer({"/api/v1/power-off": (200, {**vm, "result": "guest_shutdown", "power_state": "poweredOff"}),
                   "/api/v1/power-on": (200, {**vm, "result": "powered_on", "power_state": "poweredOn"}),
                   "/api/v1/replicate": (200, {"job_id": "x", "status": "started", "vm_count": 1,
                                               "started_at": "2025-08-18T16:15:08Z"})}) as peer:
        settings.AGENT_API_URL = peer.url
        yield peer


def test_failed_final_sync_after_power_off_powers_the_source_back_on(operator_client, lab_vm, client,
                                                                     standin_power_agent,
                                                                     django_capture_on_commit_callbacks):
    response = start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, power_off_source=True,
                          final_sync=True)
    assert response.status_code == 200
    job = FailoverJob.objects.get()
    assert job.status == "pending" and job.source_powered_off_by_platform
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/api/v1/replications/{job.final_sync_job_id}/progress",
                             {"status": "failed", "error": "NBD target went away"}, format="json")
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "FINAL_SYNC_FAILED", job.error_message
    # Nothing had changed in CloudStack, but the source had been shut down: that is undone too.
    paths = [r["path"] for r in standin_power_agent.requests]
    assert paths == ["/api/v1/power-off", "/api/v1/replicate", "/api/v1/power-on"]
    power_on = standin_power_agent.requests[-1]["body"]
    assert power_on["vm"]["id"] == lab_vm.context.moref and "timeout_seconds" not in power_on
    assert job.source_powered_on_at is not None and "powered the source VM 'pgtest1' (vm-42) back on" in job.error_message
    assert job.cleanup_status == "completed" and not job.needs_cleanup
    assert VMContext.objects.get().power_state == "poweredOn"


def test_rollback_while_waiting_for_the_final_sync_powers_the_source_back_on(operator_client, lab_vm, client,
                                                                            standin_power_agent,
                                                                            django_capture_on_commit_callbacks):
    start_live(operator_client, lab_vm, django_capture_on_commit_callbacks, power_off_source=True, final_sync=True)
    job = FailoverJob.objects.get()
    assert job.status == "pending" and job.final_sync_job_id
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert response.status_code == 200, response.json()
    assert "powered back on" in assert_documented(response)["message"]
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "CANCELLED" and job.source_powered_on_at is not None
    assert standin_power_agent.requests[-1]["path"] == "/api/v1/power-on"
    from tests.failover.conftest import assert_back_on_control_plane

    assert_back_on_control_plane(lab_vm, client)
