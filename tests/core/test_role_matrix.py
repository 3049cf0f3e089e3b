"""Every operation of the published schema x every role: who is refused (401, 403) and who gets through.

The rule (docs/architecture.md, "Authentication and roles"): anonymous callers reach only the public operations;
an agent reaches only what the real agent calls (`agent/omaclient.py`: log in and out, the change id, progress and
inventory pushes); viewers read; operators also write; admins also manage agents and read the logs. An operation
added later falls under the default (viewers read, operators write, agents refused) unless it is listed below, so
a new endpoint is closed to agents until someone decides otherwise here and on the view.

Each call is harmless: unknown ids and empty or invalid bodies, so a role that gets through is answered 400, 404,
409 or 503 and nothing real happens; only the refusal is what the test reads.
"""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from agent.omaclient import OmaClient
from apps.core.choices import Role
from apps.enrollment.services import appliance_create
from tests.conftest import client_for
from tests.openapi import assert_matches_schema, openapi

ROLES = ("anonymous", "agent", "viewer", "operator", "admin")

# Anyone may call these (no authentication).
PUBLIC = {
    ("post", "/api/v1/auth/login"), ("get", "/api/v1/health"), ("get", "/health"),
    ("post", "/api/v1/vma/enroll"), ("post", "/api/v1/vma/enroll/verify"), ("get", "/api/v1/vma/enroll/result"),
    # The portal's branding, for the login page (seed 004, apps/accounts).
    ("get", "/settings/branding"), ("get", "/settings/branding/logo/{name}"), ("get", "/metrics"),
    ("post", "/auth/login"),  # the operations portal's login (seed 004)
}
# Everything the real agent calls once logged in (agent/omaclient.py); agents are refused everything else.
AGENT = {
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/replications/changeid"),
    ("post", "/api/v1/replications/{job_id}/changeid"),
    ("post", "/api/v1/replications/{job_id}/progress"),
    ("post", "/api/v1/vms/inventory"),
}
# Writes that change nothing, so viewers may call them.
VIEWER_WRITES = {
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/settings/cloudstack/test-connection"),
    ("post", "/api/v1/settings/cloudstack/validate"),
    ("post", "/api/v1/settings/cloudstack/discover-all"),
    ("post", "/api/v1/ossea/discover-resources"),
    ("post", "/api/v1/networks/resolve"),
    ("post", "/api/v1/failover/preflight/validate"),
    # One's own notification preferences (seed 004's notifications:write, any signed-in user: apps/accounts).
    ("put", "/notifications/preferences"), ("delete", "/notifications/preferences/{pref_id}"),
    ("put", "/user-preferences"),
    # The ops copilot (seed 004, copilot:read): asking reads our data; feedback marks one's own answer.
    ("post", "/api/copilot/ask"), ("post", "/api/copilot/feedback"),
}
# Reads for operators and up: the route list maps the attack surface.
OPERATOR_READS = {("get", "/api/v1/debug/endpoints")}
ADMIN_ONLY = {
    ("get", "/api/v1/debug/logs"),
    # The planner's migration:admin operations (seed 004): delete a project or a network mapping, approve a plan.
    ("delete", "/api/migration/projects/{project_id}"),
    ("delete", "/api/migration/projects/{project_id}/network-mappings/{mapping_id}"),
    ("post", "/api/migration/projects/{project_id}/approve"),
    # The portal's people and settings (seed 004, apps/accounts): users:admin, departments:admin, navigation:admin,
    # settings:admin, notifications:admin, and the logs.
    ("post", "/users"), ("patch", "/users/{user_id}"), ("post", "/admin/user-access-log"),
    ("put", "/notifications/smtp-settings"), ("post", "/notifications/test-email"),
    ("get", "/notifications/admin/stats"), ("put", "/settings/branding"), ("post", "/settings/branding/logo"),
    ("post", "/api/departments"), ("put", "/api/departments/{dept_id}"), ("delete", "/api/departments/{dept_id}"),
    ("put", "/api/departments/{dept_id}/visibility"), ("get", "/api/departments/visibility/matrix"),
    ("post", "/api/nav/groups"), ("put", "/api/nav/groups/{id}"), ("delete", "/api/nav/groups/{id}"),
    ("post", "/api/nav/items"), ("put", "/api/nav/items/{id}"), ("delete", "/api/nav/items/{id}"),
    ("get", "/api/nav/overrides/{username}"), ("post", "/api/nav/overrides/{username}"),
    ("delete", "/api/nav/overrides/{username}/{nav_item_id}"), ("put", "/api/auth/users/{username}/department"),
    ("get", "/api/logs"),
    # Seed 004's snapshots:admin (policies, assignments, the on-demand pipeline) and restore:admin operations.
    ("post", "/snapshot-policies"), ("put", "/snapshot-policies/{policy_id}"),
    ("delete", "/snapshot-policies/{policy_id}"), ("post", "/snapshot-assignments"),
    ("delete", "/snapshot-assignments/{assignment_id}"), ("post", "/snapshot/run-now"),
    ("post", "/restore/jobs/{job_id}/cleanup"), ("post", "/restore/jobs/{job_id}/retry"),
    ("post", "/restore/jobs/{job_id}/cleanup-storage"),
    # Seed 004's runbooks:admin: approve or reject, the pending approvals, approval policy changes.
    ("post", "/api/runbooks/executions/{execution_id}/approve"), ("get", "/api/runbooks/approvals/pending"),
    ("put", "/api/runbooks/policies/{runbook_name}"), ("delete", "/api/runbooks/policies/{runbook_name}"),
    # The copilot's configuration decides whether questions and data leave the platform (copilot:admin).
    ("get", "/api/copilot/config"), ("put", "/api/copilot/config"), ("post", "/api/copilot/test-connection"),
}
# Seed 004's metering:read and metering:write are admin (and superadmin) only: every tenant's usage and costs.
ADMIN_ONLY |= {(method, path) for path, ops in openapi()["paths"].items() if path.startswith("/api/metering/")
               for method in ops if method in ("get", "post", "put", "patch", "delete")}
# The operations portal's /admin/... writes (seed 004: "Admin only") go to CloudStack: admins only.
ADMIN_PREFIX = ("/api/v1/admin/", "/admin/")

# Bodies where an empty one would be acted on, or where the refusal depends on the body.
BODIES = {
    ("post", "/api/v1/admin/vma/pairing-code"): {"ttl_minutes": 0},
    # A write action, so only operators get through (to a 404: no such configuration).
    ("post", "/api/v1/ossea/config"): {"action": "delete", "id": 999999},
}


def allowed(role: str, method: str, path: str) -> bool:
    operation = (method, path)
    if operation in PUBLIC:
        return True
    if role == "anonymous":
        return False
    if role == "agent":
        return operation in AGENT
    if role == "admin":
        return True
    if operation in ADMIN_ONLY or path.startswith(ADMIN_PREFIX):
        return False
    if role == "operator":
        return True
    # viewer
    if method == "get":
        return operation not in OPERATOR_READS
    return operation in VIEWER_WRITES


def operations() -> list[tuple[str, str]]:
    return sorted((method, path) for path, ops in openapi()["paths"].items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete"))


def concrete(path: str) -> str:
    # Numeric ids for primary keys, an unknown name for everything else: the lookups answer 404.
    return re.sub(r"\{(\w+)\}", lambda m: "999999" if m.group(1) == "id" else "nope-0", path)


def _human(username: str, role: str) -> APIClient:
    # No password: hashing one per test would only slow the matrix down.
    user = get_user_model().objects.create_user(username=username)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return client_for(user)


def _agent() -> APIClient:
    # The agent's own identity, logged in as the real agent does.
    _, token = appliance_create(appliance_id="vma-matrix")
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"appliance_id": "vma-matrix", "token": token}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['session_token']}")
    return client


@pytest.fixture
def clients(db) -> dict[str, APIClient]:
    return {"anonymous": APIClient(), "agent": _agent(), "viewer": _human("m-viewer", Role.VIEWER),
            "operator": _human("m-operator", Role.OPERATOR), "admin": _human("m-admin", Role.ADMIN)}


# Waves (apps/waves): viewers read, operators create and act, agents are refused (the default rule, checked below).
WAVES = {
    ("get", "/api/v1/waves"), ("post", "/api/v1/waves"), ("get", "/api/v1/waves/{id}"),
    ("get", "/api/v1/waves/{id}/vms"), ("post", "/api/v1/waves/{id}/start-now"), ("post", "/api/v1/waves/{id}/cancel"),
    ("post", "/api/v1/waves/{id}/rollback"), ("post", "/api/v1/waves/{id}/rehearsal"),
}


def test_the_matrix_covers_the_waves():
    assert WAVES <= set(operations()), WAVES - set(operations())
    for method, path in WAVES:
        assert allowed("viewer", method, path) == (method == "get") and allowed("operator", method, path)
        assert not allowed("agent", method, path)


def test_the_matrix_covers_the_agents_calls():
    # The allow-list names only operations that exist (a renamed path would silently close the agent out).
    published = set(operations())
    assert AGENT <= published and VIEWER_WRITES <= published and PUBLIC <= published, AGENT - published


@pytest.mark.parametrize("method, path", operations(), ids=lambda v: v)
def test_role_matrix(clients, method, path):
    url = concrete(path)
    body = BODIES.get((method, path), {})
    wrong = []
    for role in ROLES:
        client = clients[role]
        call = getattr(client, method)
        response = call(url, body, format="json") if method in ("post", "put", "patch") else call(url)
        code = response.status_code
        if allowed(role, method, path):
            if code in (401, 403) or code >= 500 and code not in (502, 503):
                wrong.append(f"{role}: expected access, got {code} {response.content[:200]!r}")
        else:
            expected = 401 if role == "anonymous" else 403
            if code != expected:
                wrong.append(f"{role}: expected {expected}, got {code} {response.content[:200]!r}")
            elif code == 403:
                # Refusals answer the project's error shape, as documented on the operation.
                try:
                    assert_matches_schema(response, path, method)
                except AssertionError as exc:
                    wrong.append(f"{role}: {exc}")
    assert not wrong, f"{method.upper()} {path}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("method, path", operations(), ids=lambda v: v)
def test_403_is_documented_where_it_can_answer(method, path):
    responses = openapi()["paths"][path][method]["responses"]
    if (method, path) in PUBLIC:
        return
    assert "403" in responses, f"{method.upper()} {path} documents {sorted(responses)}, not 403"


def test_the_real_agent_client_keeps_its_calls_and_is_refused_the_rest(live_server):
    # agent/omaclient.py against a live server: inventory and change id work, configuring the platform does not.
    _, token = appliance_create(appliance_id="vma-live")
    oma = OmaClient(live_server.url, appliance_id="vma-live", token=token, max_attempts=1)
    vm = {"id": "vm-1", "name": "web01", "path": "/DC0/vm/web01", "uuid": "4205a841-0265-f4bd-39a6-39fd92196f53",
          "power_state": "poweredOn", "num_cpu": 1, "memory_mb": 1024, "disks": [], "nics": []}
    assert oma.push_inventory({"vcenter": {"host": "vc.lab", "datacenter": "DC0"}, "vms": [vm]})["created"] == 1
    assert oma.get_previous_change_id("/DC0/vm/web01", "disk-0") is None
    for method, path, body in [("POST", "/ossea/config-streamlined", {"name": "evil", "api_url": "http://evil.example"}),
                               ("POST", "/vmware-credentials", {"name": "evil"}), ("GET", "/vmware-credentials", None),
                               ("POST", "/replications", {"vm_name": "web01"}), ("GET", "/debug/endpoints", None)]:
        response = oma.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["success"] is False
    assert oma.logins == 1
