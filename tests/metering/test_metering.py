"""Metering over a real collection of the emulator: totals are the samples' sums, pricing gives the charge worked out
by hand, the CSV exports are the JSON lists, and the seed's roles and {"detail"} errors hold."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.metering import sampler
from apps.metering.models import MeteringSettings, ResourceSample
from apps.portal import models as portal
from apps.snapshots.models import PolicySnapshot, RestoreJob, SnapshotPolicy

pytestmark = [pytest.mark.django_db(transaction=True)]
HOUR_SHARE = 15 / 60  # each round stands for the default 15-minute interval


def rows_of(answer) -> list[dict]:
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/csv") and "attachment" in answer["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(answer.content.decode())))


@pytest.mark.integration
def test_totals_are_the_sums_of_the_collected_samples(collected, admin_client_api):
    # The collected snapshot as a daily policy's: compliant while its volume has one from the last day.
    policy = SnapshotPolicy.objects.create(name="daily_5", interval_minutes=1440, retention_count=5)
    made = portal.Snapshot.objects.get()
    PolicySnapshot.objects.create(policy=policy, policy_name="daily_5", volume_id=made.volume_id,
                                  snapshot_id=made.cloud_id, state="available")
    now = timezone.now()
    assert sampler.sample(now=now - timedelta(minutes=15), force=True)
    assert not sampler.sample(now=now - timedelta(minutes=10))  # inside the interval: no round
    assert sampler.sample(now=now)
    servers = portal.Server.objects.all()
    overview = admin_client_api.get("/api/metering/overview").json()
    # The overview is the newest round: what the collection holds.
    assert overview["total_vms_metered"] == servers.count() == 7
    assert overview["resources"]["total_vcpus"] == servers.aggregate(n=Sum("vcpus"))["n"]
    assert overview["resources"]["total_ram_mb"] == servers.aggregate(n=Sum("ram_mb"))["n"]
    attached = portal.Volume.objects.exclude(server_id="").aggregate(n=Sum("size_gb"))["n"]
    assert overview["resources"]["total_disk_gb"] == attached
    assert overview["snapshots"]["total_snapshots"] == portal.Snapshot.objects.count() == 1
    assert overview["snapshots"]["total_snapshot_gb"] == portal.Snapshot.objects.get().size_gb

    listing = admin_client_api.get("/api/metering/resources", {"hours": 1, "limit": 5, "offset": 2}).json()
    assert (listing["total"], listing["count"], listing["limit"], listing["offset"]) == (14, 5, 5, 2)
    web = admin_client_api.get("/api/metering/resources", {"vm_id": collected.vms["acme-web-2"]["id"]}).json()
    assert web["total"] == 2 and {r["vm_name"] for r in web["data"]} == {"acme-web-2"}
    row = web["data"][0]
    vm = servers.get(cloud_id=collected.vms["acme-web-2"]["id"])
    assert (row["project_name"], row["domain"], row["flavor"], row["vcpus_allocated"], row["ram_allocated_mb"]) == \
        ("acme", "ROOT", "Medium Instance", vm.vcpus, vm.ram_mb)
    assert row["disk_allocated_gb"] == sum(v.size_gb for v in portal.Volume.objects.filter(server_id=vm.cloud_id))
    assert (row["status"], row["power_state"]) == ("ACTIVE", "running")
    stopped = admin_client_api.get("/api/metering/resources", {"vm_id": collected.vms["acme-db-1"]["id"]}).json()
    assert stopped["data"][0]["power_state"] == "stopped"
    # The tenant filter: acme's three VMs, twice.
    assert admin_client_api.get("/api/metering/resources", {"project": "acme"}).json()["total"] == 6

    snaps = admin_client_api.get("/api/metering/snapshots", {"project": "acme"}).json()
    assert snaps["total"] == 2 and snaps["data"][0]["snapshot_name"] == "acme-web-1-daily"
    assert snaps["data"][0]["status"] == "available" and snaps["data"][0]["policy"] == "daily_5"
    assert snaps["data"][0]["is_compliant"] is True and overview["snapshots"]["compliant_count"] == 1

    # No VM has a workload or a QEMU process, so the emulator reports no statistics: every VM is idle (running at
    # 0% CPU, or stopped). tests/metering/test_usage_data.py drives known usage.
    idle = admin_client_api.get("/api/metering/efficiency", {"classification": "idle", "hours": 1}).json()
    assert idle["total"] == 14 and overview["efficiency"]["idle_count"] == 7
    assert admin_client_api.get("/api/metering/efficiency", {"classification": "good"}).json()["total"] == 0

    # CSV exports are the JSON lists, column for column.
    exported = rows_of(admin_client_api.get("/api/metering/export/resources", {"project": "acme"}))
    listed = admin_client_api.get("/api/metering/resources", {"project": "acme"}).json()["data"]
    assert [r["vm_id"] for r in exported] == [r["vm_id"] for r in listed]
    assert exported[0] == {k: "" if v is None else str(v) for k, v in listed[0].items()}
    assert len(rows_of(admin_client_api.get("/api/metering/export/snapshots"))) == 2
    assert len(rows_of(admin_client_api.get("/api/metering/export/efficiency", {"hours": 1}))) == 14

    # The chargeback's usage columns are the samples' sums: a running VM's vCPUs for each round's quarter hour.
    charged = {r["project_name"]: r for r in rows_of(admin_client_api.get("/api/metering/export/chargeback"))}
    for tenant, row in charged.items():
        samples = ResourceSample.objects.filter(project_name=tenant, power_state="running")
        assert float(row["vcpu_hours"]) == pytest.approx(sum(s.vcpus_allocated * HOUR_SHARE for s in samples), abs=1e-6)
        volumes = portal.Volume.objects.filter(tenant_name=tenant).aggregate(n=Sum("size_gb"))["n"] or 0
        assert float(row["storage_gb_months"]) == pytest.approx(2 * volumes * HOUR_SHARE / 730, abs=1e-6)

    filters = admin_client_api.get("/api/metering/filters").json()
    assert {"acme", "globex", "payroll"} <= set(filters["projects"]) and "Finance" in filters["domains"]
    assert {"project": "acme", "domain": "ROOT"} in filters["all_tenants"]
    assert {f["name"] for f in filters["flavors"]} == set(portal.ServiceOffering.objects.values_list("name", flat=True))


@pytest.mark.integration
def test_pricing_turns_usage_into_the_charge_worked_out_by_hand(collected, admin_client_api):
    offerings = portal.ServiceOffering.objects.count()
    synced = admin_client_api.post("/api/metering/pricing/sync-flavors").json()
    assert synced == {"detail": f"Synced {offerings} new flavors (0 already existed)", "inserted": offerings}
    assert admin_client_api.post("/api/metering/pricing/sync-flavors").json()["inserted"] == 0
    pricing = admin_client_api.get("/api/metering/pricing").json()
    medium = next(p for p in pricing if p["item_name"] == "Medium Instance")
    assert medium["auto_populated"] is True and medium["category"] == "flavor" and medium["cost_per_hour"] == 0
    changed = admin_client_api.put(f"/api/metering/pricing/{medium['id']}", {"cost_per_hour": 0.5}, format="json")
    assert changed.status_code == 200 and changed.json()["cost_per_hour"] == 0.5
    made = admin_client_api.post("/api/metering/pricing", {
        "category": "storage_gb", "item_name": "Storage (per GB)", "unit": "per GB/month", "cost_per_hour": 0,
        "cost_per_month": 0.2, "currency": "USD", "notes": "Block storage pricing"}, format="json")
    assert made.status_code == 201 and made.json()["vcpus"] is None
    assert admin_client_api.put("/api/metering/config", {"cost_per_vcpu_hour": 0.1, "cost_per_gb_ram_hour": 0.02,
                                                         "cost_per_snapshot_gb_month": 0.3},
                                format="json").status_code == 200

    now = timezone.now()
    sampler.sample(now=now - timedelta(minutes=15), force=True)
    sampler.sample(now=now, force=True)
    # By hand, for acme over two 15-minute rounds: acme-web-2 at its flavor's price, acme-web-1 at the vCPU and RAM
    # rates, acme-db-1 (stopped) nothing for compute; every acme volume and snapshot by the GB-month.
    small = portal.Server.objects.get(cloud_id=collected.vms["acme-web-1"]["id"])
    compute = 2 * HOUR_SHARE * (small.vcpus * 0.1 + small.ram_mb / 1024 * 0.02)
    flavor = 2 * HOUR_SHARE * 0.5
    storage_gb = sum(portal.Volume.objects.filter(tenant_name="acme").values_list("size_gb", flat=True))
    storage = 2 * HOUR_SHARE / 730 * storage_gb * 0.2
    snapshot = 2 * HOUR_SHARE / 730 * portal.Snapshot.objects.get().size_gb * 0.3
    rows = rows_of(admin_client_api.get("/api/metering/export/chargeback", {"project": "acme"}))
    assert len(rows) == 1 and rows[0]["project_name"] == "acme" and rows[0]["currency"] == "USD"
    acme = {k: float(v) for k, v in rows[0].items() if k not in ("project_name", "domain", "currency")}
    assert acme["vm_hours"] == pytest.approx(4 * HOUR_SHARE)
    assert acme["compute_cost"] == pytest.approx(compute, abs=1e-6)
    assert acme["flavor_cost"] == pytest.approx(flavor, abs=1e-6)
    assert acme["storage_cost"] == pytest.approx(storage, abs=1e-6)
    assert acme["snapshot_cost"] == pytest.approx(snapshot, abs=1e-6)
    assert acme["total_cost"] == pytest.approx(compute + flavor + storage + snapshot, abs=1e-5)
    every = rows_of(admin_client_api.get("/api/metering/export/chargeback"))
    assert {r["project_name"] for r in every} >= {"acme", "globex", "payroll"}


@pytest.mark.django_db
def test_restores_and_api_usage_are_metered(admin_client_api):
    started = timezone.now() - timedelta(minutes=5)
    RestoreJob.objects.create(status="COMPLETED", mode="NEW", project_id="acme", vm_id="vm-1", vm_name="db",
                              restore_point_id="snap-1", created_by="admin1", started_at=started,
                              finished_at=started + timedelta(seconds=145))
    RestoreJob.objects.create(status="RUNNING", project_id="acme", vm_id="vm-2", restore_point_id="snap-2")
    sampler.sample(force=True)
    for _ in range(3):
        admin_client_api.get("/api/metering/config")
    sampler.sample(force=True)  # the second round samples the restore no more
    restores = admin_client_api.get("/api/metering/restores").json()
    assert restores["total"] == 1
    row = restores["data"][0]
    assert (row["mode"], row["status"], row["duration_seconds"], row["initiated_by"], row["snapshot_id"]) == \
        ("NEW", "completed", 145, "admin1", "snap-1")
    overview = admin_client_api.get("/api/metering/overview").json()
    assert overview["restores"] == {"total_restores": 1, "successful": 1, "failed": 0, "avg_duration_sec": 145.0}
    usage = admin_client_api.get("/api/metering/api-usage", {"endpoint": "metering/config"}).json()
    newest = usage["data"][0]  # newest round first: our three calls
    assert (newest["endpoint"], newest["method"], newest["total_calls"]) == ("/api/metering/config", "GET", 3)
    assert overview["api_usage"]["total_api_calls"] >= 3
    assert rows_of(admin_client_api.get("/api/metering/export/restores"))[0]["restore_job_id"] == row["restore_job_id"]
    exported = rows_of(admin_client_api.get("/api/metering/export/api-usage", {"endpoint": "metering/config"}))
    assert len(exported) == usage["total"]  # the export takes the list's filters


@pytest.mark.django_db
def test_configuration_and_retention(admin_client_api):
    config = admin_client_api.get("/api/metering/config").json()
    assert (config["enabled"], config["collection_interval_min"], config["retention_days"],
            config["cost_currency"]) == (True, 15, 90, "USD")
    changed = admin_client_api.put("/api/metering/config", {"retention_days": 1, "cost_currency": "EUR"},
                                   format="json").json()
    assert changed["retention_days"] == 1 and changed["cost_currency"] == "EUR" and changed["cost_per_vcpu_hour"] == 0.05
    old = timezone.now() - timedelta(days=2)
    ResourceSample.objects.create(collected_at=old, vm_id="gone")
    sampler.sample(force=True)
    assert not ResourceSample.objects.filter(vm_id="gone").exists()  # past retention
    admin_client_api.put("/api/metering/config", {"enabled": False}, format="json")
    assert sampler.sample() is False and MeteringSettings.load().enabled is False


@pytest.mark.django_db
def test_pricing_errors_are_detail_4xx(admin_client_api):
    body = {"category": "storage_gb", "item_name": "Storage (per GB)", "cost_per_month": 0.1}
    assert admin_client_api.post("/api/metering/pricing", body, format="json").status_code == 201
    clash = admin_client_api.post("/api/metering/pricing", body, format="json")
    assert clash.status_code == 409 and set(clash.json()) == {"detail"}
    for bad in ({**body, "category": "gold"}, {**body, "cost_per_month": -1}, {"item_name": "x"},
                {**body, "item_name": "y", "currency": "dollars"}):
        answer = admin_client_api.post("/api/metering/pricing", bad, format="json")
        assert answer.status_code == 400 and set(answer.json()) == {"detail"}, bad
    for path in ("/api/metering/pricing/999", "/api/metering/pricing/abc"):
        answer = admin_client_api.delete(path)
        assert answer.status_code == 404 and answer.json() == {"detail": f"Pricing entry {path.rsplit('/', 1)[1]} not found"}
    assert admin_client_api.put("/api/metering/config", {"collection_interval_min": 0},
                                format="json").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path, params", [
    ("/api/metering/resources", {"hours": 0}), ("/api/metering/resources", {"hours": 2161}),
    ("/api/metering/resources", {"limit": "many"}), ("/api/metering/restores", {"limit": 5001}),
    ("/api/metering/efficiency", {"classification": "great"}), ("/api/metering/export/chargeback", {"hours": -1}),
    ("/api/metering/api-usage", {"offset": -1}),
])
def test_bad_query_is_400_detail(admin_client_api, path, params):
    answer = admin_client_api.get(path, params)
    assert answer.status_code == 400 and set(answer.json()) == {"detail"} and "Invalid parameter" in answer.json()["detail"]


@pytest.mark.django_db
def test_only_admins_meter(client, viewer_client, operator_client, admin_client_api):
    assert client.get("/api/metering/overview").json() == {"detail": "Not authenticated"}
    for who in (viewer_client, operator_client):
        answer = who.get("/api/metering/overview")
        assert answer.status_code == 403 and answer.json() == {"detail": "Permission denied: requires metering:read"}
        answer = who.post("/api/metering/pricing/sync-flavors")
        assert answer.status_code == 403 and answer.json() == {"detail": "Permission denied: requires metering:write"}
    assert admin_client_api.get("/api/metering/overview").status_code == 200
