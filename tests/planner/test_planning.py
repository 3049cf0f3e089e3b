"""Tenants (rules, detection, CloudStack targets, bulk edits, readiness), dependencies, network mappings and
cohorts with auto-assign (dependencies kept), cohort readiness and the exported plan."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from apps.failover.models import NetworkMapping as FailoverMapping
from apps.planner.models import SourceVM, Tenant, TenantReadinessCheck
from apps.scheduler import services as scheduler_services
from tests.factories import VMNicFactory, vm_with_disks
from tests.openapi import assert_matches_schema
from tests.planner.conftest import BASE

pytestmark = pytest.mark.django_db
P = "/api/migration/projects/{project_id}"


def _vm(pid, name) -> SourceVM:
    return SourceVM.objects.get(project_id=pid, vm_name=name)


def test_tenants_are_detected_from_folders_and_rules(operator_client, viewer_client, loaded):
    pid = loaded["project_id"]
    listed = viewer_client.get(f"{BASE}/{pid}/tenants")
    assert_matches_schema(listed, P + "/tenants", "get")
    tenants = listed.json()["tenants"]
    assert len(tenants) == 12 and sum(t["vm_count"] for t in tenants) == 300
    first = tenants[0]
    assert (first["tenant_name"], first["org_vdc"], first["detection_method"]) == ("Org-00", "Dev", "folder_path")
    assert first["target_domain_name"] == "Org-00" and first["target_project_name"] == "Dev"
    assert first["target_confirmed"] is False
    rule = operator_client.post(f"{BASE}/{pid}/tenants", {"tenant_name": "acme", "detection_method": "vm_name_prefix",
                                                          "pattern_value": "org-05-"}, format="json")
    assert_matches_schema(rule, P + "/tenants", "post")
    assert rule.status_code == 201 and rule.json()["tenant_count"] == 11
    names = {t["tenant_name"] for t in viewer_client.get(f"{BASE}/{pid}/tenants").json()["tenants"]}
    assert "acme" in names and "Org-05" not in names
    detect = operator_client.post(f"{BASE}/{pid}/tenants/detect", format="json")
    assert_matches_schema(detect, P + "/tenants/detect", "post")
    assert detect.json()["tenant_count"] == 11
    bad = operator_client.post(f"{BASE}/{pid}/tenants", {"tenant_name": "x", "detection_method": "astrology",
                                                         "pattern_value": "y"}, format="json")
    assert bad.status_code == 400 and "detection_method" in bad.json()["detail"]


def test_tenant_targets_edit_bulk_replace_and_confirm(operator_client, loaded):
    pid = loaded["project_id"]
    tenant = Tenant.objects.filter(project_id=pid).first()
    patched = operator_client.patch(f"{BASE}/{pid}/tenants/{tenant.pk}", {
        "target_domain_name": "ORG00", "target_domain_description": "Org zero", "target_project_name": "Org00_vDC_Dev",
        "target_display_name": "Org zero dev"}, format="json")
    assert_matches_schema(patched, P + "/tenants/{tenant_id}", "patch")
    assert patched.json()["tenant"]["target_project_name"] == "Org00_vDC_Dev"
    url = f"{BASE}/{pid}/tenants/bulk-replace-target"
    preview = operator_client.post(url, {"field": "target_project_name", "find": "_vdc_", "replace": "-",
                                         "preview_only": True}, format="json")
    assert_matches_schema(preview, P + "/tenants/bulk-replace-target", "post")
    assert preview.json()["affected_count"] == 1
    assert preview.json()["preview"][0]["new_value"] == "Org00-Dev"
    tenant.refresh_from_db()
    assert tenant.target_project_name == "Org00_vDC_Dev"  # a preview changes nothing
    assert operator_client.post(url, {"field": "target_project_name", "find": "_vdc_", "replace": "-",
                                      "case_sensitive": True}, format="json").json()["affected_count"] == 0
    assert operator_client.post(url, {"field": "target_project_name", "find": "_vdc_", "replace": "-"},
                                format="json").json()["affected_count"] == 1
    tenant.refresh_from_db()
    assert tenant.target_project_name == "Org00-Dev" and tenant.target_confirmed is False
    assert operator_client.post(url, {"field": "password", "find": "a", "replace": "b"},
                                format="json").status_code == 400
    confirmed = operator_client.post(f"{BASE}/{pid}/tenants/confirm-all", format="json")
    assert_matches_schema(confirmed, P + "/tenants/confirm-all", "post")
    assert confirmed.json() == {"status": "ok", "affected_count": 12}


def test_dependencies_and_cycles(operator_client, viewer_client, loaded):
    pid = loaded["project_id"]
    db, app, web = (_vm(pid, n) for n in ("org-00-prod-vm0000", "org-01-prod-vm0001", "org-02-prod-vm0002"))
    url = f"{BASE}/{pid}/vms/{{}}/dependencies"
    created = operator_client.post(url.format(db.pk), {"depends_on_vm_id": app.pk, "notes": "DB before app"},
                                   format="json")
    assert_matches_schema(created, P + "/vms/{vm_id}/dependencies", "post")
    body = created.json()["dependency"]
    assert (body["vm_name"], body["depends_on_vm_name"], body["dependency_type"]) == (
        db.vm_name, app.vm_name, "must_complete_before")
    assert operator_client.post(url.format(app.pk), {"depends_on_vm_id": web.pk}, format="json").status_code == 201
    cycle = operator_client.post(url.format(web.pk), {"depends_on_vm_id": db.pk}, format="json")
    assert cycle.status_code == 409 and "Circular" in cycle.json()["detail"]
    assert_matches_schema(cycle, P + "/vms/{vm_id}/dependencies", "post")
    assert operator_client.post(url.format(db.pk), {"depends_on_vm_id": db.pk}, format="json").status_code == 400
    assert operator_client.post(url.format(db.pk), {"depends_on_vm_id": app.pk}, format="json").status_code == 409
    listed = viewer_client.get(f"{BASE}/{pid}/vm-dependencies")
    assert_matches_schema(listed, P + "/vm-dependencies", "get")
    assert len(listed.json()["dependencies"]) == 2
    assert len(viewer_client.get(f"{BASE}/{pid}/vm-dependencies", {"vm_id": web.pk}).json()["dependencies"]) == 1
    assert viewer_client.get(f"{BASE}/{pid}/vm-dependencies", {"vm_id": "x"}).status_code == 400
    removed = operator_client.delete(f"{BASE}/{pid}/vms/{db.pk}/dependencies/{body['id']}")
    assert_matches_schema(removed, P + "/vms/{vm_id}/dependencies/{dep_id}", "delete")
    assert operator_client.delete(f"{BASE}/{pid}/vms/{db.pk}/dependencies/{body['id']}").status_code == 404


def test_network_mappings_seed_edit_replace_confirm(operator_client, viewer_client, admin_client_api, loaded):
    pid = loaded["project_id"]
    listed = viewer_client.get(f"{BASE}/{pid}/network-mappings")
    assert_matches_schema(listed, P + "/network-mappings", "get")
    body = listed.json()
    assert body["unconfirmed_count"] == 6 == len(body["mappings"])
    by_name = {m["source_network_name"]: m for m in body["mappings"]}
    assert by_name["VLAN-100-Prod"]["vlan_id"] == 100 and by_name["dvPG_vLAN_300_DB"]["vlan_id"] == 300
    assert by_name["vlan 3314 backup"]["vlan_id"] == 3314 and by_name["DMZ-Web"]["vlan_id"] is None
    assert by_name["VLAN-100-Prod"]["target_network_name"] == "VLAN-100-Prod" and by_name["VM Network"]["vm_count"] > 0
    dmz = by_name["DMZ-Web"]["id"]
    edited = operator_client.patch(f"{BASE}/{pid}/network-mappings/{dmz}", {
        "target_network_name": "cs-dmz", "target_network_id": None, "vlan_id": 3314, "confirmed": True}, format="json")
    assert_matches_schema(edited, P + "/network-mappings/{mapping_id}", "patch")
    assert edited.json()["mapping"]["vlan_id"] == 3314 and edited.json()["mapping"]["confirmed"] is True
    cleared = operator_client.patch(f"{BASE}/{pid}/network-mappings/{dmz}", {"vlan_id": None}, format="json")
    assert cleared.json()["mapping"]["vlan_id"] is None
    assert operator_client.patch(f"{BASE}/{pid}/network-mappings/{dmz}", {"vlan_id": 5000},
                                 format="json").status_code == 400
    upsert = operator_client.post(f"{BASE}/{pid}/network-mappings", {
        "source_network_name": "VLAN-100-Prod", "target_network_name": "cs_vLAN_prod", "target_network_id": "uuid-1",
        "notes": ""}, format="json")
    assert_matches_schema(upsert, P + "/network-mappings", "post")
    assert upsert.status_code == 200 and upsert.json()["mapping"]["target_network_name"] == "cs_vLAN_prod"
    assert operator_client.post(f"{BASE}/{pid}/network-mappings", {"source_network_name": "new", "target_network_name":
                                                                   "x"}, format="json").status_code == 201
    url = f"{BASE}/{pid}/network-mappings/bulk-replace"
    preview = operator_client.post(url, {"find": "_vlan_", "replace": "-vlan-", "preview_only": True}, format="json")
    assert_matches_schema(preview, P + "/network-mappings/bulk-replace", "post")
    # The seeded dvPG_vLAN_300_DB row (target = source name) matches too, case-insensitively.
    assert preview.json()["affected_count"] == 2
    assert {row["new_value"] for row in preview.json()["preview"]} == {"cs-vlan-prod", "dvPG-vlan-300_DB"}
    # Literal text, not a pattern.
    assert operator_client.post(url, {"find": ".*", "replace": "x"}, format="json").json()["affected_count"] == 0
    operator_client.post(url, {"find": "_vlan_", "replace": "-vlan-"}, format="json")
    confirm = operator_client.post(f"{BASE}/{pid}/network-mappings/confirm-all", format="json")
    assert_matches_schema(confirm, P + "/network-mappings/confirm-all", "post")
    assert confirm.json()["affected_count"] == 6
    assert operator_client.delete(f"{BASE}/{pid}/network-mappings/{dmz}").status_code == 403
    assert admin_client_api.delete(f"{BASE}/{pid}/network-mappings/{dmz}").status_code == 200


def _cohorts(api, pid, count=3):
    ids = []
    for order in range(1, count + 1):
        response = api.post(f"{BASE}/{pid}/cohorts", {"name": f"Wave {order}", "cohort_order": order,
                                                         "scheduled_start": "2026-04-01",
                                                         "scheduled_end": "2026-04-14"}, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["cohort"]["id"])
    return ids


def test_cohort_crud_and_assignment(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    created = operator_client.post(f"{BASE}/{pid}/cohorts", {
        "name": "Wave Alpha — Low Risk", "cohort_order": 1, "owner_name": "Team Infra",
        "scheduled_start": "2026-04-01", "scheduled_end": "2026-04-14", "depends_on_cohort_id": None, "notes": ""},
        format="json")
    assert_matches_schema(created, P + "/cohorts", "post")
    alpha = created.json()["cohort"]["id"]
    beta = operator_client.post(f"{BASE}/{pid}/cohorts", {"name": "Beta", "depends_on_cohort_id": alpha},
                                format="json").json()["cohort"]
    assert beta["cohort_order"] == 2
    loop = operator_client.patch(f"{BASE}/{pid}/cohorts/{alpha}", {"depends_on_cohort_id": beta["id"]}, format="json")
    assert loop.status_code == 409
    assert operator_client.patch(f"{BASE}/{pid}/cohorts/{alpha}", {"scheduled_end": "2026-03-01"},
                                 format="json").status_code == 400
    tenants = list(Tenant.objects.filter(project_id=pid).values_list("pk", flat=True))
    assigned = operator_client.post(f"{BASE}/{pid}/cohorts/{alpha}/assign-tenants",
                                    {"tenant_ids": tenants[:3], "replace": False}, format="json")
    assert_matches_schema(assigned, P + "/cohorts/{cohort_id}/assign-tenants", "post")
    listed = viewer_client.get(f"{BASE}/{pid}/cohorts")
    assert_matches_schema(listed, P + "/cohorts", "get")
    body = listed.json()
    assert body["unassigned_tenant_count"] == 9
    first = body["cohorts"][0]
    assert first["tenant_count"] == 3 and first["vm_count"] == 75 and first["total_vcpu"] > 0
    summary = viewer_client.get(f"{BASE}/{pid}/cohorts/{alpha}/summary")
    assert_matches_schema(summary, P + "/cohorts/{cohort_id}/summary", "get")
    assert summary.json()["vm_count"] == 75 and summary.json()["estimated_hours"] > 0
    assert summary.json()["status_breakdown"]["not_started"] == 75
    operator_client.post(f"{BASE}/{pid}/cohorts/0/assign-tenants", {"tenant_ids": tenants[:1]}, format="json")
    assert viewer_client.get(f"{BASE}/{pid}/cohorts").json()["unassigned_tenant_count"] == 10
    deleted = operator_client.delete(f"{BASE}/{pid}/cohorts/{alpha}")
    assert_matches_schema(deleted, P + "/cohorts/{cohort_id}", "delete")
    assert viewer_client.get(f"{BASE}/{pid}/cohorts").json()["unassigned_tenant_count"] == 12
    assert operator_client.post(f"{BASE}/{pid}/cohorts/{beta['id']}/assign-tenants", {"tenant_ids": [10**9]},
                                format="json").status_code == 400


@pytest.mark.parametrize("strategy", ["priority", "equal_split", "risk"])
def test_auto_assign_keeps_dependencies(operator_client, viewer_client, assessed, strategy):
    pid = assessed["project_id"]
    waves = _cohorts(operator_client, pid)
    # A VM of the tenant that would go first must wait for one of a tenant that would go last, and two tenants
    # depend on each other (they must share a wave).
    tenants = {(t.tenant_name, t.org_vdc): t for t in Tenant.objects.filter(project_id=pid)}
    late = SourceVM.objects.filter(project_id=pid, tenant__tenant_name="Org-05").first()
    early = SourceVM.objects.filter(project_id=pid, tenant__tenant_name="Org-00").first()
    a = SourceVM.objects.filter(project_id=pid, tenant__tenant_name="Org-02", tenant__org_vdc="Prod").first()
    b = SourceVM.objects.filter(project_id=pid, tenant__tenant_name="Org-03", tenant__org_vdc="Dev").first()
    url = f"{BASE}/{pid}/vms/{{}}/dependencies"
    assert operator_client.post(url.format(late.pk), {"depends_on_vm_id": early.pk}, format="json").status_code == 201
    assert operator_client.post(url.format(a.pk), {"depends_on_vm_id": b.pk, "dependency_type": "same_wave"},
                                format="json").status_code == 201
    response = operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign?strategy={strategy}", format="json")
    assert_matches_schema(response, P + "/cohorts/auto-assign", "post")
    assert response.json()["assigned_count"] == len(tenants)
    order = {wave: index for index, wave in enumerate(waves)}
    placed = {t.pk: order[t.cohort_id] for t in Tenant.objects.filter(project_id=pid)}
    assert placed[early.tenant_id] >= placed[late.tenant_id]
    assert placed[a.tenant_id] == placed[b.tenant_id]
    assert viewer_client.get(f"{BASE}/{pid}/cohorts").json()["unassigned_tenant_count"] == 0
    if strategy != "risk":
        assert len(set(placed.values())) == 3  # the work is spread over the waves
    # The plan's daily schedule starts the dependent VM after the one it waits for.
    plan = viewer_client.get(f"{BASE}/{pid}/export-plan").json()
    day = {name: d["day"] for d in plan["daily_schedule"] for name in d["vms"]}
    assert day[early.vm_name] > day[late.vm_name]


def test_auto_assign_needs_cohorts_and_a_known_strategy(operator_client, assessed):
    pid = assessed["project_id"]
    none = operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign", format="json")
    assert none.status_code == 409 and set(none.json()) == {"detail"}
    _cohorts(operator_client, pid, 1)
    assert operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign?strategy=dice", format="json").status_code == 400


def test_readiness_per_tenant_and_cohort(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    (wave,) = _cohorts(operator_client, pid, 1)
    tenant = Tenant.objects.filter(project_id=pid).order_by("tenant_name", "org_vdc").first()
    operator_client.post(f"{BASE}/{pid}/cohorts/{wave}/assign-tenants", {"tenant_ids": [tenant.pk]}, format="json")
    ready = viewer_client.get(f"{BASE}/{pid}/tenants/{tenant.pk}/readiness")
    assert_matches_schema(ready, P + "/tenants/{tenant_id}/readiness", "get")
    body = ready.json()
    checks = {c["check_name"]: c for c in body["checks"]}
    assert list(checks) == ["target_mapped", "network_mapped", "quota_sufficient", "no_critical_gaps",
                            "vms_classified"]
    assert body["overall"] == "fail" and checks["target_mapped"]["check_status"] == "fail"
    assert checks["network_mapped"]["check_status"] == "fail" and "unmapped" in checks["network_mapped"]["notes"]
    assert TenantReadinessCheck.objects.filter(tenant=tenant).count() == 5
    summary = viewer_client.get(f"{BASE}/{pid}/cohorts/{wave}/readiness-summary")
    assert_matches_schema(summary, P + "/cohorts/{cohort_id}/readiness-summary", "get")
    assert summary.json()["overall"] == "blocked"
    # Confirm the targets and networks, set a quota that fits, override the RED VMs: the tenant passes.
    operator_client.post(f"{BASE}/{pid}/tenants/confirm-all", format="json")
    operator_client.get(f"{BASE}/{pid}/network-mappings")
    operator_client.post(f"{BASE}/{pid}/network-mappings/confirm-all", format="json")
    operator_client.patch(f"{BASE}/{pid}/tenants/{tenant.pk}", {"quota_vcpu": 10000}, format="json")
    for vm in tenant.vms.filter(risk_level="RED"):
        operator_client.patch(f"{BASE}/{pid}/vms/{vm.pk}/mode-override", {"override": "cold"}, format="json")
    again = viewer_client.get(f"{BASE}/{pid}/tenants/{tenant.pk}/readiness").json()
    assert (again["overall"], again["score"]) == ("pass", 5), again
    assert viewer_client.get(f"{BASE}/{pid}/cohorts/{wave}/readiness-summary").json()["overall"] == "all_pass"
    operator_client.patch(f"{BASE}/{pid}/tenants/{tenant.pk}", {"quota_vcpu": 1}, format="json")
    short = viewer_client.get(f"{BASE}/{pid}/tenants/{tenant.pk}/readiness").json()
    assert short["score"] == 4 and "vCPU" in {c["check_name"]: c for c in short["checks"]}["quota_sufficient"]["notes"]


def test_reset_plan_keeps_the_assessment(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    _cohorts(operator_client, pid, 2)
    operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign", format="json")
    response = operator_client.post(f"{BASE}/{pid}/reset-plan", format="json")
    assert_matches_schema(response, P + "/reset-plan", "post")
    assert viewer_client.get(f"{BASE}/{pid}/cohorts").json() == {"cohorts": [], "unassigned_tenant_count": 12}
    assert not SourceVM.objects.filter(project_id=pid, risk_level="").exists()


def test_export_plan_json_csv_xlsx(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    _cohorts(operator_client, pid, 2)
    operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign", format="json")
    response = viewer_client.get(f"{BASE}/{pid}/export-plan")
    assert_matches_schema(response, P + "/export-plan", "get")
    plan = response.json()
    summary = plan["project_summary"]
    assert summary["total_vms"] == 300 and summary["warm_count"] + summary["cold_count"] == 300
    assert summary["bottleneck_mbps"] == 500.0 and summary["estimated_days"] == len(plan["daily_schedule"])
    assert sum(t["vm_count"] for t in plan["tenant_plans"]) == 300
    vm = plan["tenant_plans"][0]["vms"][0]
    assert vm["cold_total_hours"] > vm["warm_cutover_hours"] > 0 and vm["warm_downtime_hours"] == vm["warm_cutover_hours"]
    assert sorted(n for d in plan["daily_schedule"] for n in d["vms"]) == sorted(
        v["vm_name"] for t in plan["tenant_plans"] for v in t["vms"])
    # Tenants of the first wave come first in the schedule.
    first_wave = {t["tenant_name"] for t in plan["tenant_plans"] if t["cohort_name"] == "Wave 1"}
    first_day = plan["daily_schedule"][0]["vms"]
    assert all(name.split("-vm")[0].rsplit("-", 1)[0].replace("org", "Org") in first_wave for name in first_day)
    as_csv = viewer_client.get(f"{BASE}/{pid}/export-plan", {"download": "csv"})
    assert as_csv["Content-Type"].startswith("text/csv") and "attachment" in as_csv["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert len(rows) == 300 and rows[0]["mode"] in ("warm_eligible", "warm_risky", "cold_required")
    as_xlsx = viewer_client.get(f"{BASE}/{pid}/export-plan", {"download": "xlsx"})
    book = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
    assert book.sheetnames == ["Summary", "VMs", "Tenants", "Schedule"]
    assert sum(1 for _ in book["VMs"].iter_rows()) == 301
    assert viewer_client.get(f"{BASE}/{pid}/export-plan", {"download": "pdf"}).status_code == 400


def test_approve_is_admin_and_needs_an_assessment(operator_client, admin_client_api, project, loaded):
    pid = loaded["project_id"]
    refused = operator_client.post(f"{BASE}/{pid}/approve", format="json")
    assert refused.status_code == 403 and refused.json()["detail"] == "Permission denied: requires migration:admin"
    early = admin_client_api.post(f"{BASE}/{pid}/approve", format="json")
    assert early.status_code == 409
    assert_matches_schema(early, P + "/approve", "post")
    operator_client.post(f"{BASE}/{pid}/assess", format="json")
    approved = admin_client_api.post(f"{BASE}/{pid}/approve", format="json")
    assert_matches_schema(approved, P + "/approve", "post")
    assert approved.json()["project"]["status"] == "approved" and approved.json()["project"]["approved_by"] == "admin1"


@pytest.mark.integration
def test_approval_hands_cohorts_and_networks_to_the_platform(operator_client, admin_client_api, viewer_client,
                                                             assessed, cloud_config, networks):
    """Cohorts become scheduler machine groups of the matching discovered VMs; confirmed network mappings become
    failover mappings, each destination checked against CloudStack (the emulator)."""
    pid = assessed["project_id"]
    planned = list(SourceVM.objects.filter(project_id=pid).order_by("pk")[:4])
    # Discovered VMs: one matched by instance UUID (under another name), two by name, one already in a group.
    by_uuid = vm_with_disks(1, vm_name="renamed-in-vcenter", vm_id=planned[0].vm_uuid)
    by_name = [vm_with_disks(1, vm_name=vm.vm_name) for vm in planned[1:3]]
    grouped = vm_with_disks(1, vm_name=planned[3].vm_name)
    other = scheduler_services.group_create(data={"name": "operators-own"})
    scheduler_services.group_assign_vms(group=other, vm_contexts=[grouped])
    for context in (by_uuid, *by_name, grouped):
        VMNicFactory(vm_context=context, label="Network adapter 2", network_name="VLAN-100-Prod")
    waves = _cohorts(operator_client, pid, 2)
    operator_client.post(f"{BASE}/{pid}/cohorts/auto-assign", format="json")
    operator_client.get(f"{BASE}/{pid}/network-mappings")
    mapping = next(m for m in viewer_client.get(f"{BASE}/{pid}/network-mappings").json()["mappings"]
                   if m["source_network_name"] == "VLAN-100-Prod")
    operator_client.patch(f"{BASE}/{pid}/network-mappings/{mapping['id']}", {
        "target_network_name": "migration-net", "target_network_id": networks["migration-net"]["id"],
        "confirmed": True}, format="json")
    response = admin_client_api.post(f"{BASE}/{pid}/approve", format="json")
    assert_matches_schema(response, P + "/approve", "post")
    report = response.json()["approval"]
    assert response.json()["project"]["status"] == "approved"
    assert report["matched_count"] == 4 and report["unmatched_count"] == 296
    assert report["already_grouped"] == [planned[3].vm_name]
    groups = {g["cohort_id"]: g for g in report["machine_groups"]}
    assert set(groups) == set(waves) and sum(g["vm_count"] for g in groups.values()) == 3
    members = {m.vm_context.vm_name for g in groups.values()
               for m in scheduler_services.group_get(g["group_id"]).memberships.select_related("vm_context")}
    assert members == {"renamed-in-vcenter", *(vm.vm_name for vm in planned[1:3])}
    assert SourceVM.objects.get(pk=planned[0].pk).vm_context_id == by_uuid.context_id
    assert SourceVM.objects.get(pk=planned[0].pk).migration_status == "assigned"
    # Every matched VM whose planned NICs include the confirmed network got a failover mapping to it.
    expected = sum(1 for vm in planned if "VLAN-100-Prod" in set(vm.nics.values_list("network_name", flat=True)))
    assert expected >= 1 and report["network_mappings"]["created"] == expected
    assert report["network_mappings"]["failed"] == []
    made = FailoverMapping.objects.filter(source_network_name="VLAN-100-Prod")
    assert made.count() == expected and {m.destination_network_name for m in made} <= {"migration-net"}
    assert "VLAN-100-Prod" not in report["network_mappings"]["unmapped_networks"]
    # The plan shows each matched VM's platform state beside its estimate.
    plan = viewer_client.get(f"{BASE}/{pid}/export-plan")
    assert_matches_schema(plan, P + "/export-plan", "get")
    rows = {vm["vm_name"]: vm for t in plan.json()["tenant_plans"] for vm in t["vms"]}
    assert rows[planned[0].vm_name]["actual_status"] == by_uuid.current_status
    unmatched = SourceVM.objects.filter(project_id=pid, vm_context_id="").first()
    assert rows[unmatched.vm_name]["actual_status"] is None and rows[unmatched.vm_name]["last_sync_at"] is None
    again = admin_client_api.post(f"{BASE}/{pid}/approve", format="json")
    assert again.status_code == 409
