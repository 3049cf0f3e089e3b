"""A replication provisions each disk's replica volume on the pool its datastore is mapped to (CloudStack 4.23)."""
import pytest

from apps.replication import runner, services
from apps.replication.models import ReplicaVolume, VMExportMapping
from apps.settings import volumes
from apps.settings.models import StorageMapping
from tests.factories import CredentialFactory, vm_with_disks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
GiB = 1024**3


@pytest.fixture
def cs_lab_options() -> dict:
    return {"cloudstack_version": "4.23.0.0"}


@pytest.fixture(autouse=True)
def _no_agent(settings, tmp_path):
    settings.AGENT_API_URL = "http://127.0.0.1:1"  # provisioning runs; the agent call then fails cleanly
    settings.VAR_DIR = tmp_path / "var"
    yield
    from apps.replication.exports import stop_export

    for mapping in VMExportMapping.objects.filter(status="active"):
        stop_export(mapping)


def test_two_disks_on_two_datastores_land_on_their_mapped_pools(cs_config):
    client = volumes.client_for(cs_config)
    pools = {p["name"]: p for p in client.list_storage_pools()}
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-fast", storage_id=pools["lab-ssd"]["id"])
    StorageMapping.objects.create(ossea_config=cs_config, datastore="ds-bulk", storage_id=pools["lab-small"]["id"])
    vm = vm_with_disks(2, vm_name="twostores")
    CredentialFactory()
    for disk, datastore in zip(vm.disks.order_by("unit_number"), ("ds-fast", "ds-bulk"), strict=True):
        disk.capacity_bytes, disk.datastore = 2 * GiB, datastore
        disk.save()
    job = services.replication_start(vm_context=vm, replication_type="initial", ossea_config=cs_config)
    runner.run(job.job_id)
    job.refresh_from_db()
    # No agent here: the job fails at the hand-over, with both volumes provisioned and kept for the retry.
    assert "No agent is connected" in job.error_message
    replicas = {r.disk_id: r.volume_id for r in ReplicaVolume.objects.all()}
    assert len(replicas) == 2
    listed = {v["id"]: v for v in client.list_volumes(vm_id=volumes.oma_vm_id(cs_config, client))}
    assert listed[replicas["disk-0"]]["storageid"] == pools["lab-ssd"]["id"]
    assert listed[replicas["disk-1"]]["storageid"] == pools["lab-small"]["id"]
    after = {p["name"]: p for p in client.list_storage_pools()}
    assert after["lab-ssd"]["disksizeallocated"] == pools["lab-ssd"]["disksizeallocated"] + 2 * GiB
