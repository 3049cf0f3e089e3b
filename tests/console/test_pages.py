"""The console's pages through Django's test client: what each role sees and may do, human units, read-only state,
the confirmation rule, the offline API docs. The whole migration in a real browser is tests/console/test_browser.py."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone

from apps.core.jobs import record_event
from apps.failover.models import FailoverJob
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob, ReplicaVolume
from tests.factories import OsseaConfigFactory, VMContextFactory, VMDiskFactory, VMNicFactory

pytestmark = pytest.mark.django_db

ACTION = re.compile(r'class="[^"]*console-action')


@pytest.fixture
def vm():
    context = VMContextFactory(vm_name="web-01", ossea_config=OsseaConfigFactory())
    VMDiskFactory(vm_context=context, unit_number=0, disk_id="disk-0", disk_key=2000, capacity_bytes=2147483648)
    VMNicFactory(vm_context=context, label="Network adapter 1", network_name="VM Network")
    return context


def running_job(vm, **fields) -> ReplicationJob:
    defaults = {"job_id": f"job-{vm.vm_name}", "vm_context": vm, "replication_type": "initial",
                "status": "replicating", "progress_percent": 42.5, "bytes_total": 2147483648,
                "bytes_transferred": 912680550, "throughput_mbps": 123.4, "eta_seconds": 125,
                "current_operation": "Copying disk-0", "started_at": timezone.now(),
                "disk_progress": [{"disk_id": "disk-0", "progress_percent": 42.5, "bytes_total": 2147483648,
                                   "bytes_transferred": 912680550, "status": "running"}]}
    return ReplicationJob.objects.create(**{**defaults, **fields})


def test_the_dashboard_is_the_home_with_states_jobs_failures_and_health(operator, vm, django_assert_max_num_queries):
    running_job(vm)
    VMContext.objects.filter(pk=vm.pk).update(current_status="replicating")
    other = VMContextFactory(vm_name="db-01")
    ReplicationJob.objects.create(job_id="job-failed", vm_context=other, replication_type="incremental",
                                  status="failed", error_message="the agent reported a failure: snapshot refused")
    with django_assert_max_num_queries(30):
        page = operator.get("/console/")
    text = page.content.decode()
    assert page.status_code == 200
    assert re.search(r"<strong>1</strong> Replicating", text) and re.search(r"<strong>1</strong> Discovered", text)
    assert 'value="42.5"' in text and "123.4 MB/s" in text and "2 min 05 s" in text
    assert "870.4 MiB of 2 GiB" in text
    assert "snapshot refused" in text and "Retry the sync" in text
    assert "No agent enrolled yet" in text and "No schedule is enabled" in text
    assert "control-plane VM not detected yet" in text  # the configuration's health
    # htmx polls the dashboard: it gets the panel alone.
    panel = operator.get("/console/", HTTP_HX_REQUEST="true").content.decode()
    assert panel.lstrip().startswith('<div id="dashboard"') and "<html" not in panel
    assert 'hx-trigger="every 3s"' in panel
    # htmx itself is served by the project, no CDN.
    assert "/static/console/htmx-2.0.11.min.js" in text and "cdn" not in text.lower()


def test_the_dashboards_queries_do_not_grow_with_vms_and_jobs(operator, django_assert_max_num_queries):
    config = OsseaConfigFactory()
    for n in range(30):
        context = VMContextFactory(vm_name=f"bulk-{n}", ossea_config=config)
        running_job(context, job_id=f"job-bulk-{n}")
        FailoverJob.objects.create(job_id=f"failed-{n}", vm_context=context, job_type="test", status="failed",
                                   error_message="no test network")
    with django_assert_max_num_queries(30):
        assert operator.get("/console/").status_code == 200


def test_a_viewer_sees_everything_and_no_action(viewer, vm):
    job = running_job(vm)
    for url in ("/console/", f"/console/console/vm/{vm.pk}/", f"/console/console/sync/{job.job_id}/",
                "/console/console/agents/"):
        page = viewer.get(url)
        assert page.status_code == 200, url
        assert not ACTION.search(page.content.decode()), url
    assert "Copying disk-0" in viewer.get(f"/console/console/vm/{vm.pk}/").content.decode()
    # Nor may it act by posting.
    assert viewer.post(f"/console/console/vm/{vm.pk}/initial_sync/").status_code == 403
    assert viewer.get(f"/console/console/vm/{vm.pk}/live_failover/").status_code == 403
    assert viewer.post(f"/console/console/vm/{vm.pk}/mappings/", {}).status_code == 403


def test_the_vm_page_has_every_operation_for_an_operator(operator, vm):
    text = operator.get(f"/console/console/vm/{vm.pk}/").content.decode()
    for label in ("Initial sync", "Incremental sync", "Test failover", "End the test", "Live failover", "Roll back",
                  "Cancel the sync"):
        assert f">{label}<" in text, label
    assert "2 GiB" in text and "VM Network" in text
    assert text.count('class="mapping-') == 2  # live and test, each editable in place


def test_a_sync_started_in_the_console_records_who_started_it(operator, vm, django_capture_on_commit_callbacks):
    answer = operator.post(f"/console/console/vm/{vm.pk}/initial_sync/")
    job = ReplicationJob.objects.get(vm_context=vm)
    assert answer.status_code == 302 and answer["Location"] == f"/console/console/sync/{job.job_id}/"
    assert job.requested_by == "operator-c" and job.replication_type == "initial"
    from apps.core.models import JobEvent

    assert JobEvent.objects.get(job_id=job.job_id, step="created").data["requested_by"] == "operator-c"
    # A refusal is said on the page, in words.
    again = operator.post(f"/console/console/vm/{vm.pk}/incremental_sync/", follow=True).content.decode()
    assert "already has an active replication job" in again


def test_a_destructive_operation_without_confirmation_does_nothing(operator, vm):
    vm.current_status = "ready_for_failover"
    vm.save()
    page = operator.get(f"/console/console/vm/{vm.pk}/live_failover/").content.decode()
    assert "What will happen" in page and "shuts the source VM web-01 down" in page
    assert 'name="power_off_source"' in page and "checked" in page
    unconfirmed = operator.post(f"/console/console/vm/{vm.pk}/live_failover/", {"power_off_source": "on",
                                                                              "final_sync": "on"})
    assert unconfirmed.status_code == 200 and "Nothing was done" in unconfirmed.content.decode()
    assert not FailoverJob.objects.exists()
    test_page = operator.get(f"/console/console/vm/{vm.pk}/test_failover/").content.decode()
    assert 'name="test_duration"' in test_page and 'name="auto_cleanup"' in test_page


def test_a_confirmed_operation_that_is_refused_says_why_and_what_to_do(operator, vm):
    answer = operator.post(f"/console/console/vm/{vm.pk}/test_failover/",
                           {"test_duration": "30m", "auto_cleanup": "on", "confirm": "yes"})
    text = answer.content.decode()
    assert answer.status_code == 200 and not FailoverJob.objects.exists()
    assert "not ready for failover" in text and "To do: Complete a replication" in text
    bad = operator.post(f"/console/console/vm/{vm.pk}/test_failover/", {"test_duration": "soon", "confirm": "yes"})
    assert "is not a duration like 30m" in bad.content.decode()


def test_the_sync_page_shows_disks_in_human_units_and_events(viewer, vm):
    job = running_job(vm)
    record_event("replication", job.job_id, "created", "initial replication queued", requested_by="operator-c")
    text = viewer.get(f"/console/console/sync/{job.job_id}/").content.decode()
    assert 'class="disk-row"' in text and "870.4 MiB of 2 GiB" in text and "123.4 MB/s" in text
    assert "initial replication queued" in text and "operator-c" in text
    assert "2147483648" not in text
    # The admin's page of the job is the console's.
    admin_page = viewer.get(f"/console/replication/replicationjob/{job.pk}/change/")
    assert admin_page.status_code == 302 and admin_page["Location"] == f"/console/console/sync/{job.job_id}/"


def test_the_failover_page_shows_plan_and_validation_as_tables(admin, vm):
    job = FailoverJob.objects.create(
        job_id="test-failover-x", vm_context=vm, job_type="test", status="failed", test_duration="1h",
        error_message="no offering", plan={"networks": [{"source_network_name": "VM Network", "destination_network_id": "n1",
                                                          "destination_network_name": "test-net", "from": "mapping"}],
                                           "compute": {"service_offering_id": "c1", "service_offering_name": "Medium",
                                                       "customized": False, "cpu_number": None, "memory_mb": None},
                                           "template": {"id": "t1", "name": "Boot from volume"}, "vm_name": "test-web-01"},
        validation_result={"checks": [{"check_name": "network_mappings", "check_type": "critical", "status": "pass",
                                       "message": "all mapped"}], "required_actions": []})
    text = admin.get(f"/console/console/failover/{job.job_id}/").content.decode()
    assert "<td>test-net</td>" in text and "Medium" in text and "<td>network_mappings</td>" in text
    assert "{&quot;" not in text and "no offering" in text


def test_platform_owned_vm_fields_are_read_only(admin, vm):
    form = admin.get(f"/console/inventory/vmcontext/{vm.pk}/change/").content.decode()
    assert 'name="current_status"' not in form and 'name="successful_jobs"' not in form
    assert "Open the VM page" in form
    admin.post(f"/console/inventory/vmcontext/{vm.pk}/change/", {"current_status": "failed_over", "vm_name": "web-01",
                                                               "disks-TOTAL_FORMS": 0, "nics-TOTAL_FORMS": 0})
    assert VMContext.objects.get(pk=vm.pk).current_status == "discovered"


def test_bulk_initial_sync_from_the_vm_list(operator, vm):
    answer = operator.post("/console/inventory/vmcontext/", {"action": "start_initial_sync",
                                                           "_selected_action": [vm.pk]}, follow=True)
    assert "Started job-" in answer.content.decode()
    assert ReplicationJob.objects.get(vm_context=vm).requested_by == "operator-c"


def test_view_site_leads_to_the_dashboard_and_the_api_docs_are_offline(viewer):
    page = viewer.get("/console/").content.decode()
    assert 'href="/console/"' in page and "View site" in page
    swagger = viewer.get("/swagger/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in swagger and "cdn" not in swagger.lower()
    redoc = viewer.get("/redoc/").content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/" in redoc
    root = viewer.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert root.status_code == 200 and b"replications" in root.content


def test_the_sync_history_says_how_long_each_sync_took_and_its_average_speed(viewer, vm):
    from datetime import timedelta

    start = timezone.now() - timedelta(minutes=5)
    running_job(vm, status="completed", throughput_mbps=0, started_at=start, completed_at=start + timedelta(seconds=100),
                bytes_transferred=2 * 10 ** 9)
    text = viewer.get(f"/console/console/vm/{vm.pk}/").content.decode()
    assert "20.0 MB/s" in text and "1 min 40 s" in text and "<rect" in text


def test_bulk_add_to_a_machine_group_asks_which_group_then_assigns(operator, vm):
    from apps.scheduler import services as scheduler_services
    from apps.scheduler.models import VMGroupMembership

    group = scheduler_services.group_create(data={"name": "wave-1"}, created_by="x")
    asked = operator.post("/console/inventory/vmcontext/", {"action": "add_to_group", "_selected_action": [vm.pk]})
    assert asked.status_code == 200 and "wave-1" in asked.content.decode() and "web-01" in asked.content.decode()
    assert not VMGroupMembership.objects.exists()
    done = operator.post("/console/inventory/vmcontext/", {"action": "add_to_group", "_selected_action": [vm.pk],
                                                         "apply": "1", "group": group.pk}, follow=True)
    assert "1 VM(s) added to wave-1" in done.content.decode()
    membership = VMGroupMembership.objects.get(vm_context=vm)
    assert membership.group == group and membership.assigned_by == "operator-c"


def test_bulk_readiness_lists_what_each_vm_needs(operator, vm):
    answer = operator.post("/console/inventory/vmcontext/", {"action": "check_readiness", "_selected_action": [vm.pk]})
    text = answer.content.decode()
    assert answer.status_code == 200 and "web-01" in text and "Complete a replication" in text


def test_cancel_and_rollback_with_nothing_to_undo_say_so(operator, vm):
    for name, said in (("cancel_sync", "has no running sync to cancel"), ("rollback", "has no failover job")):
        page = operator.get(f"/console/console/vm/{vm.pk}/{name}/").content.decode()
        assert "nothing would be" in page
        answer = operator.post(f"/console/console/vm/{vm.pk}/{name}/", {"confirm": "yes"}).content.decode()
        assert said in answer


def test_the_job_and_volume_lists_show_human_units(operator, vm):
    running_job(vm)
    ReplicaVolume.objects.create(vm_context=vm, disk_id="disk-0", disk_unit_number=0, volume_id="v-1",
                                 volume_name="migration-web-01-disk-0", size_bytes=2147483648)
    jobs = operator.get("/console/replication/replicationjob/").content.decode()
    assert "870.4 MiB" in jobs and "123.4 MB/s" in jobs and '<progress max="100" value="42.5">' in jobs
    assert "912680550" not in jobs
    volumes = operator.get("/console/replication/replicavolume/").content.decode()
    assert "2 GiB" in volumes and "2147483648" not in volumes


def test_what_the_platform_records_cannot_be_added_or_edited_by_hand(admin, vm):
    volume = ReplicaVolume.objects.create(vm_context=vm, disk_id="disk-0", disk_unit_number=0, volume_id="v-1",
                                          volume_name="migration-web-01-disk-0", size_bytes=2147483648)
    assert admin.get("/console/replication/replicavolume/add/").status_code == 403
    form = admin.get(f"/console/replication/replicavolume/{volume.pk}/change/").content.decode()
    assert 'name="volume_id"' not in form and "v-1" in form
