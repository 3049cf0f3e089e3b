"""The emulator reads a request as Apache CloudStack does (ApiServer.verifyRequest, the dispatch chain, BaseListCmd).

Each rule here was checked in CloudStack's source; the old emulator answered otherwise for every one but the
case-insensitive top-level names, which CloudStack honours too (ParamUnpackWorker lower-cases them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lab.cloudstack.signing import sign
from tests.lab.cloudstack.helpers import api_error, make_api, post_form, wait_job

pytestmark = pytest.mark.integration

AUTH_TEXT = "unable to verify user credentials and/or request signature"


@pytest.fixture
def cloudstack_lab_options():
    return {"api_key": "foo", "secret_key": "bar"}


def signed(params: dict) -> dict:
    params = {"apiKey": "foo", "response": "json", **params}
    return {**params, "signature": sign(params, "bar")}


def when(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S+0000")


# -- the command and the keys ------------------------------------------------------------------


def test_unknown_command_is_401_under_errorresponse_whatever_the_keys(cloudstack_lab):
    # verifyRequest looks the command up before the key: ApiServlet then answers its 401, and
    # getSerializedApiError names no command class, so the key is errorresponse (no cserrorcode).
    expected = {"errorresponse": {"uuidList": [], "errorcode": 401, "errortext": AUTH_TEXT}}
    good = post_form(cloudstack_lab, signed({"command": "listEverything"}))
    assert (good.status_code, good.json()) == (401, expected)
    bad_key = post_form(cloudstack_lab, {**signed({"command": "listEverything"}), "apiKey": "nobody"})
    assert (bad_key.status_code, bad_key.json()) == (401, expected)
    status, body = api_error(make_api(cloudstack_lab).listEverything)
    assert status == 401 and body["errortext"] == AUTH_TEXT


def test_command_names_are_case_sensitive(cloudstack_lab):
    # s_apiNameCmdClassMap is a HashMap keyed by the @APICommand name: listzones is no command.
    response = post_form(cloudstack_lab, signed({"command": "listzones"}))
    assert response.status_code == 401
    assert list(response.json()) == ["errorresponse"]
    assert post_form(cloudstack_lab, signed({"command": "listZones"})).status_code == 200


def test_lowercase_signatureversion_still_checks_expires(cloudstack_lab):
    # verifyRequest compares names with equalsIgnoreCase: a lower-case spelling must not skip the check.
    for names in (("signatureversion", "expires"), ("SignatureVersion", "Expires"),
                  ("signatureVersion", "EXPIRES")):
        version, expires = names
        late = post_form(cloudstack_lab, signed({"command": "listZones", version: "3", expires: when(-1)}))
        assert late.status_code == 401, names
        assert late.json() == {"listzonesresponse": {"uuidList": [], "errorcode": 401, "errortext": AUTH_TEXT}}
        on_time = post_form(cloudstack_lab, signed({"command": "listZones", version: "3", expires: when(5)}))
        assert on_time.status_code == 200, names


def test_version_3_with_expires_missing_in_any_case_is_refused(cloudstack_lab):
    assert post_form(cloudstack_lab, signed({"command": "listZones", "SIGNATUREVERSION": "3"})).status_code == 401


def test_apikey_and_signature_are_found_whatever_their_case(cloudstack_lab):
    params = {"apikey": "foo", "command": "listZones", "response": "json"}
    params["Signature"] = sign(params, "bar")
    response = post_form(cloudstack_lab, params)
    assert response.status_code == 200
    assert response.json()["listzonesresponse"]["count"] == 1


# -- parameter names ---------------------------------------------------------------------------


def test_top_level_parameter_names_are_honoured_in_any_case(cloudstack_lab):
    # ParamUnpackWorker lower-cases every top-level name before ParamProcessWorker reads the lower-case
    # @Parameter names, so virtualMachineId reaches the command as virtualmachineid.
    api = make_api(cloudstack_lab)
    nics = api.listNics(virtualMachineId=cloudstack_lab.oma_vm_id)["nic"]
    assert nics and {n["virtualmachineid"] for n in nics} == {cloudstack_lab.oma_vm_id}


def test_map_field_names_are_case_sensitive(cloudstack_lab, world):
    # ParamUnpackWorker keeps the field name after `details[0].` as sent; DeployVMCmd reads the map with
    # exact keys (VmDetailConstants cpuNumber/cpuSpeed/memory), so `cpunumber` is not the cpu count.
    api = make_api(cloudstack_lab)
    common = {"zoneid": world.zone["id"], "serviceofferingid": world.custom_service["id"],
              "templateid": world.template["id"], "networkids": world.networks[1]["id"], "startvm": False}
    status, body = api_error(api.deployVirtualMachine, name="miscased", **common,
                             details={"cpunumber": 2, "memory": 1024, "cpuSpeed": 1000})
    assert (status, body["errorcode"]) == (431, 431)
    vm = api.deployVirtualMachine(name="exact", **common,
                                  details={"cpuNumber": 2, "memory": 1024, "cpuSpeed": 1000})["virtualmachine"]
    assert (vm["cpunumber"], vm["memory"]) == (2, 1024)


# -- paging ------------------------------------------------------------------------------------


def test_pagesize_above_default_page_size_is_431(cloudstack_lab):
    api = make_api(cloudstack_lab)
    status, body = api_error(api.listZones, page=1, pagesize=501)
    assert status == 431
    assert body["errortext"] == "Page size can't exceed max allowed page size value: 500"
    assert body["cserrorcode"] == 4350  # getPageSize's InvalidParameterValueException, wrapped by handleRequest
    assert api.listZones(page=1, pagesize=500)["count"] == 1


def test_page_and_pagesize_go_together(cloudstack_lab):
    # BaseListCmd.validateSpecificParameters: each without the other is the dispatcher's 431 (9999),
    # even for a list that would be empty.
    for params, text in (({"page": "1"}, '"pagesize" parameter is required when "page" is specified'),
                         ({"pagesize": "10"}, '"page" parameter is required when "pagesize" is specified')):
        for command in ("listZones", "listSnapshots"):
            response = post_form(cloudstack_lab, signed({"command": command, **params}))
            assert response.status_code == 431, (command, params)
            body = response.json()[f"{command.lower()}response"]
            assert (body["errortext"], body["cserrorcode"]) == (text, 9999)


def test_unlimited_pagesize_takes_no_page(cloudstack_lab):
    api = make_api(cloudstack_lab)
    assert len(api.listServiceOfferings(pagesize=-1)["serviceoffering"]) == 4
    status, body = api_error(api.listServiceOfferings, page=1, pagesize=-1)
    assert status == 431
    assert body["errortext"] == "Can't specify page parameter when pagesize is -1 (Unlimited)"


def test_a_page_that_is_not_a_number_is_the_dispatchers_431(cloudstack_lab):
    status, body = api_error(make_api(cloudstack_lab).listZones, page="first", pagesize=10)
    assert status == 431
    assert body["errortext"] == "Unable to execute API command listzones due to invalid value first for parameter page"
    assert body["cserrorcode"] == 9999


# -- error codes -------------------------------------------------------------------------------


def test_dispatcher_errors_carry_cserrorcode_9999_and_service_errors_4350(cloudstack_lab, world):
    api = make_api(cloudstack_lab)
    status, body = api_error(api.listVolumes, id="no-such-volume")  # ParamProcessWorker: unknown uuid
    assert (status, body["cserrorcode"]) == (431, 9999)
    assert body["errortext"].startswith("Unable to execute API command listvolumes due to invalid value. "
                                        "Invalid parameter id value=no-such-volume")
    status, body = api_error(api.createVolume, name="v", zoneid=world.zone["id"],
                             diskofferingid=world.custom_disk["id"], size="big")
    assert (status, body["cserrorcode"]) == (431, 9999)
    status, body = api_error(api.createVolume, name="v", zoneid=world.zone["id"])  # the service's own check
    assert (status, body["cserrorcode"]) == (431, 4350)


def test_failed_job_carries_its_errorcode_as_jobresultcode(cloudstack_lab, world, raw_api):
    api = make_api(cloudstack_lab)
    volume = world.volume(api)
    # A rule broken inside the job: detaching a volume that is attached to nothing.
    job = wait_job(raw_api, raw_api.detachVolume(id=volume["id"])["jobid"])
    assert job["jobstatus"] == 2
    assert job["jobresult"] == {"errorcode": 431, "errortext": "The specified volume is not attached to a VM."}
    assert job["jobresultcode"] == 431
    cloudstack_lab.inject("attachVolume", fail=True, errorcode=533, errortext="no capacity")
    job = wait_job(raw_api, raw_api.attachVolume(id=volume["id"], virtualmachineid=world.oma_vm_id)["jobid"])
    assert (job["jobresultcode"], job["jobresult"]["errorcode"]) == (533, 533)
