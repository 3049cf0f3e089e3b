"""The emulator speaks CloudStack's wire protocol: signing, error shapes, list shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from lab.cloudstack.signing import sign, string_to_sign
from tests.lab.cloudstack.helpers import api_error, make_api, post_form

pytestmark = pytest.mark.integration

KNOWN_PARAMS = {"apiKey": "foo", "command": "listVirtualMachines", "listall": "true",
                "response": "json"}
KNOWN_SIGNATURE = "B0d6hBsZTcFVCiioSxzwKA9Pke8="
AUTH_BODY = {"uuidList": [], "errorcode": 401,
             "errortext": "unable to verify user credentials and/or request signature"}


def test_known_answer_signature():
    assert string_to_sign(KNOWN_PARAMS) == (
        "apikey=foo&command=listvirtualmachines&listall=true&response=json")
    assert sign(KNOWN_PARAMS, "bar") == KNOWN_SIGNATURE


@pytest.fixture
def cloudstack_lab_options():
    return {"api_key": "foo", "secret_key": "bar"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_known_answer_request_is_accepted(cloudstack_lab, method):
    params = {**KNOWN_PARAMS, "signature": KNOWN_SIGNATURE}
    if method == "GET":
        response = requests.get(cloudstack_lab.url, params=params, timeout=10)
    else:
        response = post_form(cloudstack_lab, params)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    vms = response.json()["listvirtualmachinesresponse"]["virtualmachine"]
    assert cloudstack_lab.oma_vm_id in {vm["id"] for vm in vms}


def test_tampered_request_is_401(cloudstack_lab):
    params = {**KNOWN_PARAMS, "listall": "false", "signature": KNOWN_SIGNATURE}
    response = post_form(cloudstack_lab, params)
    assert response.status_code == 401
    assert response.json() == {"listvirtualmachinesresponse": AUTH_BODY}


def test_wrong_secret_and_unknown_key_are_401(cloudstack_lab):
    for api in (make_api(cloudstack_lab, secret="not-the-secret"),
                make_api(cloudstack_lab, key="someone-else")):
        status, body = api_error(api.listZones)
        assert status == 401
        assert body == AUTH_BODY


def test_unsigned_request_is_401(cloudstack_lab):
    response = post_form(cloudstack_lab, {"apiKey": "foo", "command": "listZones",
                                          "response": "json"})
    assert response.status_code == 401


def test_expired_expires_is_refused_and_future_is_accepted(cloudstack_lab):
    api = make_api(cloudstack_lab)
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    status, body = api_error(api.listZones, signatureVersion="3", expires=past)
    assert status == 401 and body == AUTH_BODY
    future = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    assert api.listZones(signatureVersion="3", expires=future)["count"] == 1


def test_version_3_without_expires_is_refused(cloudstack_lab):
    params = {"apiKey": "foo", "command": "listZones", "response": "json",
              "signatureVersion": "3"}
    params["signature"] = sign(params, "bar")
    assert post_form(cloudstack_lab, params).status_code == 401


def test_values_are_encoded_like_java_before_signing(cloudstack_lab):
    api = make_api(cloudstack_lab)
    # Space as %20 and a raw '*': what cs and CloudStack agree on.
    assert api.listZones(keyword="Zone *") == {}
    # Java encodes '~' as %7E where Python keeps it raw: a real server refuses such a
    # signature, and so does the emulator.
    status, _ = api_error(api.listZones, keyword="a~b")
    assert status == 401


def test_missing_parameter_is_431_with_cserrorcode_9999(cloudstack_lab):
    # ParamProcessWorker's own ServerApiException: 9999, not an InvalidParameterValueException's 4350.
    api = make_api(cloudstack_lab)
    status, body = api_error(api.listNics)
    assert status == 431
    assert body["cserrorcode"] == 9999
    assert body["errortext"] == ("Unable to execute API command listnics due to missing "
                                 "parameter virtualmachineid")
    status, body = api_error(api.createVolume, name="v", zoneid="x")
    assert (status, body["errorcode"]) == (431, 431)
    assert body["errortext"] == ("Either disk Offering Id or snapshot Id must be passed whilst "
                                 "creating volume")


def test_unknown_id_is_431(cloudstack_lab):
    status, body = api_error(make_api(cloudstack_lab).listVolumes, id="no-such-volume")
    assert status == 431
    assert "Invalid parameter id value=no-such-volume" in body["errortext"]


def test_empty_list_is_an_empty_object(cloudstack_lab):
    params = {"apiKey": "foo", "command": "listSnapshots", "response": "json"}
    params["signature"] = sign(params, "bar")
    response = post_form(cloudstack_lab, params)
    assert response.json() == {"listsnapshotsresponse": {}}


def test_lists_page(cloudstack_lab):
    api = make_api(cloudstack_lab)
    first = api.listServiceOfferings(page=1, pagesize=3)
    assert first["count"] == 4 and len(first["serviceoffering"]) == 3
    assert len(api.listServiceOfferings(page=2, pagesize=3)["serviceoffering"]) == 1
    assert len(api.listServiceOfferings(fetch_list=True)) == 4


def test_ui_path_answers_html(cloudstack_lab):
    base = cloudstack_lab.url.rsplit("/api", 1)[0]
    response = requests.get(base + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


def test_injected_sync_failure_answers_with_its_code(cloudstack_lab):
    api = make_api(cloudstack_lab)
    cloudstack_lab.inject("listZones", fail=True, errortext="database is down", count=1)
    status, body = api_error(api.listZones)
    assert status == 530
    assert body["errortext"] == "database is down"
    assert api.listZones()["count"] == 1  # count=1: only the next call fails


def test_injections_can_be_listed_and_cleared(cloudstack_lab):
    cloudstack_lab.inject("listZones", delay=0.1, count=None)
    assert [i["command"] for i in cloudstack_lab.injections()] == ["listZones"]
    cloudstack_lab.clear_injections()
    assert cloudstack_lab.injections() == []


def test_json_only(cloudstack_lab):
    params = {"apiKey": "foo", "command": "listZones", "response": "xml"}
    params["signature"] = sign(params, "bar")
    response = post_form(cloudstack_lab, params)
    assert response.status_code == 431
    assert "JSON only" in response.json()["listzonesresponse"]["errortext"]
