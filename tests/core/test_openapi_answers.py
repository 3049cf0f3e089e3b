"""The published OpenAPI schema describes what the API really answers (see tests/openapi.py)."""
import pytest
from rest_framework.response import Response

from tests.openapi import assert_matches_schema, response_schema

pytestmark = pytest.mark.django_db


def test_replication_list_matches_its_schema(operator_client):
    assert_matches_schema(operator_client.get("/api/v1/replications"), "/api/v1/replications", "get")


def test_an_undocumented_key_or_wrong_type_fails_the_check():
    class Fake(Response):
        def json(self):
            return self.data

    body = {"count": 0, "next": None, "previous": None, "results": [], "surprise": 1}
    fake = Fake(body, status=200)
    with pytest.raises(AssertionError, match="surprise"):
        assert_matches_schema(fake, "/api/v1/replications", "get")
    fake = Fake({"count": "zero", "next": None, "previous": None, "results": []}, status=200)
    with pytest.raises(AssertionError, match="count"):
        assert_matches_schema(fake, "/api/v1/replications", "get")
    assert "$ref" in response_schema("/api/v1/replications", "get")
