"""Issue 14 item 6: every replica stays attached to the control plane's VM, so CloudStack's per-VM data-volume
limit caps how many disks one control plane replicates. A sync that would pass it is refused up front with a clear
409 that says why and what to do, before anything is created; a VM whose replicas exist still syncs."""
import pytest

from apps.replication import services
from apps.replication.choices import VolumeStatus
from apps.replication.models import ReplicaVolume
from tests.factories import OsseaConfigFactory, vm_with_disks

pytestmark = pytest.mark.django_db


def _replicas(vm):
    for disk in vm.disks.all():
        ReplicaVolume.objects.create(vm_context=vm, disk_id=disk.disk_id, disk_unit_number=disk.unit_number,
                                     volume_id=f"vol-{vm.vm_name}-{disk.unit_number}", volume_name="v",
                                     size_bytes=1, status=VolumeStatus.ATTACHED_TO_OMA)


def test_a_sync_past_the_data_volume_limit_is_refused_clearly(operator_client, settings):
    OsseaConfigFactory()
    settings.MP_OMA_MAX_DATA_VOLUMES = 4
    synced = vm_with_disks(2, vm_name="cap-synced")
    _replicas(synced)
    queued = vm_with_disks(1, vm_name="cap-queued")
    assert operator_client.post("/api/v1/replications", {"vm_name": "cap-queued", "replication_type": "initial"},
                                format="json").status_code == 202
    refused = vm_with_disks(2, vm_name="cap-refused")
    response = operator_client.post("/api/v1/replications", {"vm_name": "cap-refused", "replication_type": "initial"},
                                    format="json")
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["error_code"] == "DATA_VOLUME_LIMIT"
    assert "needs 2 new replica volume(s)" in body["error"] and "1 of its 4 data-volume slots free" in body["error"]
    assert body["details"] == {"needed": 2, "in_use": 3, "limit": 4}
    assert services.active_job_for(queued) and not services.active_job_for(refused)
    # A VM whose replicas are attached needs no new slot: its incremental is never refused for capacity.
    assert operator_client.post("/api/v1/replications", {"vm_name": "cap-synced", "replication_type": "incremental"},
                                format="json").status_code == 202
