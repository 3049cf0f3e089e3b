"""Restore against the CloudStack emulator: a VM restored from its volume snapshots exists in CloudStack with the
snapshots' data on its disks; a failing restore rolls back what it created; REPLACE swaps the VM's own disks."""
from __future__ import annotations

import pytest

from apps.settings.choices import CloudResourceState
from apps.settings.models import CloudResource
from apps.snapshots import tasks
from apps.snapshots.models import RestoreJob
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def snapped(cloud, web):
    """Both disks snapshotted while they read 'before', then changed to 'after'."""
    root_snap = cloud.create_snapshot(web.root["id"], name="root-snap")
    data_snap = cloud.create_snapshot(web.data["id"], name="data-snap")
    web.write(web.root["id"], "root-after")
    web.write(web.data["id"], "data-after")
    return web, root_snap, data_snap


def _plan(client, web, point, **extra):
    answer = client.post("/restore/plan", {"project_id": "admin", "vm_id": web.vm["id"], "restore_point_id": point["id"],
                                           **extra}, format="json")
    return answer


def _execute(client, job_id, capture, **extra):
    with capture(execute=True):
        answer = client.post("/restore/execute", {"plan_id": job_id, **extra}, format="json")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] == "PENDING"
    return client.get(f"/restore/jobs/{job_id}").json()


def test_a_vm_restored_from_its_snapshots_exists_with_their_data(operator_client, cloud, snapped,
                                                                  django_capture_on_commit_callbacks):
    web, root_snap, data_snap = snapped
    points = operator_client.get(f"/restore/vm/{web.vm['id']}/restore-points?project_id=admin").json()
    assert [p["id"] for p in points["restore_points"]] == [root_snap["id"]] and points["vm_name"] == "web-01"
    listed = operator_client.get("/restore/snapshots?tenant_name=admin").json()
    assert {root_snap["id"], data_snap["id"]} <= {x["id"] for x in listed["results"]}

    planned = _plan(operator_client, web, root_snap, new_vm_name="web-01-restored", ip_strategy="TRY_SAME_IPS")
    assert planned.status_code == 201, planned.json()
    plan = planned.json()["plan_json"]
    assert planned.json()["status"] == "PLANNED"
    assert [(v["source_volume_id"], v["snapshot_id"]) for v in plan["volumes"]] == [
        (web.root["id"], root_snap["id"]), (web.data["id"], data_snap["id"])]
    original_ip = web.vm["nic"][0]["ipaddress"]
    assert plan["networks"][0]["original_ip"] == original_ip and plan["networks"][0]["requested_ip"] is None
    assert any("in use by VM web-01" in w for w in plan["warnings"])

    job = _execute(operator_client, planned.json()["job_id"], django_capture_on_commit_callbacks)
    assert job["status"] == "COMPLETED", job
    assert job["progress_pct"] == 100.0 and all(s["status"] == "completed" for s in job["steps"])
    vm = cloud.find("vm", job["result_vm_id"])
    assert vm["name"] == "web-01-restored" and vm["state"] == "Running"
    assert vm["nic"][0]["networkid"] == web.vm["nic"][0]["networkid"] and vm["nic"][0]["ipaddress"] != original_ip
    disks = {v["deviceid"]: v for v in cloud.list_volumes(vm_id=vm["id"])}
    made = {m["snapshot_id"]: m["volume_id"] for m in job["created_volume_ids"]}
    assert disks[0]["id"] == made[root_snap["id"]] and made[data_snap["id"]] in {v["id"] for v in disks.values()}
    assert web.read(made[root_snap["id"]]) == "root-before" and web.read(made[data_snap["id"]]) == "data-before"
    assert web.read(web.root["id"]) == "root-after"  # the original is untouched
    assert len(disks) == 2  # the template's root disk went
    # Handed over: neither the rollback nor the orphan sweep may touch them.
    assert not CloudResource.objects.filter(owner=f"restore-{job['job_id']}", state=CloudResourceState.CREATED).exists()
    jobs = operator_client.get(f"/restore/jobs?vm_id={web.vm['id']}&status=completed").json()
    assert jobs["total"] == 1 and jobs["results"][0]["job_id"] == job["job_id"]


def test_a_failing_restore_rolls_back_what_it_created(operator_client, admin_client_api, cloud, cs_lab, snapped,
                                                      django_capture_on_commit_callbacks):
    web, root_snap, _ = snapped
    before_vms = {v["id"] for v in cloud.list_virtual_machines()}
    before_volumes = {v["id"] for v in cloud.list_volumes()}
    planned = _plan(operator_client, web, root_snap).json()
    cs_lab.inject("startVirtualMachine", fail=True, errortext="Unable to start VM: insufficient capacity")
    job = _execute(operator_client, planned["job_id"], django_capture_on_commit_callbacks)
    assert job["status"] == "FAILED" and job["failed_step"] == "POWER_ON"
    assert "insufficient capacity" in job["error"]
    vm_id = job["result_vm_id"]
    assert vm_id and cloud.find("vm", vm_id) is None  # the VM it created is gone
    assert {v["id"] for v in cloud.list_volumes()} == before_volumes  # and every volume it created
    assert {v["id"] for v in cloud.list_virtual_machines()} == before_vms
    assert any(line.startswith("destroyed virtual machine") for line in job["rollback"]), job["rollback"]
    assert not CloudResource.objects.filter(owner=f"restore-{job['job_id']}", state=CloudResourceState.CREATED).exists()
    # Nothing is left to clean; retrying starts a new job from the same plan.
    cleaned = admin_client_api.post(f"/restore/jobs/{job['job_id']}/cleanup", {}, format="json").json()
    assert cleaned["cleaned"]["server"] is None and cleaned["cleaned"]["errors"] == []
    with django_capture_on_commit_callbacks(execute=True):
        retry = admin_client_api.post(f"/restore/jobs/{job['job_id']}/retry", {}, format="json")
    assert retry.status_code == 202 and retry.json()["resumed_from_step"] == "POWER_ON"
    again = RestoreJob.objects.get(job_id=retry.json()["job_id"])
    assert again.status == "COMPLETED" and cloud.find("vm", again.result_vm_id)["state"] == "Running"


def test_kept_volumes_are_reused_by_a_retry_and_removed_by_cleanup(operator_client, admin_client_api, cloud, cs_lab,
                                                                   snapped, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.MP_RESTORE_CLEANUP_VOLUMES = False
    web, root_snap, _ = snapped
    planned = _plan(operator_client, web, root_snap).json()
    cs_lab.inject("startVirtualMachine", fail=True)
    failed = _execute(operator_client, planned["job_id"], django_capture_on_commit_callbacks)
    kept = [m["volume_id"] for m in failed["created_volume_ids"]]
    assert failed["status"] == "FAILED" and cloud.find("vm", failed["result_vm_id"]) is None
    assert all(cloud.find("volume", v) is not None and not cloud.find("volume", v).get("virtualmachineid")
               for v in kept)
    with django_capture_on_commit_callbacks(execute=True):
        retry = admin_client_api.post(f"/restore/jobs/{failed['job_id']}/retry", {}, format="json").json()
    assert sorted(retry["reused_resources"]["volumes"].values()) == sorted(kept)
    done = RestoreJob.objects.get(job_id=retry["job_id"])
    assert done.status == "COMPLETED"
    assert {v["id"] for v in cloud.list_volumes(vm_id=done.result_vm_id)} == set(kept)

    planned = _plan(operator_client, web, root_snap).json()
    cs_lab.inject("startVirtualMachine", fail=True)
    failed = _execute(operator_client, planned["job_id"], django_capture_on_commit_callbacks)
    kept = [m["volume_id"] for m in failed["created_volume_ids"]]
    preserved = admin_client_api.post(f"/restore/jobs/{failed['job_id']}/cleanup", {}, format="json").json()
    assert "preserved" in preserved["cleaned"]["volume"]
    removed = admin_client_api.post(f"/restore/jobs/{failed['job_id']}/cleanup", {"delete_volume": True},
                                    format="json").json()
    assert sorted(removed["cleaned"]["volumes"]) == sorted(kept) and removed["message"] == "Cleanup completed"
    assert all(cloud.find("volume", v) is None for v in kept)


def test_replace_swaps_the_vms_own_disks_and_cleanup_storage_deletes_the_old_ones(
        operator_client, admin_client_api, cloud, snapped, django_capture_on_commit_callbacks):
    web, root_snap, data_snap = snapped
    planned = _plan(operator_client, web, root_snap, mode="REPLACE").json()
    refused = operator_client.post("/restore/execute", {"plan_id": planned["job_id"]}, format="json")
    assert refused.status_code == 400 and "DELETE AND RESTORE web-01" in refused.json()["detail"]
    job = _execute(operator_client, planned["job_id"], django_capture_on_commit_callbacks,
                   confirm_destructive="DELETE AND RESTORE web-01")
    assert job["status"] == "COMPLETED", job
    vm = cloud.find("vm", web.vm["id"])
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"] == web.vm["nic"][0]["ipaddress"]
    disks = {v["deviceid"]: v["id"] for v in cloud.list_volumes(vm_id=web.vm["id"])}
    assert web.read(disks[0]) == "root-before" and web.read(disks[1]) == "data-before"
    old = [o["volume_id"] for o in job["old_volume_ids"]]
    assert sorted(old) == sorted([web.root["id"], web.data["id"]])
    assert web.read(web.root["id"]) == "root-after"  # kept, detached
    answer = admin_client_api.post(f"/restore/jobs/{job['job_id']}/cleanup-storage?delete_source_snapshot=true")
    result = answer.json()["result"]
    assert sorted(result["deleted_volumes"]) == sorted(old)
    assert sorted(result["deleted_snapshots"]) == sorted([root_snap["id"], data_snap["id"]])
    assert all(cloud.find("volume", v) is None for v in old)


def test_a_failing_replace_puts_the_original_disks_back(operator_client, cloud, cs_lab, snapped,
                                                        django_capture_on_commit_callbacks):
    web, root_snap, _ = snapped
    planned = _plan(operator_client, web, root_snap, mode="REPLACE").json()
    cs_lab.inject("startVirtualMachine", fail=True, count=1)  # the restored start fails; the put-back start works
    job = _execute(operator_client, planned["job_id"], django_capture_on_commit_callbacks,
                   confirm_destructive="DELETE AND RESTORE web-01")
    assert job["status"] == "FAILED" and job["failed_step"] == "POWER_ON"
    disks = {v["deviceid"]: v["id"] for v in cloud.list_volumes(vm_id=web.vm["id"])}
    assert disks == {0: web.root["id"], 1: web.data["id"]}
    assert cloud.find("vm", web.vm["id"])["state"] == "Running"
    assert all(cloud.find("volume", m["volume_id"]) is None for m in job["created_volume_ids"])


def test_addresses_and_plan_refusals(operator_client, cloud, snapped):
    web, root_snap, data_snap = snapped
    network = web.vm["nic"][0]["networkid"]
    free = operator_client.get(f"/restore/networks/{network}/available-ips").json()
    subnet = free["subnets"][0]
    assert web.vm["nic"][0]["ipaddress"] not in subnet["available_ips"]
    assert subnet["gateway_ip"] not in subnet["available_ips"] and subnet["available_count"] >= len(
        subnet["available_ips"]) > 0
    assert operator_client.get("/restore/networks/nope/available-ips").status_code == 404
    same = _plan(operator_client, web, root_snap, ip_strategy="SAME_IPS_OR_FAIL")
    assert same.status_code == 409 and "in use by VM web-01" in same.json()["detail"]
    manual = _plan(operator_client, web, root_snap, ip_strategy="MANUAL_IP",
                   manual_ips={network: subnet["available_ips"][0]})
    assert manual.json()["plan_json"]["networks"][0]["requested_ip"] == subnet["available_ips"][0]
    outside = _plan(operator_client, web, root_snap, ip_strategy="MANUAL_IP", manual_ips={network: "192.0.2.9"})
    assert outside.status_code == 400 and "not assignable" in outside.json()["detail"]
    assert _plan(operator_client, web, data_snap).status_code == 400  # not the boot volume's snapshot
    assert _plan(operator_client, web, {"id": "nope"}).status_code == 404
    other = operator_client.post("/restore/plan", {"project_id": "someone-else", "vm_id": web.vm["id"],
                                                   "restore_point_id": root_snap["id"]}, format="json")
    assert other.status_code == 404 and "not in project someone-else" in other.json()["detail"]
    taken = _plan(operator_client, web, root_snap, new_vm_name="web-01")
    assert taken.status_code == 409


def test_answers_match_the_published_schema(operator_client, admin_client_api, cloud, snapped,
                                            django_capture_on_commit_callbacks):
    web, root_snap, _ = snapped
    network = web.vm["nic"][0]["networkid"]
    checks = [
        (operator_client.get("/restore/config"), "/restore/config", "get"),
        (operator_client.get("/restore/snapshots?tenant_name=admin"), "/restore/snapshots", "get"),
        (operator_client.get(f"/restore/vm/{web.vm['id']}/restore-points?project_id=admin"),
         "/restore/vm/{vm_id}/restore-points", "get"),
        (operator_client.get(f"/restore/networks/{network}/available-ips"),
         "/restore/networks/{network_id}/available-ips", "get"),
    ]
    planned = _plan(operator_client, web, root_snap)
    checks.append((planned, "/restore/plan", "post"))
    with django_capture_on_commit_callbacks(execute=True):
        checks.append((operator_client.post("/restore/execute", {"plan_id": planned.json()["job_id"]}, format="json"),
                       "/restore/execute", "post"))
    job_id = planned.json()["job_id"]
    checks += [(operator_client.get("/restore/jobs"), "/restore/jobs", "get"),
               (operator_client.get(f"/restore/jobs/{job_id}"), "/restore/jobs/{job_id}", "get"),
               (admin_client_api.post(f"/restore/jobs/{job_id}/cleanup-storage"),
                "/restore/jobs/{job_id}/cleanup-storage", "post")]
    policy = admin_client_api.post("/snapshot-policies", {"name": "p", "interval_minutes": 60, "retention_count": 1},
                                   format="json")
    checks.append((policy, "/snapshot-policies", "post"))
    assigned = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy.json()["id"],
                                                               "volume_ids": [web.data["id"]]}, format="json")
    checks.append((assigned, "/snapshot-assignments", "post"))
    run_id = tasks.run_due_policies()
    checks += [(admin_client_api.get("/snapshot-policies"), "/snapshot-policies", "get"),
               (admin_client_api.get("/snapshot-assignments"), "/snapshot-assignments", "get"),
               (admin_client_api.get("/snapshot-runs"), "/snapshot-runs", "get"),
               (admin_client_api.get(f"/snapshot/runs/{run_id}/progress"), "/snapshot/runs/{run_id}/progress", "get"),
               (admin_client_api.get("/snapshot/runs/active/progress"), "/snapshot/runs/active/progress", "get"),
               (admin_client_api.get("/snapshot/run-now/status"), "/snapshot/run-now/status", "get")]
    for response, path, method in checks:
        assert response.status_code < 300, (path, response.json())
        assert_matches_schema(response, path, method)


def test_restore_onto_another_network(operator_client, cloud, snapped, django_capture_on_commit_callbacks):
    web, root_snap, _ = snapped
    original = web.vm["nic"][0]["networkid"]
    other = next(n for n in cloud.list_networks() if n["id"] != original and n.get("cidr"))
    planned = _plan(operator_client, web, root_snap, ip_strategy="TRY_SAME_IPS", network_map={original: other["id"]})
    nic = planned.json()["plan_json"]["networks"][0]
    assert (nic["network_id"], nic["original_network_id"], nic["requested_ip"]) == (other["id"], original, None)
    assert any("is not an address of network" in w for w in planned.json()["plan_json"]["warnings"])
    job = _execute(operator_client, planned.json()["job_id"], django_capture_on_commit_callbacks)
    vm = cloud.find("vm", job["result_vm_id"])
    assert [n["networkid"] for n in vm["nic"]] == [other["id"]]
    strange = _plan(operator_client, web, root_snap, network_map={"nope": other["id"]})
    assert strange.status_code == 400 and "not on: nope" in strange.json()["detail"]
    missing = _plan(operator_client, web, root_snap, network_map={original: "gone"})
    assert missing.status_code == 400 and "CloudStack has no network gone" in missing.json()["detail"]
