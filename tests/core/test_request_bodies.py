"""Bodies no endpoint can parse are the client's fault: a 4xx in the error shape, never a 500."""
import json
from urllib.parse import urlencode

import pytest

from apps.core.utils import is_pk

pytestmark = pytest.mark.django_db

# A public endpoint (core's own login) and an operator one from another app: parsing is shared by all.
ENDPOINTS = [("anon_client", "/api/v1/auth/login"), ("operator_client", "/api/v1/machine-groups")]


def post(request, fixture, path, data, content_type):
    return request.getfixturevalue(fixture).post(path, data=data, content_type=content_type)


def assert_error(response, status, text):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and text in body["error"], body
    return body


@pytest.mark.parametrize("fixture, path", ENDPOINTS)
@pytest.mark.parametrize("payload", ["[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000])
def test_json_nested_too_deeply_is_400(request, fixture, path, payload):
    response = post(request, fixture, path, payload, "application/json")
    assert_error(response, 400, "Malformed request body: JSON parse error - nested too deeply")


@pytest.mark.parametrize("fixture, path", ENDPOINTS)
def test_more_form_fields_than_django_allows_is_400(request, fixture, path, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 20
    form = urlencode([(f"f{i}", "1") for i in range(21)])
    response = post(request, fixture, path, form, "application/x-www-form-urlencoded")
    body = assert_error(response, 400, "Malformed request body: too many fields")
    assert body["details"] == "at most 20"


@pytest.mark.parametrize("fixture, path", ENDPOINTS)
def test_body_over_the_upload_limit_is_413(request, fixture, path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(request, fixture, path, json.dumps({"name": "x" * 2000}), "application/json")
    body = assert_error(response, 413, "Request body too large")
    assert body["details"] == "at most 1000 bytes"


def test_ordinary_bad_json_is_still_the_usual_400(operator_client):
    response = operator_client.post("/api/v1/machine-groups", data="[[1]", content_type="application/json")
    assert_error(response, 400, "Malformed request body: JSON parse error")


@pytest.mark.parametrize("value, expected", [("12", True), (12, True), ("0", True), ("¹", False), ("٣", False),
                                             ("1.5", False), ("-1", False), ("", False), ("exec-1", False)])
def test_is_pk_takes_ascii_digits_only(value, expected):
    assert is_pk(value) is expected
