"""CloudStack's own event log in the history and audit: who did what in CloudStack, after the next collection."""
from __future__ import annotations

import pytest

from apps.portal import collector, models
from apps.settings import cloudstack as cs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def get(client, path, status=200, **params):
    answer = client.get(path, params)
    assert answer.status_code == status, answer.content
    return answer.json()


def test_an_action_in_cloudstack_shows_its_user_and_description_in_the_history(collected, viewer_client):
    client = collected.client
    vm_id, volume_id = collected.vms["acme-web-2"]["id"], collected.volumes["globex-data-1"]["id"]
    client.stop_virtual_machine(vm_id)
    client.delete_volume(volume_id)
    assert collector.collect().status == "succeeded"

    history = get(viewer_client, f"/history/resource/server/{vm_id}")
    stopped = history["history"][0]
    assert stopped["action"] == "changed" and stopped["user"] == "admin"
    assert stopped["cloudstack_event"]["type"] == "VM.STOP"
    assert stopped["cloudstack_event"]["description"] == f"Successfully completed stopping Vm. Vm Id: {vm_id}"
    assert stopped["details"].endswith(f"(Successfully completed stopping Vm. Vm Id: {vm_id})")
    assert [e["type"] for e in history["cloudstack_events"]][:2] == ["VM.STOP", "VM.CREATE"]
    assert history["cloudstack_events"][0]["account"] == "acme"

    deletion = get(viewer_client, f"/history/resource/deletion/{volume_id}")["history"][0]
    assert deletion["reason"] == (f"deleted in CloudStack by admin: Successfully completed deleting volume. "
                                  f"Volume Id: {volume_id}")
    recent = get(viewer_client, "/history/recent-changes")
    assert any(e["type"] == "VOLUME.DELETE" and e["resource_id"] == volume_id for e in recent["cloudstack_events"])
    dashboard = get(viewer_client, "/dashboard/recent-changes")["changes"]
    assert next(c for c in dashboard if c["resource_id"] == vm_id)["user"] == "admin"
    # The audit of who did what in CloudStack.
    report = get(viewer_client, "/audit/compliance-report")["cloudstack_events"]
    assert report["by_user"]["admin"] == report["total"] >= 12 and report["errors"] == 0
    assert report["by_type"]["VM.STOP"] == 1 and report["by_type"]["VOLUME.DELETE"] == 1


def test_a_second_collection_does_not_repeat_events(collected):
    stored = models.CloudEvent.objects.count()
    assert stored >= 30  # the world's creations: Scheduled, Started, Completed each
    again = collector.collect()
    assert again.counts["event"] == 0 and models.CloudEvent.objects.count() == stored
    collected.client.stop_virtual_machine(collected.vms["acme-web-1"]["id"])
    third = collector.collect()
    assert third.counts["event"] == 3  # the stop's Scheduled, Started and Completed
    assert models.CloudEvent.objects.count() == stored + 3
    assert models.CloudEvent.objects.values("cloud_id").distinct().count() == stored + 3


def test_with_a_user_key_the_collector_reads_only_its_accounts_events(collected, cs_lab):
    user = cs.CloudStackClient(cs_lab.url, cs_lab.user_api_key, cs_lab.user_secret_key, job_timeout=30,
                               poll_interval=0.05)
    user.stop_virtual_machine(collected.vms["acme-web-1"]["id"])
    models.CloudEvent.objects.all().delete()
    run = collector.collect(client=user)
    assert run.status == "succeeded" and run.counts["event"] == 3
    assert set(models.CloudEvent.objects.values_list("account", "username")) == {("lab-user", "lab-user")}


def test_a_failed_job_is_an_error_in_the_history(collected, cs_lab, viewer_client):
    volume_id = collected.volumes["acme-data-1"]["id"]
    cs_lab.inject("attachVolume", fail=True, errortext="storage pool full")
    with pytest.raises(cs.CloudStackJobError):
        collected.client.attach_volume(volume_id, collected.vms["acme-db-1"]["id"])
    assert collector.collect().status == "succeeded"
    recent = get(viewer_client, "/history/recent-changes")["cloudstack_events"]
    failed = next(e for e in recent if e["type"] == "VOLUME.ATTACH")
    assert failed["level"] == "ERROR" and failed["state"] == "Completed"
    assert failed["description"] == f"Error while attaching volume. Volume Id: {volume_id}: storage pool full"
    assert get(viewer_client, "/audit/compliance-report")["cloudstack_events"]["errors"] == 1
    timeline = get(viewer_client, "/audit/resource-timeline/volume")["timeline"]
    assert sum(day["cloudstack_errors"] for day in timeline) == 1


def test_the_audit_lists_who_did_what_in_cloudstack(collected, cs_lab, viewer_client):
    cs_lab.inject("attachVolume", fail=True, errortext="storage pool full")
    with pytest.raises(cs.CloudStackJobError):
        collected.client.attach_volume(collected.volumes["acme-data-1"]["id"], collected.vms["acme-db-1"]["id"])
    collected.client.stop_virtual_machine(collected.vms["acme-web-1"]["id"])
    collector.collect()
    audit = get(viewer_client, "/audit/cloudstack-events", limit=2)
    assert [e["type"] for e in audit["events"]] == ["VM.STOP", "VOLUME.ATTACH"] and audit["total"] >= 14
    assert audit["events"][0]["username"] == "admin" and audit["events"][0]["tenant_name"] == "acme"
    assert get(viewer_client, "/audit/cloudstack-events", level="ERROR")["total"] == 1
    assert get(viewer_client, "/audit/cloudstack-events", type="VM.STOP", all_states="true")["total"] == 3
    assert get(viewer_client, "/audit/cloudstack-events", username="nobody")["total"] == 0
    assert get(viewer_client, "/audit/cloudstack-events", status=400, level="LOUD") == {
        "detail": "Invalid parameter: level must be one of INFO, WARN, ERROR"}
    assert viewer_client.get("/audit/cloudstack-events", {"offset": 1, "limit": 1}).json()["events"][0]["type"] == \
        "VOLUME.ATTACH"


def test_keys_whose_role_lacks_list_events_still_collect(collected, cs_lab):
    cs_lab.inject("listEvents", fail=True, errorcode=401, count=None,
                  errortext="The given command 'listEvents' either does not exist, is not available for user.")
    collected.client.stop_virtual_machine(collected.vms["acme-web-1"]["id"])
    run = collector.collect()
    assert run.status == "succeeded" and "event" in run.counts["unavailable"] and "listEvents" in run.error
    stopped = models.Change.objects.get(collection=run, resource_id=collected.vms["acme-web-1"]["id"])
    assert stopped.event is None and stopped.fields["status"] == {"before": "ACTIVE", "after": "SHUTOFF"}



def test_events_past_their_retention_are_pruned_by_the_collection(collected, viewer_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.portal import tasks

    vm_id = collected.vms["acme-web-2"]["id"]
    collected.client.stop_virtual_machine(vm_id)
    assert collector.collect().status == "succeeded"
    recent = models.CloudEvent.objects.count()
    now = timezone.now()
    # Events of an older past (CloudStack's own are all from this test's minute), one linked to a change.
    for days in (100, 45, 20):
        models.CloudEvent.objects.create(cloud_id=f"old-{days}", type="VM.START", level="INFO", state="Completed",
                                         resource_type="server", resource_id=vm_id,
                                         created=now - timedelta(days=days))
    change = models.Change.objects.filter(resource_id=vm_id).order_by("id").first()
    models.Change.objects.filter(pk=change.pk).update(event=models.CloudEvent.objects.get(cloud_id="old-100"))
    assert models.CloudEvent.objects.count() == recent + 3
    assert "old-20" in {e["id"] for e in get(viewer_client, "/audit/cloudstack-events", all_states="true",
                                             limit=500)["events"]}

    settings.MP_PORTAL_EVENT_RETENTION_DAYS = 30
    assert collector.prune_events(now=now) == 2  # 100 and 45 days old
    assert collector.prune_events(now=now) == 0  # idempotent
    assert collector.prune_events(now=now + timedelta(days=11)) == 1  # the 20-day-old one is now 31 days old
    assert models.CloudEvent.objects.count() == recent
    assert "old-20" not in {e["id"] for e in get(viewer_client, "/audit/cloudstack-events", all_states="true",
                                                 limit=500)["events"]}
    models.Change.objects.get(pk=change.pk)  # the change stays, without its pruned event
    # However far the clock moves, the newest events are kept: the next collection reads on from them and would
    # otherwise store them again.
    assert collector.prune_events(now=now + timedelta(days=400)) == 0
    assert collector.collect().status == "succeeded"
    assert models.CloudEvent.objects.count() == recent

    # The periodic collection task applies it; 0 keeps everything.
    models.CloudEvent.objects.create(cloud_id="old-again", type="VM.STOP", level="INFO", state="Completed",
                                     created=now - timedelta(days=100))
    settings.MP_PORTAL_EVENT_RETENTION_DAYS = 0
    assert tasks.collect_cloudstack()["events_pruned"] == 0
    settings.MP_PORTAL_EVENT_RETENTION_DAYS = 30
    summary = tasks.collect_cloudstack()
    assert summary["status"] == "succeeded" and summary["events_pruned"] == 1
    assert not models.CloudEvent.objects.filter(cloud_id="old-again").exists()
