"""Helpers for the emulator tests: a `cs` client for a lab, error capture, the seeded ids."""

from __future__ import annotations

import time

import pytest
import requests
from cs import CloudStack, CloudStackApiException


def make_api(lab, **overrides) -> CloudStack:
    options = {"endpoint": lab.url, "key": lab.api_key, "secret": lab.secret_key,
               "method": "post", "fetch_result": True, "poll_interval": 0.05, "job_timeout": 20}
    options.update(overrides)
    return CloudStack(**options)


def api_error(call, *args, **kwargs) -> tuple[int, dict]:
    """(HTTP status, body under the response key) of a call expected to fail."""
    with pytest.raises(CloudStackApiException) as info:
        call(*args, **kwargs)
    return info.value.response.status_code, info.value.error


def post_form(lab, params: dict) -> requests.Response:
    return requests.post(lab.url, data=params, timeout=10)


class World:
    """Ids of the seeded cloud, looked up once per test."""

    def __init__(self, api: CloudStack, lab):
        self.zone = api.listZones()["zone"][0]
        offerings = api.listDiskOfferings()["diskoffering"]
        self.custom_disk = next(o for o in offerings if o["iscustomized"])
        self.fixed_disk = next(o for o in offerings if not o["iscustomized"])
        services = api.listServiceOfferings()["serviceoffering"]
        self.custom_service = next(o for o in services if o["iscustomized"])
        self.small_service = next(o for o in services if o["name"] == "Small Instance")
        self.template = api.listTemplates(templatefilter="executable")["template"][0]
        self.networks = api.listNetworks()["network"]
        self.oma_vm_id = lab.oma_vm_id

    def volume(self, api: CloudStack, name: str = "data", size_gb: int = 1) -> dict:
        return api.createVolume(name=name, zoneid=self.zone["id"],
                                diskofferingid=self.custom_disk["id"], size=size_gb)["volume"]

    def vm(self, api: CloudStack, name: str = "guest", start: bool = True) -> dict:
        return api.deployVirtualMachine(
            name=name, zoneid=self.zone["id"], serviceofferingid=self.small_service["id"],
            templateid=self.template["id"], networkids=self.networks[1]["id"], startvm=start,
        )["virtualmachine"]


def wait_job(raw_api: CloudStack, jobid: str, timeout: float = 20) -> dict:
    """queryAsyncJobResult until the job leaves jobstatus 0; the whole job object."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = raw_api.queryAsyncJobResult(jobid=jobid)
        if job["jobstatus"] != 0:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {jobid} still pending after {timeout} s")
