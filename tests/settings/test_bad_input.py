"""The `ossea/config` test action validates its configuration (issue #13, item 5): a wrong type is a 400 in the
project's error shape, for a viewer as for an operator, and nothing is called."""
import pytest

from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

GOOD = {"api_url": "http://cloudstack.example.invalid:8080/client/api", "api_key": "key", "secret_key": "secret"}


@pytest.mark.parametrize("configuration, field", [
    ({**GOOD, "secret_key": {"a": 1}}, "secret_key"),
    ({**GOOD, "api_key": ["k"]}, "api_key"),
    ({**GOOD, "api_url": 42}, "api_url"),
    ({**GOOD, "api_url": "file:///etc/passwd"}, "api_url"),
    ({**GOOD, "zone": {"id": 1}}, "zone"),
], ids=["secret-dict", "key-list", "url-int", "url-file", "zone-dict"])
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_a_bad_test_configuration_is_a_400(request, role, configuration, field):
    client = request.getfixturevalue(f"{role}_client")
    response = client.post("/api/v1/ossea/config", {"action": "test", "configuration": configuration}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False and body["error"].startswith("Invalid request") and field in body["error"]
    assert_matches_schema(response, "/api/v1/ossea/config", "post")


@pytest.mark.parametrize("role, status", [("viewer", 403), ("operator", 502)])
def test_a_number_as_secret_key_is_no_500(request, role, status):
    # The case: a number was signed with as if it were text (AttributeError, a 500). Like every text field
    # of the API it is read as text now: a viewer may not name a URL, the operator's host does not resolve.
    client = request.getfixturevalue(f"{role}_client")
    response = client.post("/api/v1/ossea/config", {"action": "test", "configuration": {**GOOD, "secret_key": 123}},
                           format="json")
    assert response.status_code == status, response.content
    assert response.json()["success"] is False
    assert_matches_schema(response, "/api/v1/ossea/config", "post")
