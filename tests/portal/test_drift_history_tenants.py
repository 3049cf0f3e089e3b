"""Drift, history and audit, tenant health: changes made in CloudStack seen after the next collection."""
from __future__ import annotations

import pytest

from apps.portal import collector, models

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def get(client, path, status=200, **params):
    answer = client.get(path, params)
    assert answer.status_code == status, answer.content
    return answer.json()


@pytest.fixture
def drifted(collected):
    """The offering of a stopped VM changed and a VM deleted in CloudStack, then collected again."""
    client = collected.client
    client.change_service_offering(collected.vms["acme-db-1"]["id"], collected.offerings["Medium Instance"]["id"])
    client.destroy_virtual_machine(collected.vms["globex-app-1"]["id"])
    assert collector.collect().status == "succeeded"
    return collected


def test_drift_events_appear_after_the_next_collection(drifted, viewer_client):
    summary = get(viewer_client, "/drift/summary")
    # The flavor change, the VM's deletion and its root volume's (expunged with it).
    assert summary["total_events"] == summary["unacknowledged"] == 3
    assert summary["by_severity"] == {"critical": 1, "warning": 2, "info": 0}
    assert summary["by_resource_type"] == {"server": 2, "volume": 1} and summary["last_detected_at"]
    events = get(viewer_client, "/drift/events", page=1, page_size=50)
    assert events["total"] == 3 and events["page"] == 1 and events["page_size"] == 50
    flavor = next(e for e in events["events"] if e["field_name"] == "flavor_id")
    assert flavor["resource_name"] == "acme-db-1" and flavor["rule_name"] == "Server Flavor Change"
    assert flavor["old_value"] == drifted.offerings["Small Instance"]["id"]
    assert flavor["new_value"] == drifted.offerings["Medium Instance"]["id"]
    assert (flavor["tenant_name"], flavor["domain_name"], flavor["acknowledged"]) == ("acme", "ROOT", False)
    deleted = get(viewer_client, "/drift/events", severity="critical")["events"]
    assert [(e["resource_name"], e["field_name"]) for e in deleted] == [("globex-app-1", "deleted")]
    assert get(viewer_client, "/drift/events", tenant_name="globex")["total"] == 2
    assert get(viewer_client, "/drift/events", search="db-1")["total"] == 1
    one = get(viewer_client, f"/drift/events/{flavor['id']}")
    assert one["rule_description"] == "Detects when a server's flavor (size) is changed" and one["rule_id"]


def test_operators_acknowledge_and_viewers_may_not(drifted, viewer_client, operator_client):
    ids = list(models.DriftEvent.objects.values_list("id", flat=True))
    refused = viewer_client.put(f"/drift/events/{ids[0]}/acknowledge")
    assert refused.status_code == 403 and refused.json() == {"detail": "Permission denied: requires drift:write"}
    one = operator_client.put(f"/drift/events/{ids[0]}/acknowledge")
    assert one.status_code == 200 and one.json()["acknowledged_by"] == "operator1" and one.json()["acknowledged"]
    bulk = operator_client.put("/drift/events/bulk-acknowledge", {"event_ids": ids}, format="json")
    assert bulk.status_code == 200 and bulk.json()["acknowledged_count"] == 2
    assert get(viewer_client, "/drift/summary")["unacknowledged"] == 0
    assert get(viewer_client, "/drift/events", acknowledged="false")["total"] == 0
    assert operator_client.put("/drift/events/999999/acknowledge").status_code == 404
    for body in ({}, {"event_ids": []}, {"event_ids": ["x"]}, {"event_ids": 3}):
        answer = operator_client.put("/drift/events/bulk-acknowledge", body, format="json")
        assert answer.status_code == 400 and set(answer.json()) == {"detail"}


def test_a_disabled_rule_raises_no_more_events(drifted, viewer_client, operator_client):
    rules = get(viewer_client, "/drift/rules")
    # The seed's table (22 field rules, though it says 24) and our two deletion rules.
    assert rules["total"] == 24 and {r["resource_type"] for r in rules["rules"]} >= {"server", "subnet",
                                                                                        "floating_ip"}
    status_rule = next(r for r in rules["rules"] if r["rule_name"] == "Server Status Change")
    off = operator_client.put(f"/drift/rules/{status_rule['id']}", {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["updated_by"] == "operator1"
    drifted.client.stop_virtual_machine(drifted.vms["acme-web-1"]["id"])
    collector.collect()
    assert not models.DriftEvent.objects.filter(rule_id=status_rule["id"]).exists()
    assert models.DriftEvent.objects.filter(field_name="vm_state", resource_name="acme-web-1").exists()
    assert operator_client.put("/drift/rules/9999", {"enabled": True}, format="json").status_code == 404
    assert operator_client.put(f"/drift/rules/{status_rule['id']}", {"enabled": "maybe"},
                               format="json").status_code == 400


@pytest.mark.parametrize("query", [{"severity": "fatal"}, {"acknowledged": "perhaps"}, {"sort_by": "secret"},
                                   {"resource_type": "router"}, {"page_size": 0}])
def test_bad_drift_filters_are_400(drifted, viewer_client, query):
    assert viewer_client.get("/drift/events", query).status_code == 400


def test_history_shows_the_before_and_after(drifted, viewer_client):
    db_id = drifted.vms["acme-db-1"]["id"]
    history = get(viewer_client, f"/history/resource/server/{db_id}")
    assert history["total"] == 2 and history["resource_name"] == "acme-db-1"
    latest, first = history["history"]
    assert latest["action"] == "changed" and latest["fields"]["ram_mb"] == {"before": 1024, "after": 4096}
    assert first["action"] == "created" and first["state"]["flavor_name"] == "Small Instance"
    compare = get(viewer_client, f"/history/compare/server/{db_id}", current_hash=latest["change_hash"],
                  previous_hash=first["change_hash"])
    assert {"field": "flavor_name", "previous": "Small Instance", "current": "Medium Instance"} in \
        compare["differences"]
    details = get(viewer_client, f"/history/details/server/{db_id}")
    assert [c["sequence"] for c in details["changes"]] == [1, 2]
    assert details["changes"][1]["key_fields"]["flavor_name"] == "Medium Instance"
    gone = get(viewer_client, f"/history/resource/deletion/{drifted.vms['globex-app-1']['id']}")
    assert gone["history"][0]["original_resource_type"] == "server"
    assert gone["history"][0]["state"]["raw"]["name"] == "globex-app-1"
    assert gone["history"][0]["reason"].startswith("deleted in CloudStack")
    recent = get(viewer_client, "/history/recent-changes", hours=1)
    assert recent["total"] == models.Change.objects.count()
    most = get(viewer_client, "/history/most-changed", limit=1)["resources"]
    assert most[0]["change_count"] == 2
    frames = get(viewer_client, "/history/by-timeframe", timeframe="hour", days=1)["periods"]
    assert sum(p["total"] for p in frames) == models.Change.objects.count()
    timeline = get(viewer_client, "/audit/resource-timeline/server", days=1)
    assert timeline["total_changes"] == models.Change.objects.filter(resource_type="server").count()
    assert timeline["timeline"][0]["deleted"] == 1  # globex-app-1
    report = get(viewer_client, "/audit/compliance-report")
    assert report["drift"]["total"] == 3 and report["changes"]["deleted"] == 3  # the VM, its root volume, its NIC
    assert report["volumes_compliant"] == 1


@pytest.mark.parametrize("path, query, status", [
    ("/history/resource/router/x", {}, 400), ("/history/resource/server/nope", {}, 404),
    ("/history/recent-changes", {"hours": 169}, 400), ("/history/by-timeframe", {"timeframe": "week"}, 400),
    ("/audit/compliance-report", {"start_date": "yesterday"}, 400),
    ("/audit/compliance-report", {"start_date": "2026-02-02", "end_date": "2026-01-01"}, 400),
    ("/audit/resource-timeline/galaxy", {}, 400),
])
def test_bad_history_queries(drifted, viewer_client, path, query, status):
    answer = viewer_client.get(path, query)
    assert answer.status_code == status and set(answer.json()) == {"detail"}


def test_compare_needs_both_hashes(drifted, viewer_client):
    db_id = drifted.vms["acme-db-1"]["id"]
    assert viewer_client.get(f"/history/compare/server/{db_id}").status_code == 400
    assert viewer_client.get(f"/history/compare/server/{db_id}", {"current_hash": "a",
                                                                  "previous_hash": "b"}).status_code == 404
    info = get(viewer_client, f"/history/compare/deletion/{db_id}")
    assert info["message"].startswith("Comparison is not available")


def test_tenant_health_scores_each_tenant(drifted, viewer_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):  # authentication, freshness, one grouped query per table
        body = get(viewer_client, "/tenant-health/overview", sort_by="project_name", sort_dir="asc")
    tenants = {t["project_name"]: t for t in body["tenants"]}
    acme = tenants["acme"]
    assert (acme["total_servers"], acme["active_servers"], acme["shutoff_servers"]) == (3, 2, 1)
    assert acme["total_vcpus"] == 1 + 2 + 2 and acme["compliance_pct"] == 25.0
    assert acme["total_drift_events"] == 1 and acme["warning_drift_events"] == 1
    # 100 - (100 - 25) * 0.2 - 3 for the unacknowledged warning
    assert acme["health_score"] == 82 and acme["health_status"] == "healthy"
    assert tenants["globex"]["critical_drift_events"] == 1 and tenants["globex"]["health_score"] < 100
    assert body["summary"]["total_tenants"] == len(body["tenants"])
    assert [t["project_name"] for t in body["tenants"]] == sorted(tenants)
    assert get(viewer_client, "/tenant-health/overview", search="payr")["summary"]["total_tenants"] == 1
    heat = {t["project_name"]: t for t in get(viewer_client, "/tenant-health/heatmap")["tenants"]}
    assert heat["acme"]["power_on_pct"] == 66.67 and 0 < heat["acme"]["utilization_score"] <= 100
    detail = get(viewer_client, f"/tenant-health/{acme['project_id']}")
    assert detail["resources"]["servers"] == {"total": 3, "active": 2, "shutoff": 1, "error": 0}
    assert detail["top_volumes"][0]["volume_name"] == "acme-data-1" and detail["top_volumes"][0]["size_gb"] == 10
    assert detail["recent_drift_events"][0]["field_name"] == "flavor_id"
    trends = get(viewer_client, f"/tenant-health/trends/{acme['project_id']}", days=3)
    assert len(trends["trends"]) == 3 and trends["trends"][0]["drift_events"] == 1
    assert trends["trends"][0]["snapshots_created"] == 1


def test_quota_reads_cloudstack_limits(drifted, viewer_client, cs_config):
    payroll = drifted.projects["payroll"]["id"]
    quota = get(viewer_client, f"/tenant-health/quota/{payroll}")
    assert quota["available"] is True
    assert quota["compute"]["instances"] == {"limit": 20, "in_use": 1, "reserved": 0}
    assert quota["storage"]["gigabytes"]["limit"] == 200 and quota["storage"]["volumes"]["in_use"] == 2
    acme = drifted.accounts["acme"]
    drifted.client.call("updateResourceLimit", resourcetype=8, max=64, account="acme", domainid=acme["domainid"])
    assert get(viewer_client, f"/tenant-health/quota/{acme['id']}")["compute"]["cores"]["limit"] == 64
    cs_config.api_url = "http://127.0.0.1:9/client/api"
    cs_config.save()
    down = get(viewer_client, f"/tenant-health/quota/{payroll}")
    assert down["available"] is False and "did not answer" in down["reason"]


@pytest.mark.parametrize("path, query", [("/tenant-health/overview", {"sort_by": "secret"}),
                                         ("/tenant-health/trends/{id}", {"days": 0})])
def test_bad_tenant_queries_are_400(drifted, viewer_client, path, query):
    path = path.format(id=drifted.accounts["acme"]["id"])
    assert viewer_client.get(path, query).status_code == 400


def test_an_unknown_tenant_is_404(drifted, viewer_client):
    for path in ("/tenant-health/nope", "/tenant-health/trends/nope", "/tenant-health/quota/nope"):
        answer = viewer_client.get(path)
        assert answer.status_code == 404 and answer.json() == {"detail": "Tenant nope not found"}


@pytest.mark.parametrize("path", ["/drift/events/-4", "/drift/events/abc", "/drift/events/99999999999999999999999"])
def test_odd_event_ids_are_404_in_the_seeds_shape(db, viewer_client, path):
    answer = viewer_client.get(path)
    assert answer.status_code == 404 and set(answer.json()) == {"detail"}
