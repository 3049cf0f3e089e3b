"""Recorded CloudStack resources against the emulator (a separate process): write-ahead records survive a CloudStack
death, a rollback that cannot remove something says so and leaves it orphaned (never released by a later success),
and the orphan sweep removes orphans, decides "already gone" by listing, and lists what it cannot remove."""
from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings as django_settings

from apps.settings import cloudstack as cs
from apps.settings import volumes
from apps.settings.models import CloudResource, OsseaConfig
from apps.settings.tasks import sweep_orphans

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
GiB = 1024 ** 3
FINISHED_FAILOVER = "test-failover-gone-vm-1700000000"  # a failover job id whose row no longer exists: not live


@pytest.fixture
def lab(tmp_path, settings):
    from lab.cloudstack import launch

    with launch(tmp_path / "cloudstack", job_delay=0.02) as lab:
        settings.MP_CLOUDSTACK_JOB_TIMEOUT = 30
        settings.MP_CLOUDSTACK_POLL_INTERVAL = 0.02
        settings.CELERY_TASK_ALWAYS_EAGER = True
        yield lab


@pytest.fixture
def config(lab):
    return OsseaConfig.objects.create(name="lab", api_url=lab.url, api_key=lab.api_key, secret_key=lab.secret_key,
                                      zone="OSSEA-Zone")


@pytest.fixture
def client(lab):
    return cs.CloudStackClient(lab.url, lab.api_key, lab.secret_key, poll_interval=0.02, job_timeout=30)


def new_volume(config, client, owner: str, name: str = "pgtest1-disk-0") -> CloudResource:
    volume = client.create_volume_for_disk(
        vm_name="pgtest1", disk_unit=0, size_bytes=GiB, zone_id=volumes.zone_id(config, client), name=name,
        on_submitted=volumes.write_ahead(config=config, owner=owner, kind="volume", name=name))
    return CloudResource.objects.get(owner=owner, resource_id=volume["id"])


@pytest.mark.django_db(transaction=True)
def test_write_ahead_record_survives_cloudstack_dying_during_the_wait_and_rollback_removes_it(lab, config, client):
    lab.inject("createVolume", delay=20)
    failures: list = []

    def create():
        try:
            new_volume(config, client, "job-wa-1")
        except cs.CloudStackError as exc:
            failures.append(exc)

    worker = threading.Thread(target=create)
    worker.start()
    deadline = time.monotonic() + 30
    while not CloudResource.objects.filter(owner="job-wa-1").exists():
        assert time.monotonic() < deadline, "the volume was not recorded before the wait"
        time.sleep(0.05)
    lab.kill()
    worker.join(60)
    assert len(failures) == 1 and isinstance(failures[0], cs.CloudStackUnreachableError)
    row = CloudResource.objects.get(owner="job-wa-1")
    assert row.state == "created" and row.cloudstack_job_id and row.kind == "volume"
    lab.restart()  # on a new port: another process may have taken the old one meanwhile
    OsseaConfig.objects.filter(pk=config.pk).update(api_url=lab.url)
    client = cs.CloudStackClient(lab.url, lab.api_key, lab.secret_key, poll_interval=0.02, job_timeout=30)
    assert client.find("volume", row.resource_id) is not None  # CloudStack kept what the cut job created
    assert volumes.rollback(owner="job-wa-1", client=client) == [f"deleted volume {row.resource_id}"]
    assert client.find("volume", row.resource_id) is None
    assert CloudResource.objects.get(pk=row.pk).state == "removed"


def test_a_rollback_that_cannot_remove_says_so_orphans_it_and_release_keeps_it_out(lab, config, client,
                                                                                    viewer_client):
    row = new_volume(config, client, "job-retry-1")
    lab.inject("deleteVolume", fail=True, errorcode=530, errortext="primary storage unreachable")
    lines = volumes.rollback(owner="job-retry-1", client=client)
    assert len(lines) == 1 and lines[0].startswith(f"NOT removed: volume {row.resource_id}")
    assert "primary storage unreachable" in lines[0] and "orphan sweep" in lines[0]
    row.refresh_from_db()
    assert row.state == "orphaned" and row.attempts == 1 and "primary storage unreachable" in row.last_error
    # The retry of the same job succeeds with a volume of its own: release hands over only that one.
    second = new_volume(config, client, "job-retry-1", name="pgtest1-disk-0-b")
    assert volumes.release("job-retry-1") == 1
    assert CloudResource.objects.get(pk=second.pk).state == "released"
    assert CloudResource.objects.get(pk=row.pk).state == "orphaned"

    # The operator sees what is left, and why (API, limit/offset pages, filters).
    answer = viewer_client.get("/api/v1/cloud-resources", {"state": "orphaned", "limit": 10})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["count"] == 1 and body["results"][0]["resource_id"] == row.resource_id
    assert "primary storage unreachable" in body["results"][0]["last_error"]
    assert viewer_client.get("/api/v1/cloud-resources", {"state": "lost"}).status_code == 400
    assert viewer_client.get(f"/api/v1/cloud-resources/{row.pk}").json()["state"] == "orphaned"

    lab.inject("deleteVolume", fail=True, errorcode=530, errortext="primary storage still unreachable")
    assert sweep_orphans.apply().get() == {"removed": 0, "gone": 0, "left": 1, "skipped": 0}
    row.refresh_from_db()
    assert row.state == "orphaned" and row.attempts == 2 and "still unreachable" in row.last_error
    assert sweep_orphans.apply().get() == {"removed": 1, "gone": 0, "left": 0, "skipped": 0}
    assert CloudResource.objects.get(pk=row.pk).state == "removed"
    assert client.find("volume", row.resource_id) is None
    assert client.find("volume", second.resource_id) is not None  # handed over: never swept


def test_the_sweep_decides_already_gone_by_listing_and_leaves_live_or_unknown_owners(lab, config, client):
    gone = new_volume(config, client, FINISHED_FAILOVER)
    client.delete_volume(gone.resource_id)  # removed behind the platform's back: a second delete would be refused
    unknown = new_volume(config, client, "someone-elses-job", name="pgtest1-disk-1")
    counts = volumes.sweep()
    assert counts == {"removed": 0, "gone": 1, "left": 0, "skipped": 1}
    assert CloudResource.objects.get(pk=gone.pk).state == "removed"
    assert CloudResource.objects.get(pk=unknown.pk).state == "created"  # nobody says its job ended: kept
    assert client.find("volume", unknown.resource_id) is not None


def test_the_sweep_never_destroys_a_vm_holding_replica_volumes(lab, config, client):
    zone = volumes.zone_id(config, client)
    template = client.list_templates(zone_id=zone)[0]
    offering = next(o for o in client.list_service_offerings() if o["name"] == "Small Instance")
    vm = client.deploy_virtual_machine(zone_id=zone, service_offering_id=offering["id"], template_id=template["id"],
                                       name="leftover", start=False)
    replica = new_volume(config, client, "job-seed", name="pgtest1-disk-0-r")
    client.attach_volume(replica.resource_id, vm["id"])
    volumes.record(config=config, owner=FINISHED_FAILOVER, kind="vm", resource_id=vm["id"], name="leftover",
                   replica_volumes=[replica.resource_id])
    volumes.release("job-seed")
    assert volumes.sweep()["left"] == 1
    row = CloudResource.objects.get(owner=FINISHED_FAILOVER)
    assert row.state == "orphaned" and f"holds replica volume(s) {replica.resource_id}" in row.last_error
    assert client.find("vm", vm["id"]) is not None and client.find("volume", replica.resource_id) is not None
    client.detach_volume(replica.resource_id)
    assert volumes.sweep()["removed"] == 1
    assert client.find("vm", vm["id"]) is None and client.find("volume", replica.resource_id) is not None


def test_the_sweep_is_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["cloudstack-orphan-sweep"]
    assert entry["task"] == sweep_orphans.name == "apps.settings.tasks.sweep_orphans"
