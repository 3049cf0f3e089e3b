"""A project's inventory from the platform's own discovery instead of an RVTools file."""
from __future__ import annotations

import pytest

from apps.planner.models import SourceVM
from apps.replication.models import ReplicationJob
from tests.e2e.conftest import stack, vcsim, wait_for  # noqa: F401 (vcsim, the agent, a worker, CloudStack)
from tests.factories import VMNicFactory, vm_with_disks
from tests.openapi import assert_matches_schema
from tests.planner.conftest import BASE

P = "/api/migration/projects/{project_id}"


@pytest.mark.django_db
def test_discovered_vms_become_the_projects_inventory(operator_client, viewer_client, project):
    pid = project["project_id"]
    empty = operator_client.post(f"{BASE}/{pid}/import-discovered", {}, format="json")
    assert empty.status_code == 400 and "discover" in empty.json()["detail"]
    web = vm_with_disks(2, vm_name="web01", vm_path="/DC0/vm/Org-A/web01", power_state="poweredOn",
                        guest_os_name="Ubuntu Linux (64-bit)")
    VMNicFactory(vm_context=web, label="Network adapter 2", network_name="VLAN-200")
    vm_with_disks(1, vm_name="db01", vm_path="/DC0/vm/Org-B/db01")
    response = operator_client.post(f"{BASE}/{pid}/import-discovered", {}, format="json")
    assert_matches_schema(response, P + "/import-discovered", "post")
    assert response.json()["stats"] == {"vInfo": 2, "vDisk": 3, "vNIC": 3, "vHost": 0, "vCluster": 0, "vSnapshot": 0}
    planned = SourceVM.objects.get(project_id=pid, vm_name="web01")
    assert planned.vm_context_id == web.context_id and planned.vm_uuid == web.vm_id
    assert planned.os_family == "linux" and planned.total_disk_gb > 0 and planned.folder_path == "/Org-A"
    tenants = {t["tenant_name"] for t in viewer_client.get(f"{BASE}/{pid}/tenants").json()["tenants"]}
    assert tenants == {"Org-A", "Org-B"}
    only = operator_client.post(f"{BASE}/{pid}/import-discovered", {"vm_names": ["db01"]}, format="json")
    assert only.json()["stats"]["vInfo"] == 1 and not SourceVM.objects.filter(vm_name="web01").exists()
    missing = operator_client.post(f"{BASE}/{pid}/import-discovered", {"vm_names": ["nope"]}, format="json")
    assert missing.status_code == 400 and "nope" in missing.json()["detail"]
    assert SourceVM.objects.filter(project_id=pid).count() == 1  # a refused import changes nothing


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
@pytest.mark.slow
def test_live_discovery_plan_approve_and_first_cohort_syncs(stack, operator_client, admin_client_api,  # noqa: F811
                                                            viewer_client):
    """vcsim -> agent discovery -> planner project -> assessment -> cohort -> approval -> a schedule on the
    cohort's machine group (approval's schedule) syncs its VMs through the worker -> the plan shows them synced and
    queued in the cohort's draft wave."""
    from lab.vcsim import create_vm

    for name in ("plan-web1", "plan-db1"):
        create_vm(stack.si, name, disks_mb=(64,), networks=("VM Network",))
    bulk = operator_client.post("/api/v1/discovery/bulk-add", {"filter": "plan-"}, format="json")
    assert bulk.status_code in (200, 201), bulk.content
    project = operator_client.post(BASE, {"name": "lab estate"}, format="json").json()["project"]
    pid = project["project_id"]
    assert operator_client.post(f"{BASE}/{pid}/import-discovered", {}, format="json").json()["stats"]["vInfo"] == 2
    assert operator_client.post(f"{BASE}/{pid}/assess", format="json").status_code == 200
    wave = operator_client.post(f"{BASE}/{pid}/cohorts", {"name": "Wave 1"}, format="json").json()["cohort"]["id"]
    assert operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign", format="json").json()["assigned_count"] >= 1
    approval = admin_client_api.post(f"{BASE}/{pid}/approve", format="json").json()["approval"]
    assert approval["matched_count"] == 2 and approval["unmatched_count"] == 0
    group = next(g for g in approval["machine_groups"] if g["cohort_id"] == wave)
    assert group["vm_count"] == 2
    # Approval gave the cohort's group its sync schedule, and made the cohort a draft wave (no planned dates).
    schedule_id = group["schedule_id"]
    assert operator_client.get(f"/api/v1/machine-groups/{group['group_id']}").json()["schedule_id"] == schedule_id
    cutover = next(w for w in approval["waves"] if w["cohort_id"] == wave)
    assert cutover["status"] == "draft" and cutover["wave_id"], approval["waves"]
    started = operator_client.post(f"/api/v1/schedules/{schedule_id}/trigger", {}, format="json")
    assert started.status_code in (200, 201, 202), started.content
    logs = [stack.tmp / "worker.log", stack.tmp / "agent.log"]
    wait_for(lambda: ReplicationJob.objects.filter(status="completed").count() == 2
             or ReplicationJob.objects.filter(status="failed").exists(), 240, "the cohort's two syncs", logs)
    assert not ReplicationJob.objects.filter(status="failed").exists()
    plan = viewer_client.get(f"{BASE}/{pid}/export-plan").json()
    rows = [vm for tenant in plan["tenant_plans"] for vm in tenant["vms"]]
    assert len(rows) == 2 and all(vm["last_sync_at"] and vm["actual_status"] for vm in rows), rows
    assert all(vm["wave_id"] == cutover["wave_id"] and vm["wave_status"] == "queued" for vm in rows), rows
    # Those two syncs are now what the bandwidth model goes by.
    bandwidth = viewer_client.get(f"{BASE}/{pid}/bandwidth").json()["bandwidth"]
    assert bandwidth["source"] == "measured" and bandwidth["measured_jobs"] == 2, bandwidth
    assert bandwidth["measured_stream_mbps"] > 0 and plan["project_summary"]["bandwidth_source"] == "measured"
