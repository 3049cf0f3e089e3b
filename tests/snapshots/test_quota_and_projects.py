"""Restores and snapshot runs against the owner's CloudStack resource limits, and restores of a project's VM.

The restore plan checks `quota_sufficient` from CloudStack's own figures (listProjects/listAccounts:
primarystoragelimit, primarystoragetotal, volumelimit, volumetotal): a plan past the limit says so and cannot be
executed. A project's VM is restored into the project (its new VM and volumes carry the projectid). A run's
quota_blocks carry the owner's secondary storage and snapshot figures read when CloudStack refused.
"""
from __future__ import annotations

import pytest

from apps.snapshots import tasks
from apps.snapshots.models import SnapshotRun
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def project_vm(cloud, web):
    """payroll-01, a running VM of the project payroll with a 2 GB data disk, both disks snapshotted."""
    domain = cloud.list_domains()[0]
    project = cloud.run_job("createProject", "project", name="payroll", domainid=domain["id"], account="admin")
    owner = {"projectid": project["id"]}
    vm = cloud.run_job("deployVirtualMachine", "virtualmachine", name="payroll-01", zoneid=web.vm["zoneid"],
                       serviceofferingid=web.vm["serviceofferingid"], templateid=web.vm["templateid"],
                       networkids=web.vm["nic"][0]["networkid"], startvm=True, **owner)
    data = cloud.run_job("createVolume", "volume", name="payroll-01-data", zoneid=vm["zoneid"],
                         diskofferingid=cloud.custom_disk_offering()["id"], size=2, **owner)
    cloud.attach_volume(data["id"], vm["id"])
    root = next(v for v in cloud.list_everywhere("listVolumes", virtualmachineid=vm["id"]) if v["type"] == "ROOT")
    root_snap = cloud.create_snapshot(root["id"], name="payroll-root")
    data_snap = cloud.create_snapshot(data["id"], name="payroll-data")
    return {"project": project, "vm": vm, "root": root, "data": data, "root_snap": root_snap,
            "data_snap": data_snap}


def _plan(client, project_vm, **extra):
    return client.post("/restore/plan", {"project_id": project_vm["project"]["id"], "vm_id": project_vm["vm"]["id"],
                                         "restore_point_id": project_vm["root_snap"]["id"],
                                         "new_vm_name": "payroll-01-restored", **extra}, format="json")


def test_a_project_vm_is_restored_into_its_project_within_its_quota(operator_client, cloud, project_vm,
                                                                   django_capture_on_commit_callbacks):
    project = project_vm["project"]
    points = operator_client.get(f"/restore/vm/{project_vm['vm']['id']}/restore-points",
                                 {"project_id": project["id"]}).json()
    assert [p["id"] for p in points["restore_points"]] == [project_vm["root_snap"]["id"]]
    listed = operator_client.get("/restore/snapshots", {"tenant_name": "payroll"}).json()
    assert {x["id"] for x in listed["results"]} == {project_vm["root_snap"]["id"], project_vm["data_snap"]["id"]}
    planned = _plan(operator_client, project_vm)
    assert planned.status_code == 201, planned.json()
    assert_matches_schema(planned, "/restore/plan", "post")
    plan = planned.json()["plan_json"]
    assert plan["owner"] == {"projectid": project["id"]}
    assert plan["checks"] == [{"check_name": "quota_sufficient", "check_status": "pass"}]
    needed = sum(v["size_gb"] for v in plan["volumes"])
    assert plan["quota"] == {"tenant_name": "payroll", "quota_needed_gb": needed, "volumes_needed": 2,
                             "quota_limit_gb": 200, "quota_used_gb": needed, "volume_limit": 20,
                             "volumes_used": 2}  # the project's two disks, as large as their snapshots

    with django_capture_on_commit_callbacks(execute=True):
        started = operator_client.post("/restore/execute", {"plan_id": planned.json()["job_id"]}, format="json")
    assert started.status_code == 202, started.json()
    job = operator_client.get(f"/restore/jobs/{planned.json()['job_id']}").json()
    assert job["status"] == "COMPLETED", job
    vm = cloud.find("vm", job["result_vm_id"])
    assert (vm["name"], vm["state"], vm.get("projectid"), vm.get("project")) == (
        "payroll-01-restored", "Running", project["id"], "payroll")
    disks = cloud.list_everywhere("listVolumes", virtualmachineid=vm["id"])
    assert {d["id"] for d in disks} == {m["volume_id"] for m in job["created_volume_ids"]}
    assert {d.get("projectid") for d in disks} == {project["id"]}
    # CloudStack now counts them against the project.
    [shown] = cloud.list_all("listProjects", id=project["id"], listall=True)
    assert (shown["volumetotal"], shown["primarystoragetotal"]) == (4, 2 * needed)


def test_a_restore_past_the_projects_storage_limit_says_so_and_is_not_executed(
        operator_client, cloud, project_vm, django_capture_on_commit_callbacks):
    project = project_vm["project"]
    cloud.call("updateResourceLimit", resourcetype=10, max=4, projectid=project["id"])  # primary storage, GiB
    planned = _plan(operator_client, project_vm)
    assert planned.status_code == 201, planned.json()
    plan = planned.json()["plan_json"]
    needed = plan["quota"]["quota_needed_gb"]
    [check] = plan["checks"]
    assert check["check_name"] == "quota_sufficient" and check["check_status"] == "fail"
    assert check["notes"].startswith(f"Insufficient quota for tenant payroll: primary storage: {needed} GiB needed, "
                                     f"{needed} of 4 GiB used")
    assert check["notes"] in plan["warnings"]
    assert (plan["quota"]["quota_limit_gb"], plan["quota"]["quota_used_gb"]) == (4, needed)

    refused = operator_client.post("/restore/execute", {"plan_id": planned.json()["job_id"]}, format="json")
    assert refused.status_code == 409
    assert "failed its quota_sufficient check: Insufficient quota for tenant payroll" in refused.json()["detail"]
    assert operator_client.get(f"/restore/jobs/{planned.json()['job_id']}").json()["status"] == "PLANNED"
    assert not any(v["name"] == "payroll-01-restored" for v in cloud.list_everywhere("listVirtualMachines"))

    cloud.call("updateResourceLimit", resourcetype=10, max=-1, projectid=project["id"])  # unlimited again
    again = _plan(operator_client, project_vm).json()
    assert again["plan_json"]["checks"][0]["check_status"] == "pass"
    assert again["plan_json"]["quota"]["quota_limit_gb"] is None

    # The limit drops between plan and execution: the job's first step checks again and creates nothing.
    cloud.call("updateResourceLimit", resourcetype=10, max=4, projectid=project["id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_client.post("/restore/execute", {"plan_id": again["job_id"]},
                                    format="json").status_code == 202
    job = operator_client.get(f"/restore/jobs/{again['job_id']}").json()
    assert (job["status"], job["failed_step"]) == ("FAILED", "VALIDATE")
    assert "Insufficient quota for tenant payroll: primary storage" in job["error"]
    assert job["created_volume_ids"] == [] and job["result_vm_id"] in (None, "")


def test_quota_blocks_carry_the_owners_figures(admin_client_api, cloud, project_vm, cs_lab):
    project = project_vm["project"]
    cloud.call("updateResourceLimit", resourcetype=3, max=2, projectid=project["id"])  # snapshots: 2 of 2 used
    cloud.call("updateResourceLimit", resourcetype=11, max=5, projectid=project["id"])  # secondary storage, GiB
    policy = admin_client_api.post("/snapshot-policies", {"name": "tenant_hourly", "interval_minutes": 60,
                                                          "retention_count": 3}, format="json").json()
    assigned = admin_client_api.post("/snapshot-assignments", {"policy_set_id": policy["id"],
                                                               "volume_ids": [project_vm["data"]["id"]]},
                                     format="json")
    assert assigned.status_code == 201, assigned.json()
    # The emulator does not enforce limits: it refuses as CloudStack does at this point (error 535).
    cs_lab.inject("createSnapshot", fail=True, errortext="Maximum number of resources of type 'snapshot' for "
                  f"project name=payroll in domain id={project['domainid']} has been exceeded.", errorcode=535)
    run = SnapshotRun.objects.get(pk=tasks.run_due_policies())
    assert run.quota_blocked == 1
    progress = admin_client_api.get(f"/snapshot/runs/{run.pk}/progress")
    assert_matches_schema(progress, "/snapshot/runs/{run_id}/progress", "get")
    [block] = progress.json()["quota_blocks"]
    used = round(sum(s["virtualsize"] for s in (project_vm["root_snap"], project_vm["data_snap"])) / 1024 ** 3)
    assert (block["tenant_name"], block["quota_limit_gb"], block["quota_used_gb"], block["quota_needed_gb"]) == (
        "payroll", 5, used, 2)
    assert (block["snapshot_limit"], block["snapshots_used"]) == (2, 2)
    assert "type 'snapshot'" in block["block_reason"]


def test_replace_of_a_project_vm_swaps_in_disks_of_the_project(operator_client, admin_client_api, cloud, project_vm,
                                                               django_capture_on_commit_callbacks):
    project, vm = project_vm["project"], project_vm["vm"]
    planned = _plan(operator_client, project_vm, mode="REPLACE", new_vm_name="")
    assert planned.status_code == 201, planned.json()
    with django_capture_on_commit_callbacks(execute=True):
        started = operator_client.post("/restore/execute", {"plan_id": planned.json()["job_id"],
                                                            "confirm_destructive": "DELETE AND RESTORE payroll-01"},
                                       format="json")
    assert started.status_code == 202, started.json()
    job = operator_client.get(f"/restore/jobs/{planned.json()['job_id']}").json()
    assert job["status"] == "COMPLETED", job
    disks = cloud.list_everywhere("listVolumes", virtualmachineid=vm["id"])
    assert {d["id"] for d in disks} == {m["volume_id"] for m in job["created_volume_ids"]}
    assert {d.get("projectid") for d in disks} == {project["id"]}
    assert cloud.find("vm", vm["id"])["state"] == "Running"
    # The originals, kept detached, are the project's too until cleanup-storage deletes them.
    old = [o["volume_id"] for o in job["old_volume_ids"]]
    assert {cloud.find("volume", v).get("projectid") for v in old} == {project["id"]}
    result = admin_client_api.post(f"/restore/jobs/{job['job_id']}/cleanup-storage?delete_old_volume=true").json()
    assert sorted(result["result"]["deleted_volumes"]) == sorted(old)
