"""Async commands answer a job id at once; queryAsyncJobResult goes 0 -> 1 or 2."""

from __future__ import annotations

import pytest

from tests.lab.cloudstack.helpers import wait_job

pytestmark = pytest.mark.integration


def test_create_style_commands_answer_id_and_jobid_others_only_jobid(raw_api, world):
    created = raw_api.createVolume(name="v", zoneid=world.zone["id"],
                                   diskofferingid=world.custom_disk["id"], size=1)
    assert set(created) == {"id", "jobid"}
    wait_job(raw_api, created["jobid"])
    attached = raw_api.attachVolume(id=created["id"], virtualmachineid=world.oma_vm_id)
    assert set(attached) == {"jobid"}


def test_job_is_pending_until_done_then_carries_its_result(cloudstack_lab, raw_api, world):
    cloudstack_lab.inject("createVolume", delay=1.0)
    created = raw_api.createVolume(name="slow", zoneid=world.zone["id"],
                                   diskofferingid=world.custom_disk["id"], size=2)
    pending = raw_api.queryAsyncJobResult(jobid=created["jobid"])
    assert pending["jobstatus"] == 0
    assert "jobresult" not in pending
    done = wait_job(raw_api, created["jobid"])
    assert done["jobstatus"] == 1
    assert done["jobresultcode"] == 0
    assert done["jobinstancetype"] == "Volume" and done["jobinstanceid"] == created["id"]
    assert done["jobresult"]["volume"]["id"] == created["id"]
    assert done["jobresult"]["volume"]["size"] == 2 * 1024**3


def test_injected_failure_ends_the_job_with_530_and_the_errortext(cloudstack_lab, api, raw_api,
                                                                   world):
    volume = world.volume(api)
    cloudstack_lab.inject("attachVolume", fail=True,
                          errortext="Failed to attach volume: storage pool is full")
    job = wait_job(raw_api, raw_api.attachVolume(id=volume["id"],
                                                 virtualmachineid=world.oma_vm_id)["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresultcode"] == 530
    assert job["jobresult"] == {"errorcode": 530,
                                "errortext": "Failed to attach volume: storage pool is full"}


def test_rule_broken_inside_a_job_fails_the_job_with_431(api, raw_api, world):
    volume = world.volume(api)
    api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    job = wait_job(raw_api, raw_api.attachVolume(id=volume["id"],
                                                 virtualmachineid=world.oma_vm_id)["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"] == {"errorcode": 431, "errortext":
                                "Please specify a volume that is not attached to any VM."}


def test_list_async_jobs_shows_every_job_with_its_status(cloudstack_lab, api, raw_api, world):
    world.volume(api)
    cloudstack_lab.inject("createVolume", fail=True, errortext="nope")
    failed = raw_api.createVolume(name="bad", zoneid=world.zone["id"],
                                  diskofferingid=world.custom_disk["id"], size=1)
    wait_job(raw_api, failed["jobid"])
    jobs = api.listAsyncJobs()["asyncjobs"]
    assert [j["jobstatus"] for j in jobs] == [1, 2]
    assert jobs[0]["cmd"].endswith("CreateVolumeCmd")
    # A create job that failed leaves no volume behind.
    assert [v["name"] for v in api.listVolumes(type="DATADISK").get("volume", [])] == ["data"]
