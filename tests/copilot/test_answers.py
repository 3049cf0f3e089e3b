"""The copilot answers seed 004's example questions from the collected CloudStack data and the migrations' own."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.portal import collector
from apps.portal import models as cloud
from apps.replication.models import ReplicationJob
from apps.settings.cloudstack.errors import CloudStackJobError
from tests.factories import VMContextFactory

from .conftest import ask

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_powered_on_vms_on_a_tenant_as_the_seed_shows(collected, viewer_client):
    body = ask(viewer_client, "How many powered on VMs on tenant acme?")
    # acme-web-1 and acme-web-2 run; acme-db-1 was deployed stopped.
    assert body["intent"] == "powered_on_vms" and body["backend_used"] == "builtin" and body["confidence"] == 1.0
    assert body["answer"].startswith("📌 *Filtered by tenant/project: **acme***\n\n"
                                     "There are **2** powered-on (active) VMs.")
    assert body["data_sent_external"] is False and body["tokens_used"] is None and body["history_id"] > 0
    everywhere = cloud.Server.objects.filter(status="ACTIVE").count()
    assert f"There are **{everywhere}** powered-on" in ask(viewer_client, "how many running instances?")["answer"]
    off = ask(viewer_client, "Show powered off VMs for project acme")
    assert off["intent"] == "powered_off_vms" and "There is **1** powered-off" in off["answer"]
    assert "acme-db-1" in off["answer"] and "acme-web-1" not in off["answer"]


def test_vm_count_scoped_by_tenant_project_and_host(collected, viewer_client):
    total = cloud.Server.objects.count()
    assert f"**{total}** VMs across all tenants" in ask(viewer_client, "How many VMs?")["answer"]
    payroll = ask(viewer_client, "How many VMs for project payroll?")
    assert "There is **1** VM." in payroll["answer"]
    host = cloud.Server.objects.get(name="globex-app-1").hypervisor_hostname
    on_host = cloud.Server.objects.filter(hypervisor_hostname=host)
    answer = ask(viewer_client, f"List VMs on host {host}")["answer"]
    assert f"📌 *Filtered by host: **{host}***" in answer and f"VMs (**{on_host.count()}**)" in answer
    assert all(vm.name in answer for vm in on_host)
    unknown = ask(viewer_client, "How many VMs on tenant nobody-here?")
    assert "No tenant or project named **nobody-here**" in unknown["answer"]


def test_busiest_hosts_in_cpu_order(collected, viewer_client):
    body = ask(viewer_client, "which hosts are busiest")
    assert body["intent"] == "busiest_hosts"
    hosts = list(cloud.Host.objects.order_by("-cpu_used_percent", "name")[:5])
    assert hosts and f"1. **{hosts[0].name}**: CPU {hosts[0].cpu_used_percent:.1f}%" in body["answer"]
    positions = [body["answer"].index(f"**{h.name}**") for h in hosts]
    assert positions == sorted(positions)


def test_vms_in_error(cs_lab, collected, viewer_client):
    assert "There are **0** VMs in error." in ask(viewer_client, "VMs in error")["answer"]
    cs_lab.inject("deployVirtualMachine", fail=True, errortext="Insufficient capacity")
    with pytest.raises(CloudStackJobError, match="Insufficient capacity"):
        collected.deploy("acme-broken-1", owner={"account": "acme", "domainid": collected.accounts["acme"]["domainid"]})
    assert collector.collect().status == "succeeded"
    body = ask(viewer_client, "Which VMs are in error on tenant acme?")
    assert body["intent"] == "error_vms" and "There is **1** VM in error." in body["answer"]
    assert "**acme-broken-1** (ERROR, acme" in body["answer"]


def test_volumes_not_attached_and_without_snapshots(collected, viewer_client):
    body = ask(viewer_client, "volumes not attached")
    loose = cloud.Volume.objects.filter(server_id="")
    assert body["intent"] == "unattached_volumes" and f"**{loose.count()}** volumes not attached" in body["answer"]
    for name in ("acme-data-1", "globex-data-1", "payroll-data-1"):
        assert f"**{name}**" in body["answer"]
    acme = ask(viewer_client, "which disks are detached on tenant acme")["answer"]
    assert "There is **1** volume not attached" in acme and "They hold **10 GB**" in acme
    bare = ask(viewer_client, "volumes without snapshots")
    covered = cloud.Volume.objects.count() - 1  # one root volume of acme-web-1 has its daily snapshot
    assert bare["intent"] == "volumes_without_snapshots" and f"**{covered}** volumes with no snapshot" in bare["answer"]


def test_snapshots_older_than_a_week(collected, viewer_client):
    assert "There are **0** snapshots older than 7 days." in ask(viewer_client, "snapshots older than 7 days")["answer"]
    # The emulator's snapshot was taken just now; as if it had been taken ten days ago:
    cloud.Snapshot.objects.filter(name="acme-web-1-daily").update(created=timezone.now() - timedelta(days=10))
    body = ask(viewer_client, "snapshots older than 7 days")
    assert body["intent"] == "old_snapshots" and "There is **1** snapshot older than 7 days." in body["answer"]
    assert "**acme-web-1-daily**" in body["answer"]
    assert "**0** snapshots older than 14 days" in ask(viewer_client, "Snapshots older than 2 weeks?")["answer"]
    assert "There are **0**" in ask(viewer_client, "snapshots older than 7 days on tenant globex")["answer"]


def test_tenant_usage_sums_the_collected_rows(collected, viewer_client):
    answer = ask(viewer_client, "Quota and usage for tenant acme")["answer"]
    vcpus = sum(cloud.Server.objects.filter(account="acme").values_list("vcpus", flat=True))
    assert "- VMs: **3** (2 active)" in answer and f"- vCPUs: **{vcpus}**" in answer
    assert "- Snapshots: **1**" in answer and "/tenant-health/quota/" in answer


def test_migration_questions_read_the_platforms_jobs(db, viewer_client):
    web, db_vm, app = (VMContextFactory(vm_name=n) for n in ("pgweb1", "pgdb1", "pgapp1"))
    ReplicationJob.objects.create(job_id="job-a", vm_context=web, status="replicating", replication_type="initial")
    ReplicationJob.objects.create(job_id="job-b", vm_context=db_vm, status="provisioning", replication_type="initial")
    ReplicationJob.objects.create(job_id="job-c", vm_context=app, status="completed", replication_type="initial")
    body = ask(viewer_client, "How many VMs are replicating?")
    assert body["intent"] == "replicating_vms" and "There are **2** VMs replicating." in body["answer"]
    assert "**pgdb1**" in body["answer"] and "pgapp1" not in body["answer"]
    FailoverJob.objects.create(job_id="live-1", vm_context=app, job_type="live", status="failed",
                               completed_at=timezone.now(), error_message="VM create failed: no capacity")
    old = FailoverJob.objects.create(job_id="test-0", vm_context=web, job_type="test", status="failed",
                                     completed_at=timezone.now() - timedelta(days=3))
    FailoverJob.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    today = ask(viewer_client, "which failovers failed today")
    assert today["intent"] == "failed_failovers" and "**1** failover failed today." in today["answer"]
    assert "**pgapp1** (live, live-1): VM create failed: no capacity" in today["answer"]
    assert "**2** failovers failed." in ask(viewer_client, "Which failovers failed?")["answer"]
    scoped = ask(viewer_client, "How many VMs are replicating on tenant acme?")["answer"]
    assert "belong to no CloudStack tenant" in scoped
    VMContext.objects.filter(pk=web.pk).update(current_status="ready_for_failover")
    VMContext.objects.filter(pk=db_vm.pk).update(current_status="failed")
    ready = ask(viewer_client, "Which VMs are ready for failover?")
    assert ready["intent"] == "ready_for_failover" and "There is **1** VM ready for failover.\n\n- **pgweb1**" in \
        ready["answer"]
    assert "**1** VM whose migration failed.\n\n- **pgdb1**" in ask(viewer_client, "Which migrations failed?")["answer"]
    FailoverJob.objects.create(job_id="test-2", vm_context=web, job_type="test", status="creating_vm", progress=45)
    running = ask(viewer_client, "Show active failovers")
    assert running["intent"] == "running_failovers" and "**pgweb1** (test, creating_vm, 45%)" in running["answer"]
    tracked = ask(viewer_client, "Migration status")
    assert tracked["intent"] == "migration_vms" and "The platform tracks **3** VMware VMs" in tracked["answer"]
    assert ask(viewer_client, "Should we migrate the database first?")["intent"] == "unknown"


def test_every_regular_chip_is_answered(collected, viewer_client):
    chips = viewer_client.get("/api/copilot/suggestions").json()["suggestions"]["categories"]
    assert len(chips) == 8
    for category in chips:
        for chip in category["chips"]:
            if not chip.get("template"):
                assert ask(viewer_client, chip["question"], schema=False)["intent"] != "unknown", chip
            else:
                assert ask(viewer_client, chip["question"] + "acme", schema=False)["intent"] != "unknown", chip


def test_host_scope_reaches_volumes_and_says_what_it_cannot_narrow(collected, viewer_client):
    host = cloud.Server.objects.get(name="acme-web-1").hypervisor_hostname
    vms = cloud.Server.objects.filter(hypervisor_hostname=host).values("cloud_id")
    attached = cloud.Volume.objects.filter(server_id__in=vms).count()
    body = ask(viewer_client, f"How many volumes on host {host}?")
    assert body["intent"] == "volume_count" and f"There are **{attached}** volumes." in body["answer"]
    hosts = ask(viewer_client, "which hosts are busiest on tenant acme")["answer"]
    assert "Hosts are not owned by a tenant: this counts all of them." in hosts
    assert "No host named **nowhere-7**" in ask(viewer_client, "List VMs on host nowhere-7")["answer"]


def test_largest_flavors_and_capacity(collected, viewer_client):
    largest = ask(viewer_client, "What are the largest volumes?")["answer"]
    biggest = cloud.Volume.objects.order_by("-size_gb", "name").first()
    assert largest.index(f"**{biggest.name}** ({biggest.size_gb} GB") < largest.index("**payroll-data-1** (3 GB")
    flavors = ask(viewer_client, "Which flavors are used most?")
    small = cloud.Server.objects.filter(flavor_name="Small Instance").count()
    assert flavors["intent"] == "flavor_usage" and f"- **Small Instance**: {small}" in flavors["answer"]
    big = ask(viewer_client, "VMs with most memory on tenant globex")["answer"]
    assert "VMs, largest first (**1**)" in big and "**globex-app-1**" in big
    capacity = ask(viewer_client, "Storage capacity")["answer"]
    total = sum(cloud.StoragePool.objects.values_list("total_gb", flat=True))
    assert f"used of **{total} GB**" in capacity
