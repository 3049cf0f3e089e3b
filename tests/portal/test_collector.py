"""The collector against the emulator: every kind lands in its table, changes become history, outages keep data."""
from __future__ import annotations

import pytest

from apps.portal import collector, models
from apps.portal.choices import ChangeAction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_a_collection_stores_every_kind_with_its_owner(collected):
    run = models.Collection.objects.get()
    assert run.status == "succeeded" and run.duration_ms is not None and run.finished_at
    assert {d.name for d in models.Domain.objects.all()} == {"ROOT", "Finance"}
    assert {a.name for a in models.Account.objects.all()} >= {"admin", "acme", "globex", "ledger"}
    assert models.Project.objects.get().name == "payroll"
    assert models.Host.objects.count() == 2
    web = models.Server.objects.get(name="acme-web-1")
    assert (web.status, web.flavor_name, web.vcpus, web.ram_mb) == ("ACTIVE", "Small Instance", 1, 1024)
    assert web.tenant_name == "acme" and web.tenant_id == collected.accounts["acme"]["id"]
    assert web.hypervisor_hostname.startswith("kvm-host-") and web.ips
    assert models.Server.objects.get(name="acme-db-1").status == "SHUTOFF"
    payroll = models.Server.objects.get(name="payroll-1")
    assert (payroll.tenant_id, payroll.domain_name) == (collected.projects["payroll"]["id"], "Finance")
    assert models.Volume.objects.get(name="globex-data-1").size_gb == 20
    assert models.Volume.objects.filter(volume_type="ROOT").count() >= 5
    assert models.Snapshot.objects.get().name == "acme-web-1-daily"
    assert models.Network.objects.filter(name="acme-net").exists()
    assert models.SecurityGroup.objects.get(name="web").tenant_name == "acme"
    assert models.Port.objects.filter(device_id=web.cloud_id).count() == 1
    assert models.ServiceOffering.objects.filter(name="Large Instance", vcpus=4).exists()
    assert models.Template.objects.filter(name="lab-template").exists()
    assert run.counts["server"] == models.Server.objects.count()
    # The first run saw everything appear.
    assert models.Change.objects.filter(action=ChangeAction.CREATED, resource_type="server").count() == \
        models.Server.objects.count()


def test_changes_in_cloudstack_become_history_and_drift(collected):
    client = collected.client
    db = collected.vms["acme-db-1"]
    client.change_service_offering(db["id"], collected.offerings["Large Instance"]["id"])
    client.destroy_virtual_machine(collected.vms["globex-app-1"]["id"])
    second = collector.collect()
    assert second.status == "succeeded"

    changed = models.Change.objects.get(collection=second, resource_id=db["id"], action=ChangeAction.CHANGED)
    assert changed.fields["flavor_id"] == {"before": collected.offerings["Small Instance"]["id"],
                                           "after": collected.offerings["Large Instance"]["id"]}
    assert changed.fields["vcpus"] == {"before": 1, "after": 4}
    gone = models.Change.objects.get(collection=second, resource_type="server", action=ChangeAction.DELETED)
    assert gone.resource_name == "globex-app-1" and gone.snapshot["raw"]["name"] == "globex-app-1"
    assert not models.Server.objects.filter(name="globex-app-1").exists()

    flavor = models.DriftEvent.objects.get(field_name="flavor_id")
    assert (flavor.resource_name, flavor.severity, flavor.tenant_name) == ("acme-db-1", "warning", "acme")
    deleted = models.DriftEvent.objects.get(field_name="deleted", resource_type="server")
    assert deleted.resource_name == "globex-app-1" and deleted.severity == "critical"


def test_an_unchanged_cloud_records_no_changes(collected):
    first_seen = models.Server.objects.get(name="acme-web-1").last_seen
    again = collector.collect()
    assert again.changes == 0
    assert not models.Change.objects.filter(collection=again).exists()
    # Every row still in CloudStack was seen by the new run.
    assert models.Server.objects.get(name="acme-web-1").last_seen > first_seen
    assert models.Server.objects.exclude(last_seen=again.started_at).count() == 0


def test_an_outage_keeps_the_last_data_and_records_why(collected, cs_config):
    cs_config.api_url = "http://127.0.0.1:9/client/api"
    cs_config.save()
    failed = collector.collect()
    assert failed.status == "failed" and "127.0.0.1:9" in failed.error
    assert models.Server.objects.filter(name="acme-web-1").exists()
    assert not models.Change.objects.filter(collection=failed).exists()


def test_the_beat_runs_the_collector(collected, settings):
    from apps.portal.tasks import collect_cloudstack

    assert settings.CELERY_BEAT_SCHEDULE["portal-collect"]["task"] == "apps.portal.tasks.collect_cloudstack"
    assert collect_cloudstack.apply().get()["status"] == "succeeded"


@pytest.mark.django_db
def test_without_cloudstack_the_task_says_so():
    from apps.portal.tasks import collect_cloudstack

    assert collect_cloudstack.apply().get() == {"status": "skipped",
                                                "reason": "No CloudStack is configured (POST /api/v1/ossea/config)",
                                                "events_pruned": 0}


def test_keys_without_the_root_admins_commands_collect_what_they_may(collected, cs_config, cs_lab):
    cs_config.api_key, cs_config.secret_key = cs_lab.user_api_key, cs_lab.user_secret_key
    cs_config.save()
    run = collector.collect()
    assert run.status == "succeeded"
    assert set(run.counts["unavailable"]) >= {"hypervisor", "storage_pool"} and "listHosts" in run.error
    # What the keys may not list is kept as collected, not recorded as deleted.
    assert models.Host.objects.count() == 2
    assert not models.Change.objects.filter(collection=run, resource_type="hypervisor").exists()
