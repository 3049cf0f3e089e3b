"""Waves through the CloudStack emulator (real failovers, the worker played eagerly): a cutover at its window with a
limit, an order, a failing pre-hook and an after-boot command; a rehearsal ended together; the wave rollback."""
from __future__ import annotations

import hashlib
import hmac
import json
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import JobEvent
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.scheduler import services as scheduler
from apps.waves.models import Wave, WaveVM
from apps.waves.tasks import sweep_waves
from tests.failover.conftest import HttpPeer, make_replicated_vm, map_networks
from tests.openapi import assert_matches_schema

from .conftest import no_power, window

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SMOKE = ("import json, sys; facts = json.load(sys.stdin); "
         "print('smoke ok', facts['vm_name'], facts['destination_vm_id'], facts['stage'])")
NAMES = ("app-01", "db-01", "web-02")


def gate(body):
    """The change board's webhook: web-02 is frozen."""
    return (500, {"error": "change freeze for web-02"}) if body["vm_name"] == "web-02" else (200, {"ok": True})


@pytest.fixture
def estate(cloud, cloud_config, client, networks, monkeypatch):
    from tests.factories import CredentialFactory
    from tests.failover import conftest as failover_lab

    credential = CredentialFactory()  # one vCenter for the estate (there is one default credential)
    monkeypatch.setattr(failover_lab, "CredentialFactory", lambda: credential)
    vms = {name: make_replicated_vm(cloud, cloud_config, client, name=name, disks=1) for name in NAMES}
    for vm in vms.values():
        map_networks(vm, networks)
    group = scheduler.group_create(data={"name": "erp"})
    scheduler.group_assign_vms(group=group, vm_contexts=[vm.context for vm in vms.values()])
    return group, vms


def wave_body(group, url: str, **extra) -> dict:
    vms = no_power(*NAMES)
    vms[0]["depends_on"] = ["db-01"]  # the application after its database
    return {"name": "erp-cutover", "group_id": group.pk, "max_concurrent": 2, "vms": vms, **window(), **extra,
            "hooks": [{"name": "gate", "stage": "before_final_sync", "kind": "webhook", "url": url,
                       "secret": "board-key", "retries": 1, "timeout_seconds": 5},
                      {"name": "smoke", "stage": "after_boot", "kind": "command",
                       "command": [sys.executable, "-c", SMOKE], "timeout_seconds": 30}]}


def beat(capture) -> None:
    """What beat does every half minute, with the worker's tasks run as they are queued."""
    with capture(execute=True):
        sweep_waves.apply()


def test_cutover_at_its_window_then_rollback(operator_client, estate, client, django_capture_on_commit_callbacks):
    group, vms = estate
    with HttpPeer({"/gate": gate}) as board:
        created = operator_client.post("/api/v1/waves", wave_body(group, board.url + "/gate"), format="json")
        assert created.status_code == 201, created.json()
        wave = Wave.objects.get(pk=created.json()["wave"]["id"])
        beat(django_capture_on_commit_callbacks)
        wave.refresh_from_db()
        assert wave.status == "scheduled" and not FailoverJob.objects.exists() and not board.requests

        Wave.objects.filter(pk=wave.pk).update(window_start=timezone.now() - timedelta(seconds=1))  # the window came
        for _ in range(3):  # a VM waiting for its dependency starts on a later round
            beat(django_capture_on_commit_callbacks)
    wave.refresh_from_db()
    rows = {vm.vm_name: vm for vm in WaveVM.objects.select_related("failover_job")}
    assert wave.status == "completed_with_errors", (wave.summary, {n: r.reason for n, r in rows.items()})

    # web-02's pre-hook failed: nothing started for it, the reason is kept; the others cut over.
    frozen = rows["web-02"]
    assert frozen.status == "skipped" and frozen.failover_job is None
    assert "Pre-hook 'gate' failed" in frozen.reason and "HTTP 500" in frozen.reason
    assert "change freeze" in frozen.reason
    assert VMContext.objects.get(vm_name="web-02").current_status == "ready_for_failover"
    assert not FailoverJob.objects.filter(vm_context__vm_name="web-02").exists()
    for name in ("db-01", "app-01"):
        row = rows[name]
        assert row.status == "completed" and row.failover_job.status == "completed", row.reason
        assert row.failover_job.job_type == "live"
        assert client.get_vm(row.failover_job.destination_vm_id)["state"] == "Running"
        stages = [(entry["hook"], entry["stage"], entry["ok"]) for entry in row.hook_log]
        assert stages == [("gate", "before_final_sync", True), ("smoke", "after_boot", True)], row.hook_log
        assert f"smoke ok {name} {row.failover_job.destination_vm_id} after_boot" in row.hook_log[1]["output"]
    # Dependencies first: the application's failover began after its database's had completed.
    assert rows["app-01"].failover_job.created_at >= rows["db-01"].failover_job.completed_at
    # The board got signed facts: 1 call each for the two that went, 2 (one retry) for the frozen one.
    assert sorted(r["body"]["vm_name"] for r in board.requests) == ["app-01", "db-01", "web-02", "web-02"]
    for request in board.requests:
        raw = json.dumps(request["body"], sort_keys=True).encode()
        assert request["headers"]["X-MP-Signature"] == "sha256=" + hmac.new(b"board-key", raw,
                                                                            hashlib.sha256).hexdigest()

    detail = operator_client.get(f"/api/v1/waves/{wave.pk}")
    assert_matches_schema(detail, "/api/v1/waves/{id}", "get")
    assert detail.json()["vms_completed"] == 2 and detail.json()["vms_skipped"] == 1
    listed = operator_client.get("/api/v1/waves", {"status": "completed_with_errors"}).json()
    assert [w["name"] for w in listed["results"]] == ["erp-cutover"]

    # Rollback: a completed live failover is final, so nothing here is reversible; each says why, last first.
    with django_capture_on_commit_callbacks(execute=True):
        answer = operator_client.post(f"/api/v1/waves/{wave.pk}/rollback")
    assert answer.status_code == 202, answer.json()
    wave.refresh_from_db()
    assert wave.status == "rolled_back", wave.summary
    rows = {vm.vm_name: vm for vm in WaveVM.objects.all()}
    assert rows["web-02"].status == "skipped"
    for name in ("db-01", "app-01"):
        assert rows[name].status == "not_reversible" and "final" in rows[name].reason
    order = [e.message for e in JobEvent.objects.filter(job_kind="wave", job_id=str(wave.pk), step="rollback")
             .order_by("id")][1:]
    assert "app-01" in order[0] and "db-01" in order[1]


def test_rehearsal_runs_test_failovers_and_ends_them_together(operator_client, estate, client,
                                                              django_capture_on_commit_callbacks):
    group, vms = estate
    with HttpPeer({"/gate": gate}) as board:
        cutover = operator_client.post("/api/v1/waves", wave_body(group, board.url + "/gate"), format="json")
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(f"/api/v1/waves/{cutover.json()['wave']['id']}/rehearsal", {},
                                            format="json")
        assert response.status_code == 201, response.json()
        rehearsal = Wave.objects.get(pk=response.json()["wave"]["id"])
        for _ in range(3):
            beat(django_capture_on_commit_callbacks)
    rehearsal.refresh_from_db()
    rows = {vm.vm_name: vm for vm in WaveVM.objects.filter(wave=rehearsal).select_related("test_job")}
    assert rehearsal.status == "completed_with_errors", (rehearsal.summary, {n: r.reason for n, r in rows.items()})
    assert rows["web-02"].status == "skipped" and "Pre-hook 'gate' failed" in rows["web-02"].reason
    for name in ("db-01", "app-01"):
        row = rows[name]
        assert row.status == "completed" and row.failover_job is None, row.reason
        assert row.test_job.job_type == "test" and row.test_job.ended_at is not None, row.test_job.status
        assert [e["stage"] for e in row.hook_log] == ["before_final_sync", "after_boot"]
    # Ended together: both test VMs were up before the first was ended.
    ends = sorted(row.test_job.ended_at for row in rows.values() if row.test_job)
    ups = sorted(row.test_job.completed_at for row in rows.values() if row.test_job)
    assert ups[-1] <= ends[0]
    # Everything is back on the control plane; the cutover wave still waits for its window.
    assert client.list_snapshots() == []
    assert {v["name"] for v in client.list_virtual_machines()} == {"oma", "web-01"}
    assert set(VMContext.objects.values_list("current_status", flat=True)) == {"ready_for_failover"}
    assert Wave.objects.get(pk=cutover.json()["wave"]["id"]).status == "scheduled"


def test_test_first_runs_and_ends_a_test_before_the_live_failover(operator_client, estate, client,
                                                                  django_capture_on_commit_callbacks):
    body = {"name": "careful", "vms": no_power("db-01", test_first=True), "max_concurrent": 1,
            **window(start_in=timedelta(0))}
    with django_capture_on_commit_callbacks(execute=True):
        created = operator_client.post("/api/v1/waves", body, format="json")
    assert created.status_code == 201, created.json()
    for _ in range(3):
        beat(django_capture_on_commit_callbacks)
    row = WaveVM.objects.select_related("test_job", "failover_job", "wave").get()
    assert row.wave.status == "completed" and row.status == "completed", row.reason
    assert row.test_job.job_type == "test" and row.test_job.ended_at is not None
    assert row.failover_job.job_type == "live" and row.failover_job.status == "completed"
    assert row.failover_job.created_at >= row.test_job.ended_at
    assert VMContext.objects.get(vm_name="db-01").current_status == "failed_over"


def test_rollback_ends_what_is_reversible_last_first(operator_client, estate, client, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    from apps.waves import engine, jobs

    body = {"name": "rehearse", "kind": "rehearsal", "vms": no_power("db-01", "web-02", "app-01"),
            "max_concurrent": 1, **window(start_in=timedelta(0))}
    wave_id = operator_client.post("/api/v1/waves", body, format="json").json()["wave"]["id"]
    # Play the worker by hand (the wave's own messages held back): two test VMs come up, the third never starts.
    monkeypatch.setattr(jobs, "queue", lambda *args: None)
    for name in ("db-01", "web-02"):
        engine.advance(wave_id)
        with django_capture_on_commit_callbacks(execute=True):
            engine.start_vm(WaveVM.objects.get(vm_name=name).pk)
        engine.advance(wave_id)
        assert WaveVM.objects.get(vm_name=name).test_job.test_running
    WaveVM.objects.filter(vm_name="app-01").update(status="queued")  # its start never ran
    monkeypatch.undo()
    assert {v["name"] for v in client.list_virtual_machines()} > {"oma", "web-01"}

    with django_capture_on_commit_callbacks(execute=True):
        answer = operator_client.post(f"/api/v1/waves/{wave_id}/rollback")
    assert answer.status_code == 202, answer.json()
    for _ in range(3):
        beat(django_capture_on_commit_callbacks)
    rows = {vm.vm_name: vm for vm in WaveVM.objects.select_related("test_job", "wave")}
    assert rows["db-01"].wave.status == "rolled_back", rows["db-01"].wave.summary
    assert rows["app-01"].status == "cancelled"
    for name in ("db-01", "web-02"):
        assert rows[name].status == "rolled_back", rows[name].reason
        assert rows[name].test_job.ended_at is not None
    assert rows["web-02"].test_job.ended_at <= rows["db-01"].test_job.ended_at  # last first
    assert client.list_snapshots() == []
    assert {v["name"] for v in client.list_virtual_machines()} == {"oma", "web-01"}
    assert set(VMContext.objects.values_list("current_status", flat=True)) == {"ready_for_failover"}
