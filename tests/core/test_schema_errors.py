"""The schema documents the error answers the shared machinery gives (roles, lookups, validation, throttles) and
the nulls the answers really carry: a client generated from /api/schema/ is not surprised by either."""
import pytest

from apps.enrollment.services.appliances import appliance_create
from tests.openapi import assert_matches_schema, openapi

pytestmark = pytest.mark.django_db

PUBLIC = {"/health", "/api/v1/health", "/api/v1/auth/login", "/api/v1/vma/enroll", "/api/v1/vma/enroll/verify",
          "/api/v1/vma/enroll/result",
          # Seed 004's portal: the branding for the login page (its write is admin-only), the public metrics.
          "/settings/branding", "/settings/branding/logo/{name}", "/metrics", "/auth/login"}


def operations():
    for path, methods in openapi()["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_documents_the_shared_error_answers():
    missing = []
    for path, method, operation in operations():
        places = {p["in"] for p in operation.get("parameters", [])}
        expected = set()
        if path not in PUBLIC:
            expected |= {"401", "403"}
        if "path" in places:
            expected.add("404")
        if "requestBody" in operation or "query" in places:
            expected.add("400")
        for code in sorted(expected - set(operation["responses"])):
            missing.append(f"{method.upper()} {path} {code}")
        for code in expected & set(operation["responses"]):
            assert "application/json" in operation["responses"][code].get("content", {}), f"{method} {path} {code}"
    assert not missing, "undocumented: " + ", ".join(missing)
    login = openapi()["paths"]["/api/v1/auth/login"]["post"]["responses"]
    enroll = openapi()["paths"]["/api/v1/vma/enroll"]["post"]["responses"]
    assert "429" in login and "429" in enroll and "401" not in enroll


def test_a_refused_role_and_an_unknown_id_answer_as_documented(viewer_client, operator_client, anon_client):
    refused = viewer_client.post("/api/v1/machine-groups", {"name": "g"}, format="json")
    assert refused.status_code == 403
    assert_matches_schema(refused, "/api/v1/machine-groups", "post")
    unknown = operator_client.delete("/api/v1/machine-groups/999")
    assert unknown.status_code == 404
    assert_matches_schema(unknown, "/api/v1/machine-groups/{id}", "delete")
    anonymous = anon_client.get("/api/v1/schedules")
    assert anonymous.status_code == 401
    assert_matches_schema(anonymous, "/api/v1/schedules", "get")


def test_a_duplicate_name_is_a_documented_409(operator_client):
    assert operator_client.post("/api/v1/machine-groups", {"name": "dup"}, format="json").status_code == 201
    again = operator_client.post("/api/v1/machine-groups", {"name": "dup"}, format="json")
    assert again.status_code == 409
    assert_matches_schema(again, "/api/v1/machine-groups", "post")
    credential = {"name": "vc", "vcenter_host": "vc.example", "username": "u", "password": "p", "datacenter": "DC"}
    assert operator_client.post("/api/v1/vmware-credentials", credential, format="json").status_code == 201
    again = operator_client.post("/api/v1/vmware-credentials", credential, format="json")
    assert again.status_code == 409
    assert_matches_schema(again, "/api/v1/vmware-credentials", "post")


def test_a_group_without_schedule_and_an_agent_made_by_hand_answer_their_nulls(operator_client, admin_client_api):
    created = operator_client.post("/api/v1/machine-groups", {"name": "unscheduled"}, format="json")
    assert created.status_code == 201 and created.json()["schedule_id"] is None
    assert_matches_schema(created, "/api/v1/machine-groups", "post")
    got = operator_client.get(f"/api/v1/machine-groups/{created.json()['id']}")
    assert_matches_schema(got, "/api/v1/machine-groups/{id}", "get")

    appliance_create(appliance_id="by-hand")
    active = admin_client_api.get("/api/v1/admin/vma/active")
    assert active.status_code == 200 and active.json()["appliances"][0]["approved_by"] is None
    assert_matches_schema(active, "/api/v1/admin/vma/active", "get")


def test_no_operation_is_described_by_shared_machinery():
    """An operation without a docstring of its own is not described by a core mixin's docstring (how the code works,
    e.g. "A view mixin: seed 004's rate limit ..."): a reader of /swagger/ would take it for what the call does."""
    import inspect
    import pkgutil
    from importlib import import_module

    import apps.core

    machinery = set()
    for module in pkgutil.walk_packages(apps.core.__path__, "apps.core."):
        if ".migrations" in module.name or module.name.endswith(".tests"):
            continue
        for _, cls in inspect.getmembers(import_module(module.name), inspect.isclass):
            if cls.__module__.startswith("apps.core.") and cls.__doc__:
                machinery.add(inspect.cleandoc(cls.__doc__).split("\n")[0])
    described = [f"{method.upper()} {path}" for path, method, operation in operations()
                 if operation.get("description", "").split("\n")[0] in machinery]
    assert not described, described[:10]
