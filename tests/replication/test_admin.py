"""The operations console: jobs show their events, actions call the services and report refusals."""
import pytest
from django.contrib.auth import get_user_model

from apps.replication import services
from apps.replication.models import ReplicationJob
from apps.settings.models import OsseaConfig, VMwareCredential
from tests.factories import OsseaConfigFactory, vm_with_disks

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client):
    user = get_user_model().objects.create_superuser("root", password="Console-pass-42")
    client.force_login(user)
    return client


def test_job_page_shows_events_and_cancel_action_works(console):
    OsseaConfigFactory()
    job = services.replication_start(vm_context=vm_with_disks(1, vm_name="console-vm"), replication_type="initial")
    # The job's admin page is its console page (tests/console).
    page = console.get(f"/console/replication/replicationjob/{job.pk}/change/", follow=True)
    assert page.status_code == 200 and b"initial replication queued" in page.content
    response = console.post("/console/replication/replicationjob/", {"action": "cancel_jobs", "_selected_action": [job.pk]},
                            follow=True)
    assert b"Cancel requested for" in response.content
    assert ReplicationJob.objects.get(pk=job.pk).status == "cancelled"
    again = console.post("/console/replication/replicationjob/", {"action": "cancel_jobs", "_selected_action": [job.pk]},
                         follow=True)
    assert b"cannot be cancelled" in again.content


def test_inventory_sync_action_reports_refusals(console):
    vm = vm_with_disks(1, vm_name="no-cloud")
    response = console.post("/console/inventory/vmcontext/", {"action": "start_incremental_sync",
                                                            "_selected_action": [vm.pk]}, follow=True)
    assert b"CloudStack is not configured" in response.content


def test_secrets_never_render_in_the_console(console):
    config = OsseaConfig.objects.create(name="c", api_url="http://x/client/api", api_key="k", secret_key="TOPSECRET-1",
                                        zone="z")
    cred = VMwareCredential.objects.create(name="v", vcenter_host="h", username="u", password="TOPSECRET-2",
                                           datacenter="d")
    for url in (f"/console/platform_settings/osseaconfig/{config.pk}/change/",
                f"/console/platform_settings/vmwarecredential/{cred.pk}/change/",
                "/console/platform_settings/osseaconfig/", "/console/platform_settings/vmwarecredential/"):
        page = console.get(url)
        assert page.status_code == 200 and b"TOPSECRET" not in page.content
    # Saving the form with the secret left blank keeps the stored one.
    console.post(f"/console/platform_settings/osseaconfig/{config.pk}/change/",
                 {"name": "c2", "api_url": "http://x/client/api", "api_key": "k", "secret_key": "", "domain": "/",
                  "zone": "z", "is_active": "on"})
    config.refresh_from_db()
    assert config.name == "c2" and config.secret_key == "TOPSECRET-1"


def test_failover_job_page_and_end_test_refusal(console):
    from apps.failover.models import FailoverJob

    vm = vm_with_disks(1, vm_name="fo-console")
    job = FailoverJob.objects.create(job_id=f"live-failover-{vm.vm_id}-1", vm_context=vm, job_type="live",
                                     status="completed")
    page = console.get(f"/console/failover/failoverjob/{job.pk}/change/", follow=True)
    assert page.status_code == 200 and job.job_id.encode() in page.content
    response = console.post("/console/failover/failoverjob/", {"action": "end_tests", "_selected_action": [job.pk]},
                            follow=True)
    assert response.status_code == 200 and job.job_id.encode() in response.content
