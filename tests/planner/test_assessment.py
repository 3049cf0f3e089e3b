"""Risk config, assessment (levels, modes, every VM's reasons), resets, bandwidth model, agent sizing, a VM's mode
override and migration status."""
from __future__ import annotations

import pytest

from apps.planner.models import SourceVM
from tests.openapi import assert_matches_schema
from tests.planner.conftest import BASE

pytestmark = pytest.mark.django_db
P = "/api/migration/projects/{project_id}"


def test_risk_config_get_and_merge(operator_client, viewer_client, project):
    url = f"{BASE}/{project['project_id']}/risk-config"
    got = viewer_client.get(url)
    assert_matches_schema(got, P + "/risk-config", "get")
    config = got.json()["risk_config"]
    assert config["weights"]["rdm"] == 50 and "windows server 2003" in config["unsupported_os_patterns"]
    assert viewer_client.put(url, {"weights": {"rdm": 60}}, format="json").status_code == 403
    changed = operator_client.put(url, {"weights": {"rdm": 60}, "thresholds": {"red_min_score": 70}}, format="json")
    assert_matches_schema(changed, P + "/risk-config", "put")
    assert changed.json()["risk_config"]["weights"]["rdm"] == 60
    assert changed.json()["risk_config"]["weights"]["snapshots"] == 10  # the rest stays
    assert viewer_client.get(url).json()["risk_config"]["thresholds"]["red_min_score"] == 70
    for bad in ({"weights": {"nope": 1}}, {"weights": {"rdm": -1}}, {"weights": "x"}, {"colour": 1},
                {"unsupported_os_patterns": "dos"}, {"thresholds": {"red_min_score": "NaN"}}, [1]):
        response = operator_client.put(url, bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert_matches_schema(response, P + "/risk-config", "put")


def test_assessment_scores_every_vm_with_reasons(operator_client, viewer_client, loaded):
    pid = loaded["project_id"]
    response = operator_client.post(f"{BASE}/{pid}/assess", format="json")
    assert_matches_schema(response, P + "/assess", "post")
    body = response.json()
    assert body["vm_count"] == 300 and body["project_status"] == "assessment"
    assert sum(body["risk_distribution"].values()) == 300 and all(body["risk_distribution"].values())
    assert sum(body["mode_distribution"].values()) == 300 and all(body["mode_distribution"].values())
    vms = SourceVM.objects.filter(project_id=pid)
    assert not vms.filter(risk_level="").exists() and all(vm.risk_reasons for vm in vms)
    # The generator's VM 129 has an RDM (cold), 3 an independent disk (cold), 1 no CBT (risky), 9 is powered off.
    rdm = vms.get(vm_name="org-03-dev-vm0129")
    assert rdm.migration_mode == "cold_required" and any("raw device mapping" in r for r in rdm.risk_reasons)
    independent = vms.get(vm_name="org-03-prod-vm0003")
    assert independent.migration_mode == "cold_required" and any("independent" in r for r in independent.risk_reasons)
    no_cbt = vms.get(vm_name="org-01-prod-vm0001")
    assert no_cbt.migration_mode in ("warm_risky", "cold_required") and \
        any("changed block tracking" in r for r in no_cbt.risk_reasons)
    off = vms.get(vm_name="org-03-dev-vm0009")
    assert off.migration_mode == "cold_required" and any("poweredOff" in r for r in off.risk_reasons)
    old_os = vms.filter(guest_os__icontains="2003").first()
    assert old_os and any("not supported" in r for r in old_os.risk_reasons) and old_os.risk_level != "GREEN"
    # A network with no mapping is a reason; the list shows the project status.
    assert any("has no mapping" in r for r in vms.first().risk_reasons)
    assert viewer_client.get(f"{BASE}/{pid}").json()["project"]["status"] == "assessment"
    listed = viewer_client.get(f"{BASE}/{pid}/vms", {"risk_level": "RED", "limit": 500}).json()
    assert listed["total"] == body["risk_distribution"]["RED"]


def test_confirmed_networks_and_a_weight_change_move_the_scores(operator_client, loaded):
    pid = loaded["project_id"]
    first = operator_client.post(f"{BASE}/{pid}/assess", format="json").json()
    operator_client.get(f"{BASE}/{pid}/network-mappings")
    operator_client.post(f"{BASE}/{pid}/network-mappings/confirm-all", format="json")
    operator_client.put(f"{BASE}/{pid}/risk-config", {"weights": {"no_cbt": 0, "snapshots": 0}}, format="json")
    second = operator_client.post(f"{BASE}/{pid}/assess", format="json").json()
    assert second["risk_distribution"]["GREEN"] > first["risk_distribution"]["GREEN"]
    vm = SourceVM.objects.get(project_id=pid, vm_name="org-00-prod-vm0000")
    assert not any("mapping" in r for r in vm.risk_reasons)


def test_reset_assessment_keeps_the_source_data(operator_client, assessed):
    pid = assessed["project_id"]
    response = operator_client.post(f"{BASE}/{pid}/reset-assessment", format="json")
    assert_matches_schema(response, P + "/reset-assessment", "post")
    assert response.json()["affected_count"] == 300
    vms = SourceVM.objects.filter(project_id=pid)
    assert vms.count() == 300 and not vms.exclude(risk_level="").exists() and not vms.exclude(migration_mode="").exists()


def test_bandwidth_model_finds_the_bottleneck(operator_client, viewer_client, project):
    pid = project["project_id"]
    local = viewer_client.get(f"{BASE}/{pid}/bandwidth")
    assert_matches_schema(local, P + "/bandwidth", "get")
    assert local.json()["bandwidth"] == {
        "source_effective_mbps": 4000.0, "link_effective_mbps": None, "agent_effective_mbps": 3500.0,
        "storage_effective_mbps": 500.0, "bottleneck": "pcd_storage", "bottleneck_mbps": 500.0,
        "latency_penalty": 1.0,
        # Beyond the seed: which model it went by (no sync has completed here).
        "source": "model", "measured_jobs": 0, "measured_stream_mbps": None, "change_rate_pct": 5.0,
        "change_rate_source": "model"}
    operator_client.patch(f"{BASE}/{pid}", {"topology_type": "cross_site_dedicated", "link_speed_gbps": 1.0,
                                            "link_usable_pct": 30, "link_latency_ms": 60, "agent_count": 4},
                          format="json")
    model = viewer_client.get(f"{BASE}/{pid}/bandwidth").json()["bandwidth"]
    assert model["latency_penalty"] == 1.5 and model["link_effective_mbps"] == 200.0
    assert model["bottleneck"] == "link" and model["bottleneck_mbps"] == 200.0
    assert model["agent_effective_mbps"] == 7000.0


def test_agent_recommendation_follows_the_schedule(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    fallback = viewer_client.get(f"{BASE}/{pid}/agent-recommendation")
    assert_matches_schema(fallback, P + "/agent-recommendation", "get")
    assert fallback.json()["recommendation"]["reasoning"][0].startswith("No schedule set")
    operator_client.patch(f"{BASE}/{pid}", {"migration_duration_days": 30}, format="json")
    scheduled = viewer_client.get(f"{BASE}/{pid}/agent-recommendation").json()["recommendation"]
    assert scheduled["reasoning"][0] == "300 VMs in 30 days (5d/wk × 8h/d = 21 effective days)"
    assert scheduled["vcpu_per_agent"] == 10 and scheduled["ram_gb_per_agent"] == 7
    assert scheduled["disk_gb_per_agent"] == 120
    assert scheduled["max_concurrent_vms"] == scheduled["recommended_agent_count"] * 5
    operator_client.patch(f"{BASE}/{pid}", {"target_vms_per_day": 200}, format="json")
    fast = viewer_client.get(f"{BASE}/{pid}/agent-recommendation").json()["recommendation"]
    assert fast["recommended_agent_count"] > scheduled["recommended_agent_count"]
    assert fast["reasoning"][1].startswith("Need 200.0 VMs/day")


def test_mode_override_and_status(operator_client, viewer_client, assessed):
    pid = assessed["project_id"]
    vm = SourceVM.objects.get(project_id=pid, vm_name="org-03-dev-vm0129")
    url = f"{BASE}/{pid}/vms/{vm.pk}"
    forced = operator_client.patch(f"{url}/mode-override", {"override": "warm"}, format="json")
    assert_matches_schema(forced, P + "/vms/{vm_id}/mode-override", "patch")
    assert forced.json()["vm"]["effective_mode"] == "warm_eligible"
    assert forced.json()["vm"]["migration_mode"] == "cold_required"
    reverted = operator_client.patch(f"{url}/mode-override", {"override": None}, format="json").json()["vm"]
    assert reverted["effective_mode"] == "cold_required" and reverted["mode_override"] is None
    assert operator_client.patch(f"{url}/mode-override", {"override": "hot"}, format="json").status_code == 400
    status = operator_client.patch(f"{url}/status", {"status": "in_progress", "status_note": "Kick-off batch 3"},
                                   format="json")
    assert_matches_schema(status, P + "/vms/{vm_id}/status", "patch")
    assert status.json()["vm"]["migration_status"] == "in_progress"
    assert viewer_client.patch(f"{url}/status", {"status": "migrated"}, format="json").status_code == 403
    ids = list(SourceVM.objects.filter(project_id=pid).values_list("pk", flat=True)[:3])
    bulk = operator_client.patch(f"{BASE}/{pid}/vms/bulk-status", {"vm_ids": ids, "status": "skipped",
                                                                   "status_note": "Out of scope"}, format="json")
    assert_matches_schema(bulk, P + "/vms/bulk-status", "patch")
    assert bulk.json()["affected_count"] == 3
    assert SourceVM.objects.filter(pk__in=ids, migration_status="skipped", status_note="Out of scope").count() == 3
    other = operator_client.patch(f"{BASE}/{pid}/vms/bulk-status", {"vm_ids": [ids[0], 99999999], "status": "failed"},
                                  format="json")
    assert other.status_code == 400 and "99999999" in other.json()["detail"]
    assert SourceVM.objects.get(pk=ids[0]).migration_status == "skipped"  # nothing changed
    assert operator_client.patch(f"{BASE}/{pid}/vms/abc/status", {"status": "failed"},
                                 format="json").status_code == 404
