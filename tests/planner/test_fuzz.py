"""The fuzzer of tests/fuzz over the planner's operations only, against a project with a real upload, assessment,
cohort and dependency, so generated requests also reach real objects. The whole-schema run (tests/fuzz) covers them
too; this one is quick enough to run while working on the planner."""
from __future__ import annotations

import io

import pytest
import requests
import schemathesis

from apps.planner import services
from apps.planner.models import Tenant
from tests.fuzz.test_schemathesis import EXAMPLES, fuzz_operation, fuzz_server, issue_tokens, no_way_out  # noqa: F401
from tests.planner.rvtools import workbook

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PREFIX = "/api/migration/"


def seed_project() -> dict[str, str]:
    project = services.project_create(data={"name": "fuzz-plan"})
    services.upload_rvtools(project=project, stream=io.BytesIO(workbook(30)), file_name="fuzz.xlsx")
    services.assessment_run(project=project)
    services.network_mappings_seed(project=project)
    cohort = services.cohort_create(project=project, data={"name": "fuzz-wave", "cohort_order": 1})
    vms = list(project.vms.order_by("pk")[:2])
    dependency = services.dependency_create(project=project, vm=vms[0], data={
        "depends_on_vm_id": vms[1].pk, "dependency_type": "must_complete_before"})
    return {"project_id": str(project.pk), "vm_id": str(vms[0].pk), "vm_name": vms[0].vm_name,
            "dep_id": str(dependency.pk), "cohort_id": str(cohort.pk),
            "tenant_id": str(Tenant.objects.filter(project=project).first().pk),
            "mapping_id": str(project.network_mappings.first().pk)}


def test_planner_operations_never_500_and_answer_as_documented(fuzz_server):  # noqa: F811
    base_url = fuzz_server.url
    tokens = issue_tokens()
    known = seed_project()
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", timeout=30)
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith(PREFIX)]
    assert len(operations) >= 45, len(operations)
    session = requests.Session()
    session.trust_env = False
    found: dict = {}
    # Admin last: its deletes (project, mappings) would take the seeded objects away from the other roles.
    for role in ("viewer", "agent", "operator", "admin"):
        for operation in operations:
            names = {p.name for p in operation.path_parameters}
            fuzz_operation(operation, role, tokens[role], base_url, session, EXAMPLES, found,
                           {n: known[n] for n in names} if names and names <= set(known) else None)
    lines = [lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "") for lines in found.values()]
    assert not lines, f"{len(lines)} operation/role pairs fail:\n" + "\n".join(lines)
