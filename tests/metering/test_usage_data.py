"""Usage that is really there: VMs the emulator runs at known CPU, memory and network load are collected by the portal
and sampled with those figures, scored in efficiency's bands and charged for the traffic they moved; API usage per
endpoint (route pattern) and method counts the calls a test made."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db.models import Avg
from django.utils import timezone

from apps.accounts import middleware as request_metrics
from apps.metering import efficiency, sampler
from apps.metering.models import ApiUsageSample, EfficiencySample, ResourceSample
from apps.portal import collector
from apps.portal import models as portal

pytestmark = [pytest.mark.django_db(transaction=True)]
KiB, GiB = 1024, 1024**3


def collect() -> None:
    run = collector.collect()
    assert run.status == "succeeded", run.error


def expected_class(cpu: float, ram: float, disk: float) -> str:
    """efficiency.py's bands worked out from the usage the test drove."""
    def score(used: float) -> float:
        return round(max(0.0, 100 - abs(used - efficiency.IDEAL) * 100 / efficiency.IDEAL), 1)
    overall = round((score(cpu) + score(ram) + score(disk)) / 3, 1)
    return efficiency.classify(overall, True, cpu)


@pytest.mark.integration
def test_driven_usage_is_sampled_scored_and_charged(cloud, cs_lab, admin_client_api):
    # acme-web-1 (1 vCPU, 1024 MB) well used; acme-web-2 (2 vCPUs, 4096 MB) over-provisioned; globex-app-1 idle;
    # payroll-1 has no workload: its hypervisor gives no statistics.
    driven = {"acme-web-1": {"cpu_percent": 70, "memory_used_mb": 717, "network_kbs_read": 2048,
                             "network_kbs_write": 1024},
              "acme-web-2": {"cpu_percent": 10, "memory_used_mb": 410},
              "globex-app-1": {"cpu_percent": 2, "memory_used_mb": 819}}
    for name, figures in driven.items():
        cs_lab.set_workload(cloud.vms[name]["id"], **figures)
    collect()
    web1 = portal.Server.objects.get(cloud_id=cloud.vms["acme-web-1"]["id"])
    assert (web1.raw["cpuused"], web1.raw["memorykbs"], web1.raw["memoryintfreekbs"]) == \
        ("70%", 1024 * KiB, (1024 - 717) * KiB)
    now = timezone.now()
    assert sampler.sample(now=now - timedelta(minutes=15), force=True)
    # In the next quarter hour acme-web-1 reads another GiB: CloudStack's counters are totals.
    cs_lab.set_workload(cloud.vms["acme-web-1"]["id"], **{**driven["acme-web-1"],
                                                           "network_kbs_read": 2048 + GiB // KiB})
    collect()
    assert sampler.sample(now=now, force=True)

    rows = {r["vm_name"]: r for r in admin_client_api.get("/api/metering/resources", {"hours": 1}).json()["data"]
            if r["collected_at"] == admin_client_api.get("/api/metering/resources").json()["data"][0]["collected_at"]}
    web1 = rows["acme-web-1"]
    assert (web1["cpu_usage_percent"], web1["ram_usage_mb"], web1["ram_usage_percent"]) == (70.0, 717.0, 70.0)
    assert (web1["network_rx_bytes"], web1["network_tx_bytes"]) == ((2048 + GiB // KiB) * KiB, 1024 * KiB)
    assert (rows["acme-web-2"]["cpu_usage_percent"], rows["acme-web-2"]["ram_usage_percent"]) == (10.0, 10.0)
    assert rows["payroll-1"]["cpu_usage_percent"] == rows["payroll-1"]["ram_usage_mb"] == 0
    assert rows["acme-db-1"]["power_state"] == "stopped" and rows["acme-db-1"]["cpu_usage_percent"] == 0

    # Efficiency's bands, worked out from the driven usage (nothing was written to the sparse disks: disk 0).
    scores = {r["vm_name"]: r for r in admin_client_api.get("/api/metering/efficiency").json()["data"]
              if r["collected_at"] == rows["acme-web-1"]["collected_at"]}
    assert scores["acme-web-1"]["classification"] == expected_class(70, 70, 0) == "good"
    assert (scores["acme-web-1"]["cpu_score"], scores["acme-web-1"]["ram_score"]) == (100.0, 100.0)
    assert scores["acme-web-2"]["classification"] == expected_class(10, 10, 0) == "poor"
    assert scores["acme-web-2"]["cpu_score"] == 14.3
    assert scores["globex-app-1"]["classification"] == "idle" == expected_class(2, 10, 0)
    assert scores["globex-app-1"]["recommendation"] == "Idle: consider stopping or removing the VM"
    good = admin_client_api.get("/api/metering/efficiency", {"classification": "good"}).json()
    assert {r["vm_name"] for r in good["data"]} == {"acme-web-1"} and good["total"] == 2  # both rounds

    # The overview is the newest round's sums and means.
    overview = admin_client_api.get("/api/metering/overview").json()
    newest = ResourceSample.objects.filter(collected_at=now)
    assert overview["resources"]["avg_cpu_usage"] == round(newest.aggregate(a=Avg("cpu_usage_percent"))["a"], 1)
    assert overview["efficiency"]["good_count"] == 1 and overview["efficiency"]["poor_count"] == 1
    assert overview["efficiency"]["idle_count"] == EfficiencySample.objects.filter(
        collected_at=now, classification="idle").count() == newest.count() - 2

    # The chargeback's traffic is what the counters moved between the rounds: acme's one GiB.
    made = admin_client_api.post("/api/metering/pricing", {"category": "network", "item_name": "Traffic (per GB)",
                                                           "cost_per_month": 0.5}, format="json")
    assert made.status_code == 201
    acme = next(r for r in admin_client_api.get("/api/metering/export/chargeback").content.decode().splitlines()[1:]
                if r.startswith("acme,"))
    columns = admin_client_api.get("/api/metering/export/chargeback").content.decode().splitlines()[0].split(",")
    acme_row = dict(zip(columns, acme.split(","), strict=True))
    assert float(acme_row["network_gb"]) == 1.0 and float(acme_row["network_cost"]) == 0.5


@pytest.mark.integration
def test_a_vm_well_used_in_cpu_ram_and_disk_is_excellent(cloud, cs_lab, admin_client_api):
    vm = cloud.vms["acme-web-1"]  # 1 vCPU, 1024 MB, a 2 GiB ROOT volume
    root = next(v for v in cloud.client.list_all_volumes()
                if v.get("virtualmachineid") == vm["id"] and v["type"] == "ROOT")
    cs_lab.set_workload(vm["id"], cpu_percent=70, memory_used_mb=717)
    # The guest has filled 70% of its disk: blocks allocated in the volume's file, which is what CloudStack's
    # volume statistics (qemu-img's "disk size") report as its physical size.
    path = cs_lab.volume_file(root["id"])
    with open(path, "r+b") as disk:
        os.posix_fallocate(disk.fileno(), 0, int(0.7 * 2 * GiB) // 4096 * 4096)
    allocated = path.stat().st_blocks * 512
    collect()
    raw = portal.Volume.objects.get(cloud_id=root["id"]).raw
    assert (raw["physicalsize"], raw["virtualsize"], raw["utilization"]) == (allocated, 2 * GiB, "70.0%")
    assert sampler.sample(now=timezone.now(), force=True)

    row = next(r for r in admin_client_api.get("/api/metering/resources").json()["data"]
               if r["vm_name"] == "acme-web-1")
    assert (row["disk_allocated_gb"], row["disk_used_gb"], row["disk_usage_percent"]) == \
        (2, round(allocated / GiB, 2), round(100 * allocated / GiB / 2, 1)) == (2, 1.4, 70.0)
    assert (row["cpu_usage_percent"], row["ram_usage_percent"]) == (70.0, 70.0)
    score = next(r for r in admin_client_api.get("/api/metering/efficiency").json()["data"]
                 if r["vm_name"] == "acme-web-1")
    assert (score["cpu_score"], score["ram_score"], score["disk_score"]) == (100.0, 100.0, 100.0)
    assert score["classification"] == expected_class(70, 70, 70) == "excellent"
    assert score["recommendation"] == "Well sized"
    excellent = admin_client_api.get("/api/metering/efficiency", {"classification": "excellent"}).json()
    assert [r["vm_name"] for r in excellent["data"]] == ["acme-web-1"]
    assert admin_client_api.get("/api/metering/overview").json()["efficiency"]["excellent_count"] == 1


@pytest.mark.django_db
def test_api_usage_is_per_endpoint_and_method(admin_client_api):
    sampler.sample(force=True)  # the round before: what came earlier is not this test's
    for _ in range(2):
        assert admin_client_api.get("/api/metering/config").status_code == 200
    assert admin_client_api.get("/api/metering/resources", {"hours": 0}).status_code == 400
    assert admin_client_api.get("/api/metering/resources").status_code == 200
    for pricing_id in ("999", "1000", "abc"):  # three ids, one route: one row
        assert admin_client_api.delete(f"/api/metering/pricing/{pricing_id}").status_code == 404
    assert admin_client_api.get("/api/metering/no-such-path").status_code == 404
    sampler.sample(force=True)
    latest = ApiUsageSample.objects.order_by("-collected_at").first().collected_at
    rows = {(r.endpoint, r.method): r for r in ApiUsageSample.objects.filter(collected_at=latest)}
    assert set(rows) == {("/api/metering/config", "GET"), ("/api/metering/resources", "GET"),
                         ("/api/metering/pricing/<str:pricing_id>", "DELETE"), ("(unmatched)", "GET")}
    calls = {key: (r.total_calls, r.error_count) for key, r in rows.items()}
    assert calls[("/api/metering/config", "GET")] == (2, 0)
    assert calls[("/api/metering/resources", "GET")] == (2, 1)  # the bad `hours` counted on its endpoint
    assert calls[("/api/metering/pricing/<str:pricing_id>", "DELETE")] == (3, 3)
    assert calls[("(unmatched)", "GET")] == (1, 1)
    # Counted in microseconds: even the quickest answer here (the unmatched 404, well under a millisecond) has a
    # latency above 0 (whole milliseconds per request counted it as none, which failed on a quiet machine).
    assert all(r.avg_latency_ms > 0 and 0 < r.p95_latency_ms <= r.p99_latency_ms for r in rows.values())

    # The seed's answer: rows by endpoint (partial match), newest first; the overview sums every retained row.
    answer = admin_client_api.get("/api/metering/api-usage", {"endpoint": "pricing"}).json()
    assert answer["data"][0]["total_calls"] == 3 and set(answer["data"][0]) == {
        "id", "collected_at", "endpoint", "method", "total_calls", "error_count", "avg_latency_ms", "p95_latency_ms",
        "p99_latency_ms"}
    overview = admin_client_api.get("/api/metering/overview").json()["api_usage"]
    every = ApiUsageSample.objects.all()
    assert overview["total_api_calls"] == sum(r.total_calls for r in every)
    assert overview["total_api_errors"] == sum(r.error_count for r in every)
    sampler.sample(force=True)  # a round with only this test's reads since: those, nothing else
    newest = ApiUsageSample.objects.order_by("-collected_at").first().collected_at
    assert {(r.endpoint, r.method, r.total_calls) for r in ApiUsageSample.objects.filter(collected_at=newest)} == {
        ("/api/metering/api-usage", "GET", 1), ("/api/metering/overview", "GET", 1)}


@pytest.mark.parametrize("path, endpoint", [
    ("/api/metering/pricing/12", "/api/metering/pricing/<str:pricing_id>"),
    ("/api/v1/vmware-credentials/7/test", "/api/v1/vmware-credentials/<pk>/test"),  # a router's regex route
    ("/admin/users/3/", "/admin/<rest>"),
    ("/metrics", "/metrics"),
])
def test_an_endpoint_is_its_route_not_its_path(path, endpoint):
    from types import SimpleNamespace

    from django.urls import resolve

    from apps.accounts.middleware import UNMATCHED, endpoint_of

    assert endpoint_of(SimpleNamespace(resolver_match=resolve(path))) == endpoint
    assert endpoint_of(SimpleNamespace()) == UNMATCHED


@pytest.mark.django_db
def test_latency_percentiles_come_from_the_latency_buckets():
    sampler.sample(force=True)
    for _ in range(19):  # nineteen quick answers and one slow one
        request_metrics.record(3.0, 200, "/api/drill", "GET")
    request_metrics.record(700.0, 500, "/api/drill", "GET")
    sampler.sample(force=True)
    row = ApiUsageSample.objects.get(endpoint="/api/drill")
    assert (row.total_calls, row.error_count, row.avg_latency_ms) == (20, 1, (19 * 3 + 700) / 20)  # 37.85 ms: to the hundredth
    # p95: the 19th of 20 is in the first bucket (0-5 ms), at its top; p99: the 19.8th is 0.8 into the slow one's
    # bucket (500-1000 ms).
    assert (row.p95_latency_ms, row.p99_latency_ms) == (5.0, 900.0)
    assert sampler.percentile([0] * 11 + [4], 0.5) == 10000.0  # all slower than the last bound: that bound
    assert sampler.percentile([0] * 12, 0.95) is None
