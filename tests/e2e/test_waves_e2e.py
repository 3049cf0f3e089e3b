"""A wave through the whole stack with two sites: two vCenters (two vcsim processes), each with its own agent process,
a real Celery worker running the wave, its hooks, the syncs and the failovers, and the CloudStack emulator; the test
plays beat (it sends the sweep the worker runs).

Five VMs, limit 2. Site A: a database (its source powered off, a final sync), the application after it, a web VM
whose change-board webhook refuses: it is stopped before anything starts and reported. Site B (its credentials name
its own agent): a database and its application, the same way. Everything of site B (discovery, copy, final sync,
power-off) goes through agent B: each agent pins its own vCenter's certificate thumbprint, so agent A could not
even log in to vCenter B. The wave rollback then reports the completed live
failovers as final (nothing of a completed cut-over is reversible) and leaves the stopped VM alone.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.utils import iso
from apps.enrollment.services import appliance_create
from apps.failover.models import FailoverJob, NetworkMapping
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob
from apps.scheduler import services as scheduler
from apps.settings import cloudstack as cs
from apps.waves.models import Wave, WaveVM
from apps.waves.tasks import sweep_waves
from tests.agent.vmlab import AgentProcess, find_vm
from tests.e2e.conftest import Worker, agent_env, wait_for
from tests.failover.conftest import HttpPeer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

SITE_A = ("app-01", "db-01", "web-02")
SITE_B = ("crm-01", "crm-db")
FACTS_TO_FILE = ("import json, sys, pathlib; facts = json.load(sys.stdin); "
                 "pathlib.Path(sys.argv[1], facts['vm_name'] + '-' + facts['stage']).write_text(json.dumps(facts)); "
                 "print('recorded', facts['vm_name'], facts['stage'])")


def gate(body):
    return (503, {"error": "web-02 is frozen"}) if body["vm_name"] == "web-02" else (200, {"ok": True})


@pytest.fixture
def site_b(stack, live_server, tmp_path):
    """A second vCenter with its own agent (reached at its own address), and its credentials naming that agent."""
    from lab.vcsim import Vcsim

    appliance, token = appliance_create(appliance_id="vma-site-b")
    with Vcsim() as sim:
        si = sim.connect()
        agent = AgentProcess(agent_env(tmp_path / "agent-b-state", sim, si, VMA_OMA_URL=live_server.url,
                                       VMA_OMA_APPLIANCE_ID=appliance.appliance_id, VMA_OMA_TOKEN=token),
                             tmp_path / "agent-b.log").start()
        try:
            appliance.api_url = agent.url
            appliance.save(update_fields=["api_url"])
            yield sim, si, agent
        finally:
            agent.stop()


def replicate(api, name: str, logs) -> None:
    started = api.post("/api/v1/replications", {"vm_name": name, "replication_type": "initial"}, format="json")
    assert started.status_code == 202, started.json()
    job_id = started.json()["job_id"]
    wait_for(lambda: ReplicationJob.objects.get(job_id=job_id).status in ("completed", "failed"), 180,
             f"the initial sync of {name}", logs)
    job = ReplicationJob.objects.get(job_id=job_id)
    assert job.status == "completed", job.error_message


def beat_until(predicate):
    def step():
        sweep_waves.delay()  # what beat sends every 30 s; the worker runs it
        time.sleep(1)
        return predicate()
    return step


@pytest.fixture
def two_workers(stack):
    """docs/deployment.md's two workers: one on the control-plane host where the volumes attach (the replication and
    failover queues), one anywhere for the rest (waves, hooks, schedules, discovery)."""
    stack.worker.stop()
    volumes = Worker(stack.worker.env, stack.tmp / "worker-volumes.log", queues="replication,failover").start()
    general = Worker(stack.worker.env, stack.tmp / "worker-general.log", queues="celery,scheduler").start()
    try:
        yield volumes, general
    finally:
        volumes.stop()
        general.stop()


def test_a_two_site_wave_cuts_over_at_its_window(stack, site_b, two_workers, operator_client):
    from lab.vcsim import create_vm

    sim_b, si_b, agent_b = site_b
    volumes, general = two_workers
    logs = [volumes.log_path, general.log_path, stack.tmp / "agent.log", stack.tmp / "agent-b.log"]
    for name in SITE_A:
        create_vm(stack.si, name, disks_mb=(16,), power_on=True)
    for name in SITE_B:
        create_vm(si_b, name, disks_mb=(16,), power_on=True)
    credential_b = operator_client.post("/api/v1/vmware-credentials", {
        "name": "site-b", "vcenter_host": f"{sim_b.host}:{sim_b.port}", "username": sim_b.username,
        "password": sim_b.password, "datacenter": sim_b.datacenter, "agent_appliance_id": "vma-site-b"},
        format="json")
    assert credential_b.status_code == 201, credential_b.json()
    assert credential_b.json()["agent_appliance_id"] == "vma-site-b"
    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": list(SITE_A)}, format="json")
    assert added.status_code == 201, added.json()
    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": list(SITE_B),
                                                               "credential_id": credential_b.json()["id"]},
                                 format="json")
    assert added.status_code == 201, added.json()  # agent A's vCenter has no such VMs: agent B found them
    for name in SITE_A + SITE_B:
        replicate(operator_client, name, logs)
    assert set(ReplicationJob.objects.filter(vm_context__vm_name__in=SITE_B)
               .values_list("appliance_id", flat=True)) == {"vma-site-b"}
    client = cs.CloudStackClient(stack.cs.url, stack.cs.api_key, stack.cs.secret_key, poll_interval=0.05)
    networks = {n["name"]: n for n in client.list_networks()}
    for context in VMContext.objects.all():
        for name, is_test in (("migration-net", False), ("test-failover-net", True)):
            NetworkMapping.objects.create(vm_context=context, source_network_name="VM Network",
                                          destination_network_id=networks[name]["id"], destination_network_name=name,
                                          is_test_network=is_test)
    group = scheduler.group_create(data={"name": "erp"})
    scheduler.group_assign_vms(group=group, vm_contexts=list(VMContext.objects.all()))
    facts_dir = stack.tmp / "facts"
    facts_dir.mkdir()
    record = [sys.executable, "-c", FACTS_TO_FILE, str(facts_dir)]
    keep_on = {"power_off_source": False, "final_sync": False}
    cut = {"power_off_source": True, "final_sync": True}

    with HttpPeer({"/gate": gate}) as board:
        start = timezone.now() + timedelta(seconds=5)
        body = {"name": "erp-cutover", "group_id": group.pk, "max_concurrent": 2,
                "window_start": iso(start), "deadline": iso(start + timedelta(hours=1)),
                "vms": [{"vm": "app-01", "depends_on": ["db-01"], **keep_on}, {"vm": "db-01", **cut},
                        {"vm": "web-02", **keep_on}, {"vm": "crm-01", "depends_on": ["crm-db"], **keep_on},
                        {"vm": "crm-db", **cut}],
                "hooks": [{"name": "gate", "stage": "before_final_sync", "kind": "webhook",
                           "url": board.url + "/gate", "secret": "board-key", "timeout_seconds": 5},
                          {"name": "after-off", "stage": "after_power_off", "kind": "command", "command": record},
                          {"name": "after-boot", "stage": "after_boot", "kind": "command", "command": record}]}
        created = operator_client.post("/api/v1/waves", body, format="json")
        assert created.status_code == 201, created.json()
        wave = Wave.objects.get(pk=created.json()["wave"]["id"])
        assert wave.status == "scheduled"
        peak = []

        def finished():
            peak.append(WaveVM.objects.filter(wave=wave, status__in=("starting", "running")).count())
            return Wave.objects.get(pk=wave.pk).status not in ("scheduled", "running")

        wait_for(beat_until(finished), 600, "the wave to finish", logs)
    wave.refresh_from_db()
    rows = {vm.vm_name: vm for vm in WaveVM.objects.filter(wave=wave).select_related("failover_job")}
    assert wave.status == "completed_with_errors", (wave.summary, {n: r.reason for n, r in rows.items()})
    assert wave.started_at >= start and max(peak) <= 2  # the limit held whenever the test looked

    web = rows["web-02"]
    assert web.status == "skipped" and web.failover_job is None and "HTTP 503" in web.reason
    assert not FailoverJob.objects.filter(vm_context__vm_name="web-02").exists()
    assert VMContext.objects.get(vm_name="web-02").current_status == "ready_for_failover"
    for database, application in (("db-01", "app-01"), ("crm-db", "crm-01")):
        db, app = rows[database], rows[application]
        for row in (db, app):
            assert row.status == "completed" and row.failover_job.status == "completed", row.reason
            assert client.get_vm(row.failover_job.destination_vm_id)["state"] == "Running"
        assert db.failover_job.source_powered_off_by_platform and db.failover_job.final_sync_job_id
        assert app.failover_job.created_at >= db.failover_job.completed_at  # dependencies first
        assert [e["stage"] for e in db.hook_log] == ["before_final_sync", "after_power_off", "after_boot"]
        assert [e["stage"] for e in app.hook_log] == ["before_final_sync", "after_boot"]  # its source kept on
        off = json.loads((facts_dir / f"{database}-after_power_off").read_text())
        assert off["failover_job_id"] == db.failover_job.job_id and off["options"]["power_off_source"] is True
        booted = json.loads((facts_dir / f"{application}-after_boot").read_text())
        assert booted["destination_vm_id"] == app.failover_job.destination_vm_id
    final_sync_b = ReplicationJob.objects.get(job_id=rows["crm-db"].failover_job.final_sync_job_id)
    assert final_sync_b.appliance_id == "vma-site-b" and final_sync_b.status == "completed"
    assert find_vm(si_b, "crm-db").runtime.powerState == "poweredOff"  # agent B powered its own source off

    answer = operator_client.post(f"/api/v1/waves/{wave.pk}/rollback")
    assert answer.status_code == 202, answer.json()
    wait_for(beat_until(lambda: Wave.objects.get(pk=wave.pk).status == "rolled_back"), 120, "the rollback", logs)
    rows = {vm.vm_name: vm for vm in WaveVM.objects.filter(wave=wave)}
    for name in ("db-01", "app-01", "crm-db", "crm-01"):
        assert rows[name].status == "not_reversible" and "final" in rows[name].reason, rows[name].reason
    assert rows["web-02"].status == "skipped"
    # Each worker ran only its own queues: the waves and their hooks on one, the volumes' work on the other.
    volume_log, general_log = volumes.log_text(), general.log_text()
    assert "Task apps.failover.tasks.run_failover[" in volume_log and "Task apps.replication.tasks." in volume_log
    assert "Task apps.waves.tasks.start_wave_vm[" in general_log and "Task apps.waves.tasks.run_post_hooks[" in general_log
    assert "Task apps.waves.tasks." not in volume_log and "Task apps.failover.tasks." not in general_log
