"""Seed 004's infrastructure endpoints over a collection of the emulator, and the /admin/... writes to CloudStack."""
from __future__ import annotations

import pytest

from apps.portal import collector, models

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def results(client, path, **params):
    answer = client.get(path, params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_servers_answer_the_seeds_fields_with_host_figures(collected, viewer_client):
    body = results(viewer_client, "/servers", tenant_id=collected.accounts["acme"]["id"])
    assert body["total"] == 3 and body["offset"] == 0 and body["limit"] == 100
    assert body["freshness"]["collected_at"] and body["freshness"]["stale"] is False
    web = next(s for s in body["results"] if s["vm_name"] == "acme-web-2")
    assert (web["status"], web["flavor_name"], web["vcpus"], web["ram_mb"]) == ("ACTIVE", "Medium Instance", 2, 4096)
    assert web["tenant_name"] == "acme" and web["domain_name"] == "ROOT" and web["image_name"] == "lab-template"
    assert web["disk_gb"] == 2 and web["ips"].startswith("10.")
    assert web["hypervisor_hostname"].startswith("kvm-host-") and web["host_vcpus_total"] == 32
    assert web["host_running_vms"] >= 1 and web["host_vcpus_used"] >= 2
    shutoff = results(viewer_client, "/servers", status="SHUTOFF")["results"]
    assert [s["vm_name"] for s in shutoff] == ["acme-db-1"] and shutoff[0]["host_vcpus_total"] is None


def test_servers_page_and_sort_as_the_seed(collected, viewer_client):
    first = results(viewer_client, "/servers", page=1, page_size=2, sort_by="vm_name", sort_dir="desc")
    assert first["page"] == 1 and first["page_size"] == 2 and len(first["results"]) == 2
    names = [s["vm_name"] for s in results(viewer_client, "/servers", sort_by="vm_name", sort_dir="desc")["results"]]
    assert names == sorted(names, reverse=True)
    assert [s["vm_name"] for s in first["results"]] == names[:2]
    assert results(viewer_client, "/servers", limit=1, offset=1)["results"][0]["vm_name"] == \
        sorted(names)[1]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"limit": "ten"},
                                   {"sort_by": "password"}, {"sort_dir": "up"}, {"page": "0"}])
def test_bad_paging_and_sorting_are_400_in_the_seeds_shape(collected, viewer_client, query):
    answer = viewer_client.get("/servers", query)
    assert answer.status_code == 400 and answer.json()["detail"].startswith("Invalid")


def test_every_list_answers_the_collected_rows(collected, viewer_client):
    domains = {d["domain_name"]: d for d in results(viewer_client, "/domains")["results"]}
    assert domains["Finance"]["project_count"] == 2  # the ledger account and the payroll project
    tenants = results(viewer_client, "/tenants", domain_id=domains["Finance"]["domain_id"])["results"]
    assert {(t["project_name"], t["kind"]) for t in tenants} == {("payroll", "project"), ("ledger", "account")}
    payroll = next(t for t in tenants if t["kind"] == "project")
    assert (payroll["server_count"], payroll["volume_count"]) == (1, 2)
    assert results(viewer_client, "/projects")["total"] == models.Account.objects.count() + 1
    volumes = results(viewer_client, "/volumes", project_id=collected.accounts["globex"]["id"])["results"]
    assert {v["volume_name"]: v["size_gb"] for v in volumes if v["volume_type"] == "DATADISK"} == {"globex-data-1": 20}
    snaps = results(viewer_client, "/snapshots")["results"]
    assert [s["snapshot_name"] for s in snaps] == ["acme-web-1-daily"] and snaps[0]["tenant_name"] == "acme"
    nets = {n["network_name"]: n for n in results(viewer_client, "/networks")["results"]}
    assert nets["acme-net"]["cidr"].endswith("/24") and nets["shared-net"]["shared"] is True
    subnets = {s["name"]: s for s in results(viewer_client, "/subnets")["results"]}
    assert "l2-net" not in subnets and subnets["migration-net"]["gateway_ip"] == "10.1.2.1"
    web = models.Server.objects.get(name="acme-web-1")
    ports = results(viewer_client, "/ports", device_id=web.cloud_id)["results"]
    assert len(ports) == 1 and ports[0]["mac_address"] == web.nics[0]["macaddress"]
    groups = results(viewer_client, "/security-groups", name="we")["results"]
    assert [(g["name"], g["tenant_name"], g["rule_count"]) for g in groups] == [("web", "acme", 0)]
    flavors = {f["name"]: f for f in results(viewer_client, "/flavors")["results"]}
    assert flavors["Large Instance"]["vcpus"] == 4 and flavors["Large Instance"]["ram_mb"] == 8192
    assert [i["name"] for i in results(viewer_client, "/images")["results"]] == ["lab-template"]
    hosts = results(viewer_client, "/hypervisors")["results"]
    assert len(hosts) == 2 and sum(h["running_vms"] for h in hosts) == models.Server.objects.filter(
        status="ACTIVE").count()


def test_an_unknown_security_group_is_404(collected, viewer_client):
    answer = viewer_client.get("/security-groups/nope")
    assert answer.status_code == 404 and answer.json() == {"detail": "Security group nope not found"}


def test_an_outage_still_answers_the_last_data_and_says_so(collected, viewer_client, cs_config):
    cs_config.api_url = "http://127.0.0.1:9/client/api"
    cs_config.save()
    collector.collect()
    body = results(viewer_client, "/servers")
    assert body["total"] == models.Server.objects.count() == 7 and body["freshness"]["stale"] is True
    assert "127.0.0.1:9" in body["freshness"]["last_error"] and body["freshness"]["data_age_seconds"] >= 0


def test_an_admin_creates_and_deletes_a_flavor_in_cloudstack(collected, admin_client_api):
    made = admin_client_api.post("/admin/flavors", {"name": "m1.xlarge", "vcpus": 8, "ram": 16384}, format="json")
    assert made.status_code == 201, made.content
    flavor = made.json()
    assert (flavor["name"], flavor["vcpus"], flavor["ram_mb"]) == ("m1.xlarge", 8, 16384)
    assert any(o["id"] == flavor["flavor_id"] for o in collected.client.list_service_offerings())
    assert models.Change.objects.get(resource_id=flavor["flavor_id"]).user == "admin1"
    assert admin_client_api.delete(f"/admin/flavors/{flavor['flavor_id']}").status_code == 204
    assert all(o["id"] != flavor["flavor_id"] for o in collected.client.list_service_offerings())
    assert admin_client_api.delete(f"/admin/flavors/{flavor['flavor_id']}").status_code == 404


@pytest.mark.parametrize("body", [{}, {"name": "x", "vcpus": 0, "ram": 512}, {"name": "x", "vcpus": "two", "ram": 1},
                                  {"name": "x", "vcpus": 1}])
def test_bad_flavors_are_400(collected, admin_client_api, body):
    answer = admin_client_api.post("/admin/flavors", body, format="json")
    assert answer.status_code == 400 and set(answer.json()) == {"detail"}


def test_networks_are_created_and_a_busy_one_is_refused_409(collected, admin_client_api):
    made = admin_client_api.post("/admin/networks", {"name": "tenant-net"}, format="json")
    assert made.status_code == 201 and made.json()["network_name"] == "tenant-net"
    assert admin_client_api.delete(f"/admin/networks/{made.json()['network_id']}").status_code == 204
    busy = models.Network.objects.get(name="migration-net")
    refused = admin_client_api.delete(f"/admin/networks/{busy.cloud_id}")
    assert refused.status_code == 409 and "CloudStack refused it" in refused.json()["detail"]


def test_security_groups_and_rules_round_trip_through_cloudstack(collected, admin_client_api, viewer_client):
    group = admin_client_api.post("/admin/security-groups", {"name": "db", "description": "MySQL"}, format="json")
    assert group.status_code == 201
    sg_id = group.json()["sg_id"]
    rule = admin_client_api.post("/admin/security-group-rules", {
        "security_group_id": sg_id, "direction": "ingress", "protocol": "tcp", "port_range_min": 3306,
        "port_range_max": 3306, "remote_ip_prefix": "10.0.0.0/8", "ethertype": "IPv4"}, format="json")
    assert rule.status_code == 201, rule.content
    assert (rule.json()["port_range_min"], rule.json()["remote_ip_prefix"]) == (3306, "10.0.0.0/8")
    detail = results(viewer_client, f"/security-groups/{sg_id}")
    assert detail["rule_count"] == 1 and detail["rules"][0]["protocol"] == "tcp"
    listed = results(viewer_client, "/security-group-rules", security_group_id=sg_id)
    assert listed["total"] == 1
    cloud = next(g for g in collected.client.list_security_groups() if g["id"] == sg_id)
    assert cloud["ingressrule"][0]["startport"] == 3306
    assert admin_client_api.delete(f"/admin/security-group-rules/{rule.json()['rule_id']}").status_code == 204
    assert admin_client_api.delete(f"/admin/security-groups/{sg_id}").status_code == 204
    assert not models.SecurityGroup.objects.filter(cloud_id=sg_id).exists()


@pytest.mark.parametrize("body", [
    {"security_group_id": "x", "protocol": "tcp"},
    {"security_group_id": "x", "protocol": "tcp", "port_range_min": 9, "port_range_max": 1},
    {"security_group_id": "x", "protocol": "gre"},
    {"security_group_id": "x", "protocol": "all", "remote_ip_prefix": "not-a-cidr"},
    {"security_group_id": "x", "protocol": "all", "direction": "egress"},
])
def test_bad_rules_are_400(collected, admin_client_api, body):
    assert admin_client_api.post("/admin/security-group-rules", body, format="json").status_code == 400


def test_a_rule_for_an_unknown_group_is_404(collected, admin_client_api):
    answer = admin_client_api.post("/admin/security-group-rules", {"security_group_id": "nope", "protocol": "all"},
                                   format="json")
    assert answer.status_code == 404


@pytest.mark.django_db
def test_writes_without_cloudstack_are_503(admin_client_api):
    answer = admin_client_api.post("/admin/networks", {"name": "n"}, format="json")
    assert answer.status_code == 503 and "not configured" in answer.json()["detail"]


def test_volume_snapshot_metadata_and_compliance(collected, viewer_client):
    root = models.Snapshot.objects.get().volume_id
    one = results(viewer_client, f"/volumes/{root}/metadata")
    assert one["snapshot_count"] == 1 and one["compliant"] is True and one["last_snapshot"]
    bulk = results(viewer_client, "/volumes/metadata/bulk", limit=500)
    assert bulk["total"] == models.Volume.objects.count() and sum(v["compliant"] for v in bulk["results"]) == 1
    assert viewer_client.get("/volumes/nope/metadata").status_code == 404
    report = results(viewer_client, "/snapshot/compliance", tenant_id=collected.accounts["acme"]["id"], days=7)
    assert (report["total_volumes"], report["compliant"], report["critical"]) == (4, 1, 3)
    assert report["overall_compliance"] == 25.0 and [t["tenant_name"] for t in report["tenants"]] == ["acme"]
    assert viewer_client.get("/snapshot/compliance", {"days": 0}).status_code == 400


def test_floating_ips_are_cloudstacks_public_addresses_and_their_drift(collected, viewer_client):
    client = collected.client
    sources = results(viewer_client, "/floatingips")["results"]
    assert sources and all(ip["is_source_nat"] and ip["status"] == "ACTIVE" for ip in sources)
    net = models.Network.objects.get(name="migration-net")
    ip = client.run_job("associateIpAddress", "ipaddress", networkid=net.cloud_id)
    web = collected.vms["acme-web-1"]
    client.call("enableStaticNat", ipaddressid=ip["id"], virtualmachineid=web["id"])
    collector.collect()
    bound = results(viewer_client, "/floatingips", network_id=net.cloud_id, status="ACTIVE")["results"]
    nat = next(b for b in bound if b["floating_ip_address"] == ip["ipaddress"])
    assert (nat["port_id"], nat["server_name"], nat["network_name"]) == (web["id"], "acme-web-1", "migration-net")
    client.run_job("disableStaticNat", None, ipaddressid=ip["id"])
    collector.collect()
    moved = models.DriftEvent.objects.get(resource_type="floating_ip", field_name="port_id")
    assert (moved.old_value, moved.new_value) == (web["id"], "")
    assert models.DriftEvent.objects.filter(resource_type="floating_ip", field_name="status").exists()
