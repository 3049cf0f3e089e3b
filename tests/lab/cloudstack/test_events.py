"""listEvents: each action's Scheduled/Started/Completed events (ERROR when its job fails), filtered and scoped."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.lab.cloudstack.helpers import api_error, make_api

pytestmark = pytest.mark.integration


def _events(api, **filters) -> list[dict]:
    return api.listEvents(**filters).get("event", [])


def test_an_async_action_is_scheduled_started_and_completed_by_its_caller(api, world):
    vm = world.vm(api, name="ev-1")
    api.stopVirtualMachine(id=vm["id"])
    stops = _events(api, type="VM.STOP")
    assert [e["state"] for e in stops] == ["Completed", "Started", "Scheduled"]  # newest first
    done = stops[0]
    assert done["level"] == "INFO" and done["username"] == "admin" and done["account"] == "admin"
    assert done["description"] == f"Successfully completed stopping Vm. Vm Id: {vm['id']}"
    assert done["parentid"] == stops[1]["id"]
    assert done["resourceid"] == vm["id"] and done["resourcetype"] == "VirtualMachine"
    assert {"domainid", "domain", "created"} <= set(done)
    assert _events(api, type="VM.CREATE")[0]["state"] == "Completed"
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    (expunged,) = _events(api, type="VM.EXPUNGE")
    assert expunged["description"] == f"Successfully completed expunging Vm. Vm Id: {vm['id']}"
    assert _events(api, type="VM.DESTROY")[0]["state"] == "Completed"


def test_a_sync_delete_is_one_completed_event_and_filters_apply(api, world):
    volume = world.volume(api, name="gone")
    api.deleteVolume(id=volume["id"])
    deleted = _events(api, type="VOLUME.DELETE")
    assert [(e["state"], e["resourceid"]) for e in deleted] == [("Completed", volume["id"])]
    assert _events(api, keyword="deleting volume")[0]["id"] == deleted[0]["id"]
    assert _events(api, type="VOLUME.DELETE", level="ERROR") == []
    assert _events(api, startdate="2999-01-01") == []
    assert len(_events(api, enddate="2999-01-01")) >= 4
    page = api.listEvents(page=1, pagesize=1)
    assert len(page["event"]) == 1 and page["count"] >= 4
    status, error = api_error(api.listEvents, startdate="yesterday")
    assert status == 431


def test_a_failed_job_is_an_error_event(cloudstack_lab, api, world):
    volume = world.volume(api, name="stuck")
    cloudstack_lab.inject("attachVolume", fail=True, errortext="storage pool full")
    with pytest.raises(CloudStackApiException):
        api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)
    (error,) = _events(api, type="VOLUME.ATTACH", level="ERROR")
    assert error["state"] == "Completed"
    assert error["description"] == f"Error while attaching volume. Volume Id: {volume['id']}: storage pool full"


def test_a_user_key_lists_only_its_accounts_events(cloudstack_lab, api, world):
    world.vm(api, name="admins")
    user = make_api(cloudstack_lab, key=cloudstack_lab.user_api_key, secret=cloudstack_lab.user_secret_key)
    vm = world.vm(user, name="users")
    mine = _events(user)
    assert mine and {(e["account"], e["username"]) for e in mine} == {("lab-user", "lab-user")}
    assert {e["resourceid"] for e in mine} == {vm["id"]}
    assert len(_events(api)) > len(mine)
