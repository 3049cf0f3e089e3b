"""A wave through the whole stack: vcsim -> the agent (discovery, replication, final sync, power-off) -> a real Celery
worker running the wave, its hooks and the failovers -> the CloudStack emulator; the test plays beat (the sweep).

Three VMs, limit 2: the database first (its source powered off, a final sync), the application after it, a web VM
whose change-board webhook refuses: it is stopped before anything starts and reported, the others boot. The wave
rollback then reports the completed live failovers as final (nothing of a completed cut-over is reversible).
"""
from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.utils import iso
from apps.failover.models import FailoverJob, NetworkMapping
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob
from apps.scheduler import services as scheduler
from apps.settings import cloudstack as cs
from apps.waves.models import Wave, WaveVM
from apps.waves.tasks import sweep_waves
from tests.e2e.conftest import wait_for
from tests.failover.conftest import HttpPeer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]

NAMES = ("app-01", "db-01", "web-02")
FACTS_TO_FILE = ("import json, sys, pathlib; facts = json.load(sys.stdin); "
                 "pathlib.Path(sys.argv[1], facts['vm_name'] + '-' + facts['stage']).write_text(json.dumps(facts)); "
                 "print('recorded', facts['vm_name'], facts['stage'])")


def gate(body):
    return (503, {"error": "web-02 is frozen"}) if body["vm_name"] == "web-02" else (200, {"ok": True})


def replicate(stack, api, name: str) -> None:
    started = api.post("/api/v1/replications", {"vm_name": name, "replication_type": "initial"}, format="json")
    assert started.status_code == 202, started.json()
    job_id = started.json()["job_id"]
    wait_for(lambda: ReplicationJob.objects.get(job_id=job_id).status in ("completed", "failed"), 180,
             f"the initial sync of {name}", [stack.tmp / "worker.log", stack.tmp / "agent.log"])
    assert ReplicationJob.objects.get(job_id=job_id).status == "completed"


def test_a_wave_cuts_over_at_its_window_with_a_limit_and_a_refusing_hook(stack, operator_client):
    from lab.vcsim import create_vm

    logs = [stack.tmp / "worker.log", stack.tmp / "agent.log"]
    for name in NAMES:
        create_vm(stack.si, name, disks_mb=(16,), power_on=True)
    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": list(NAMES)}, format="json")
    assert added.status_code == 201, added.json()
    for name in NAMES:
        replicate(stack, operator_client, name)
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

    with HttpPeer({"/gate": gate}) as board:
        start = timezone.now() + timedelta(seconds=5)
        body = {"name": "erp-cutover", "group_id": group.pk, "max_concurrent": 2,
                "window_start": iso(start), "deadline": iso(start + timedelta(hours=1)),
                "vms": [{"vm": "app-01", "depends_on": ["db-01"], "power_off_source": False, "final_sync": False},
                        {"vm": "db-01", "power_off_source": True, "final_sync": True}],
                "hooks": [{"name": "gate", "stage": "before_final_sync", "kind": "webhook",
                           "url": board.url + "/gate", "secret": "board-key", "timeout_seconds": 5},
                          {"name": "after-off", "stage": "after_power_off", "kind": "command", "command": record},
                          {"name": "after-boot", "stage": "after_boot", "kind": "command", "command": record}]}
        created = operator_client.post("/api/v1/waves", body, format="json")
        assert created.status_code == 201, created.json()
        wave = Wave.objects.get(pk=created.json()["wave"]["id"])

        def beat_until_done():
            sweep_waves.delay()  # what beat sends every 30 s; the worker runs it
            time.sleep(1)
            return Wave.objects.get(pk=wave.pk).status not in ("scheduled", "running")

        assert Wave.objects.get(pk=wave.pk).status == "scheduled"
        wait_for(beat_until_done, 600, "the wave to finish", logs)
    wave.refresh_from_db()
    rows = {vm.vm_name: vm for vm in WaveVM.objects.filter(wave=wave).select_related("failover_job")}
    assert wave.status == "completed_with_errors", (wave.summary, {n: r.reason for n, r in rows.items()})
    assert wave.started_at >= start

    web = rows["web-02"]
    assert web.status == "skipped" and web.failover_job is None and "HTTP 503" in web.reason
    assert not FailoverJob.objects.filter(vm_context__vm_name="web-02").exists()
    assert VMContext.objects.get(vm_name="web-02").current_status == "ready_for_failover"

    db, app = rows["db-01"], rows["app-01"]
    for row in (db, app):
        assert row.status == "completed" and row.failover_job.status == "completed", row.reason
        assert client.get_vm(row.failover_job.destination_vm_id)["state"] == "Running"
    assert db.failover_job.source_powered_off_by_platform and db.failover_job.final_sync_job_id
    assert app.failover_job.created_at >= db.failover_job.completed_at  # dependencies first
    assert [e["stage"] for e in db.hook_log] == ["before_final_sync", "after_power_off", "after_boot"]
    assert [e["stage"] for e in app.hook_log] == ["before_final_sync", "after_boot"]  # app-01 kept its source on
    off = json.loads((facts_dir / "db-01-after_power_off").read_text())
    assert off["failover_job_id"] == db.failover_job.job_id and off["options"]["power_off_source"] is True
    booted = json.loads((facts_dir / "app-01-after_boot").read_text())
    assert booted["destination_vm_id"] == app.failover_job.destination_vm_id

    answer = operator_client.post(f"/api/v1/waves/{wave.pk}/rollback")
    assert answer.status_code == 202, answer.json()

    def rolled_back():
        sweep_waves.delay()
        time.sleep(1)
        return Wave.objects.get(pk=wave.pk).status == "rolled_back"

    wait_for(rolled_back, 120, "the wave rollback", logs)
    rows = {vm.vm_name: vm for vm in WaveVM.objects.filter(wave=wave)}
    assert rows["db-01"].status == rows["app-01"].status == "not_reversible"
    assert "final" in rows["app-01"].reason and rows["web-02"].status == "skipped"
