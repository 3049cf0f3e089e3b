"""The bandwidth model from our own syncs: once replication jobs completed, their median speed is what one agent
stream moves and their median incremental share is the change rate; before that, the project's model."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.replication.models import ReplicationJob
from tests.factories import VMContextFactory, VMDiskFactory
from tests.openapi import assert_matches_schema
from tests.planner.conftest import BASE

pytestmark = pytest.mark.django_db
P = "/api/migration/projects/{project_id}"
GiB = 1024 ** 3


def _job(vm, n: int, kind: str, moved: int, seconds: float, **fields) -> ReplicationJob:
    end = timezone.now() - timedelta(minutes=n)
    return ReplicationJob.objects.create(
        job_id=f"job-{vm.vm_name}-{n}", vm_context=vm, replication_type=kind, status=fields.pop("status", "completed"),
        bytes_total=moved, bytes_transferred=moved, started_at=end - timedelta(seconds=seconds), completed_at=end,
        **fields)


def test_bandwidth_uses_our_own_syncs_once_any_completed(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    before = viewer_client.get(f"{BASE}/{pid}/bandwidth")
    assert_matches_schema(before, P + "/bandwidth", "get")
    model = before.json()["bandwidth"]
    assert model["source"] == "model" and model["measured_jobs"] == 0 and model["measured_stream_mbps"] is None
    assert model["change_rate_pct"] == 5.0 and model["change_rate_source"] == "model"
    assert model["agent_effective_mbps"] == 2 * 5 * 350.0
    plan_before = viewer_client.get(f"{BASE}/{pid}/export-plan").json()
    assert plan_before["project_summary"]["bandwidth_source"] == "model"

    vm = VMContextFactory(vm_name="measured-01")
    VMDiskFactory(vm_context=vm, unit_number=0, disk_id="disk-0", disk_key=2000, capacity_bytes=20 * GiB)
    # Full copies of 10 GiB in 100, 200 and 400 s: 859, 429 and 215 Mbit/s; the median is 429.5.
    for n, seconds in enumerate((100, 200, 400)):
        _job(vm, n, "initial", 10 * GiB, seconds)
    # Incrementals carrying 1, 2 and 3 GiB of the VM's 20 GiB (5, 10, 15 %) in 100 s each.
    for n, gib in enumerate((1, 2, 3), start=3):
        _job(vm, n, "incremental", gib * GiB, 100)
    # Neither a capped sync nor a failed one says what the platform can do.
    _job(vm, 10, "initial", 10 * GiB, 10_000, bandwidth_limit=1024 * 1024)
    _job(vm, 11, "initial", 10 * GiB, 1, status="failed")

    after = viewer_client.get(f"{BASE}/{pid}/bandwidth")
    assert_matches_schema(after, P + "/bandwidth", "get")
    measured = after.json()["bandwidth"]
    speeds = sorted([10 * GiB * 8 / 1e6 / s for s in (100, 200, 400)]
                    + [g * GiB * 8 / 1e6 / 100 for g in (1, 2, 3)])
    median = round((speeds[2] + speeds[3]) / 2, 1)
    assert measured["source"] == "measured" and measured["measured_jobs"] == 6
    assert measured["measured_stream_mbps"] == median
    assert measured["agent_effective_mbps"] == round(2 * 5 * median, 1)
    assert measured["change_rate_pct"] == 10.0 and measured["change_rate_source"] == "measured"
    plan_after = viewer_client.get(f"{BASE}/{pid}/export-plan")
    assert_matches_schema(plan_after, P + "/export-plan", "get")
    summary = plan_after.json()["project_summary"]
    assert summary["bandwidth_source"] == "measured" and summary["change_rate_pct"] == 10.0
    # The estimates follow: the largest VM's cutover is its measured 10 % at the measured per-slot speed.
    rows = {vm["vm_name"]: vm for t in plan_after.json()["tenant_plans"] for vm in t["vms"]}
    largest = max(rows.values(), key=lambda vm: vm["in_use_gb"] or vm["total_disk_gb"])
    used = largest["in_use_gb"] or largest["total_disk_gb"]
    per_slot = measured["bottleneck_mbps"] / 10
    assert largest["warm_cutover_hours"] == round(used * 0.10 * 8 * 1024 / per_slot / 3600 + 0.25, 2)
