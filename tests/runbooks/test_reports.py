"""The read-only reports over the portal's collection of the emulator (tests/portal's world): what each finds is
what the test made in CloudStack."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.portal import collector
from tests.openapi import assert_matches_schema
from tests.portal.conftest import cloud, collected  # noqa: F401 -- the portal's collected world, as fixtures


@pytest.fixture(autouse=True)
def eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _run(client, name: str, dry_run: bool = False, **params) -> dict:
    answer = client.post("/api/runbooks/trigger", {"runbook_name": name, "dry_run": dry_run, "parameters": params},
                         format="json")
    assert answer.status_code == 200, answer.content
    assert_matches_schema(answer, "/api/runbooks/trigger", "post")
    body = answer.json()
    assert body["status"] == "completed", body
    return body


@pytest.mark.django_db(transaction=True)
def test_compliance_audit_finds_the_open_ssh_rule_the_stale_user_and_unencrypted_volumes(
        collected, admin_client_api):  # noqa: F811
    client = collected.client
    group = client.call("createSecurityGroup", name="bastion", description="jump host", account="globex",
                        domainid=collected.accounts["globex"]["domainid"])["securitygroup"]
    client.run_job("authorizeSecurityGroupIngress", "securitygroup", securitygroupid=group["id"], protocol="tcp",
                   startport=22, endport=22, cidrlist="0.0.0.0/0")
    client.run_job("authorizeSecurityGroupIngress", "securitygroup", securitygroupid=group["id"], protocol="tcp",
                   startport=443, endport=443, cidrlist="10.0.0.0/8")  # private: not a finding
    assert collector.collect().status == "succeeded"
    get_user_model().objects.create_user("dormant", last_login=timezone.now() - timedelta(days=200))

    body = _run(admin_client_api, "security_compliance_audit", stale_user_days=90)
    result = body["result"]
    assert [(r["security_group"], r["tenant"], r["finding"], r["severity"]) for r in result["open_rules"]] == [
        ("bastion", "globex", "SSH (22/tcp) open to the internet", "critical")]
    assert [u["username"] for u in result["stale_users"]] == ["dormant"]
    assert result["stale_users"][0]["days_inactive"] >= 199
    names = {v["name"] for v in result["unencrypted_volumes"]}
    assert {"acme-data-1", "globex-data-1", "payroll-data-1"} <= names
    assert body["items_found"] == sum(result["summary"].values()) and body["items_actioned"] == 0

    quiet = _run(admin_client_api, "security_compliance_audit", True, check_volume_encryption=False)["result"]
    assert "unencrypted_volumes" not in quiet and quiet["summary"]["open_rules"] == 1


@pytest.mark.django_db(transaction=True)
def test_upgrade_detector_names_the_tenant_at_its_limit_small_vms_and_end_of_life_images(
        collected, admin_client_api):  # noqa: F811
    from apps.portal.models import ServiceOffering, Template

    acme = collected.accounts["acme"]
    collected.client.call("updateResourceLimit", resourcetype=0, max=3, account="acme", domainid=acme["domainid"])
    Template.objects.filter(name="lab-template").update(os_type="CentOS 7")  # as collected from an old image

    result = _run(admin_client_api, "upgrade_opportunity_detector", quota_threshold_pct=80)["result"]
    assert [(q["tenant"], q["resource"], q["used"], q["limit"], q["used_pct"]) for q in result["quota_pressure"]] \
        == [("acme", "user_vm", 3, 3, 100.0)]
    small = ServiceOffering.objects.get(name="Small Instance")
    upgrades = {u["name"]: u for u in result["flavor_upgrades"]}
    assert {"acme-web-1", "acme-db-1", "payroll-1"} <= set(upgrades) and "acme-web-2" not in upgrades
    line = upgrades["acme-web-1"]
    bigger = ServiceOffering.objects.get(name=line["suggested_offering"])
    assert line["monthly_delta"] == round((bigger.vcpus - small.vcpus) * 15 + (bigger.ram_mb - small.ram_mb) / 1024 * 5,
                                          2)
    assert {o["name"] for o in result["outdated_images"]} >= {"acme-web-1", "globex-app-1", "payroll-1"}
    assert result["estimated_monthly_revenue"] == round(sum(u["monthly_delta"] for u in upgrades.values()), 2)

    relaxed = _run(admin_client_api, "upgrade_opportunity_detector", True, quota_threshold_pct=100,
                   include_flavor_analysis=False, include_image_analysis=False)["result"]
    assert len(relaxed["quota_pressure"]) == 1 and "flavor_upgrades" not in relaxed


@pytest.mark.django_db(transaction=True)
def test_executive_snapshot_totals_costs_deltas_and_the_riskiest_tenants(
        collected, cs_lab, admin_client_api):  # noqa: F811
    from apps.portal.models import Server, Volume
    from apps.settings import cloudstack as cs

    acme = collected.accounts["acme"]
    cs_lab.inject("deployVirtualMachine", fail=True, errortext="Unable to create a deployment for VM")
    with pytest.raises(cs.CloudStackError):
        collected.deploy("acme-broken", owner={"account": "acme", "domainid": acme["domainid"]})
    group = collected.client.call("createSecurityGroup", name="rdp", account="globex",
                                  domainid=collected.accounts["globex"]["domainid"])["securitygroup"]
    collected.client.run_job("authorizeSecurityGroupIngress", "securitygroup", securitygroupid=group["id"],
                             protocol="tcp", startport=3389, endport=3389, cidrlist="0.0.0.0/0")
    assert collector.collect().status == "succeeded"

    body = _run(admin_client_api, "monthly_executive_snapshot", risk_top_n=2, price_per_vcpu=10.0,
                price_per_gb_storage=1.0)
    result = body["result"]
    live = Server.objects.exclude(state__in=("Destroyed", "Expunging"))
    assert result["totals"]["vms"] == live.count() and result["totals"]["vms_error"] == 1
    vcpus = sum(live.values_list("vcpus", flat=True))
    storage = sum(Volume.objects.exclude(state__in=("Destroy", "Expunging")).values_list("size_gb", flat=True))
    assert result["monthly_cost"] == {"compute": vcpus * 10.0, "storage": storage * 1.0,
                                      "total": vcpus * 10.0 + storage * 1.0}
    assert [(r["tenant"], r["score"]) for r in result["top_risks"]] == [("acme", 3), ("globex", 2)]
    assert result["top_risks"][0]["reasons"] == ["VM acme-broken is in Error"]
    assert result["deltas_30d"]["server"]["created"] >= 1 and body["items_found"] == 2


@pytest.mark.django_db(transaction=True)
def test_quota_forecast_counts_days_to_the_limit_from_the_snapshots_and_the_policy(
        collected, admin_client_api):  # noqa: F811
    from apps.snapshots.models import SnapshotAssignment, SnapshotPolicy

    client, acme = collected.client, collected.accounts["acme"]
    client.call("updateResourceLimit", resourcetype=3, max=10, account="acme", domainid=acme["domainid"])
    volume = next(v for v in client.list_all_volumes() if v.get("vmname") == "acme-web-1" and v["type"] == "ROOT")
    for n in range(4):
        client.create_snapshot(volume["id"], name=f"manual-{n}")
    have = sum(1 for s in client.list_everywhere("listSnapshots") if s.get("account") == "acme"
               and not s.get("projectid"))
    assert have == 5  # the portal world's root snapshot and these four
    policy = SnapshotPolicy.objects.create(name="every-6h", interval_minutes=360, retention_count=7)
    SnapshotAssignment.objects.create(policy=policy, target_type="volume", target_id=volume["id"])

    body = _run(admin_client_api, "snapshot_quota_forecast", True, safety_margin_pct=10)
    lines = {t["tenant"]: t for t in body["result"]["tenants"]}
    acme_line = lines["acme"]
    assert (acme_line["snapshots"], acme_line["limit"], acme_line["effective_limit"]) == (5, 10, 9)
    assert acme_line["daily_growth"] == 4.0 and acme_line["days_to_limit"] == 1.0  # (9 - 5) / 4 a day
    assert acme_line["projected_total"] == 12 and acme_line["status"] == "will_exceed"
    assert acme_line["policies"] == ["every-6h"]
    assert body["result"]["at_risk"] == 1 and body["items_found"] == 1
    assert all(t["status"] == "ok" for name, t in lines.items() if name != "acme")

    # A policy that never ran is left out when asked: acme's snapshots then stay where they are.
    settled = _run(admin_client_api, "snapshot_quota_forecast", include_pending_policies=False)["result"]
    assert settled["policies_counted"] == [] and settled["at_risk"] == 0
