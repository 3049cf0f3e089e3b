"""Seed 004's dashboard over a collection of the emulator: shapes, real figures, a bounded number of queries."""
from __future__ import annotations

import pytest

from apps.portal import collector, models

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

DASHBOARD = ("health-summary", "snapshot-sla-compliance", "top-hosts-utilization", "recent-changes",
             "coverage-risks", "capacity-pressure", "vm-hotspots", "tenant-risk-scores", "compliance-drift",
             "capacity-trends", "trendlines")


def get(client, name, **params):
    answer = client.get(f"/dashboard/{name}", params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_health_summary_counts_the_cloud(collected, viewer_client):
    body = get(viewer_client, "health-summary")
    assert body["total_vms"] == 7 and body["vms_running"] == 6  # the lab's oma and web-01, ours; acme-db-1 stopped
    assert body["total_tenants"] == models.Account.objects.count() + 1
    assert body["total_volumes"] == models.Volume.objects.count() and body["total_networks"] >= 6
    assert 0 < body["avg_cpu_utilization"] <= 100 and 0 < body["avg_memory_utilization"] <= 100
    assert body["alerts"] == {"critical": 0, "warning": 0, "info": 0}
    assert body["metrics_last_update"] and body["freshness"]["stale"] is False


def test_snapshot_sla_and_coverage_name_the_unprotected_volumes(collected, viewer_client):
    sla = get(viewer_client, "snapshot-sla-compliance", days=2)
    acme = next(t for t in sla["tenants"] if t["tenant_name"] == "acme")
    assert acme["total_volumes"] == 4 and acme["compliant"] == 1 and acme["critical"] == 3
    assert acme["compliance_percentage"] == 25.0 and acme["domain_name"] == "ROOT"
    assert {w["message"] for w in acme["warnings"]} == {"Never snapshotted"}
    total = models.Volume.objects.count()
    assert sla["overall_compliance"] == round(100 / total, 1)
    risks = get(viewer_client, "coverage-risks")
    assert risks["total_volumes"] == total and risks["total_at_risk"] == total - 1
    assert "acme-web-1" not in {v["volume_name"] for v in risks["volumes"]}
    assert all(1 <= v["risk_score"] <= 10 for v in risks["volumes"])


def test_hosts_hotspots_and_pressure(collected, viewer_client):
    hosts = get(viewer_client, "top-hosts-utilization", limit=1, sort="memory")
    assert hosts["total_hosts"] == 2 and len(hosts["hosts"]) == 1
    assert hosts["hosts"][0]["hostname"].startswith("kvm-host-") and hosts["hosts"][0]["vm_count"] >= 1
    spots = get(viewer_client, "vm-hotspots", sort="storage", limit=3)
    assert spots["sort_by"] == "storage" and spots["total_vms"] == 7 and len(spots["hotspots"]) == 3
    sizes = [h["storage_gb"] for h in spots["hotspots"]]
    assert sizes == sorted(sizes, reverse=True)
    pressure = get(viewer_client, "capacity-pressure")
    assert pressure["storage_pressure"] and {p["status"] for p in pressure["storage_pressure"]} <= {
        "ok", "warning", "critical"}
    assert len(pressure["compute_pressure"]) == 2


def test_vm_hotspots_are_cloudstacks_vm_statistics(cloud, cs_lab, viewer_client):
    # acme-web-2 busy with its memory known; globex-app-1 busy but its guest reports no free memory (-1).
    cs_lab.set_workload(cloud.vms["acme-web-2"]["id"], cpu_percent=91.5, memory_used_mb=1024)
    cs_lab.set_workload(cloud.vms["globex-app-1"]["id"], cpu_percent=40)
    assert collector.collect().status == "succeeded"
    spots = {h["vm_name"]: h for h in get(viewer_client, "vm-hotspots", sort="cpu", limit=10)["hotspots"]}
    assert list(spots)[:2] == ["acme-web-2", "globex-app-1"]
    assert (spots["acme-web-2"]["cpu_percent"], spots["acme-web-2"]["memory_percent"]) == (91.5, 25.0)
    assert (spots["globex-app-1"]["cpu_percent"], spots["globex-app-1"]["memory_percent"]) == (40.0, None)
    assert spots["acme-web-1"]["cpu_percent"] is None  # no workload: CloudStack has no statistics for it


def test_recent_changes_and_trends_follow_the_collections(collected, viewer_client):
    collected.client.destroy_virtual_machine(collected.vms["payroll-1"]["id"])
    collector.collect()
    changes = get(viewer_client, "recent-changes", hours=1, limit=500)
    deleted = [c for c in changes["changes"] if c["type"] == "vm_deleted"]
    assert [c["resource_name"] for c in deleted] == ["payroll-1"] and deleted[0]["project_name"] == "payroll"
    assert changes["total_changes"] == models.Change.objects.count() and changes["period_hours"] == 1
    trend = get(viewer_client, "trendlines", period=7)
    assert trend["metrics"]["vms"]["current"] == 6 and trend["metrics"]["vms"]["start"] == 6  # one sample a day
    capacity = get(viewer_client, "capacity-trends", days=7)
    assert len(capacity["storage_trend"]) == 1 and capacity["cpu_trend"][0]["avg_utilization"] >= 0
    drift = get(viewer_client, "compliance-drift", days=3)
    assert len(drift["drift_events"]) == 3 and drift["current_compliance"] > 0
    risk = get(viewer_client, "tenant-risk-scores")
    acme = next(t for t in risk["tenants"] if t["tenant_name"] == "acme")
    assert acme["factors"]["missing_snapshots"] == 75 and acme["risk_level"] in ("low", "medium", "high")
    assert "Enable snapshots on 3 volumes" in acme["recommendations"]


@pytest.mark.parametrize("name, query", [
    ("top-hosts-utilization", {"limit": 21}), ("top-hosts-utilization", {"sort": "disk"}),
    ("recent-changes", {"hours": 0}), ("vm-hotspots", {"sort": "gpu"}), ("trendlines", {"period": 14}),
    ("snapshot-sla-compliance", {"days": "two"}), ("compliance-drift", {"days": 91}),
])
def test_bad_parameters_are_400(collected, viewer_client, name, query):
    answer = viewer_client.get(f"/dashboard/{name}", query)
    assert answer.status_code == 400 and answer.json()["detail"].startswith("Invalid parameter")


@pytest.mark.parametrize("name", DASHBOARD)
def test_dashboard_queries_stay_bounded_as_the_cloud_grows(collected, viewer_client, name,
                                                           django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        get(viewer_client, name)
    for index in range(3):
        collected.deploy(f"more-{index}", owner={"account": "globex", "domainid": collected.accounts["globex"][
            "domainid"]})
    collector.collect()
    with django_assert_max_num_queries(14):
        get(viewer_client, name)
