"""Provisioning against the CloudStack emulator: volumes, attachments, device links, NBD exports, rollback."""
from pathlib import Path

import nbd
import pytest

from apps.enrollment.models import Appliance
from apps.enrollment.services import appliance_create, appliance_revoke
from apps.enrollment.sshd import free_port
from apps.replication import runner, services
from apps.replication.models import ReplicationJob, ReplicaVolume, VMExportMapping
from apps.settings.models import CloudResource
from tests.enrollment.conftest import new_key, public_line
from tests.factories import CredentialFactory, vm_with_disks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


@pytest.fixture(autouse=True)
def _no_agent(settings, tmp_path):
    settings.AGENT_API_URL = "http://127.0.0.1:1"  # provisioning runs; the agent call then fails cleanly
    settings.VAR_DIR = tmp_path / "var"
    yield
    from apps.replication.exports import stop_export

    for mapping in VMExportMapping.objects.filter(status="active"):
        stop_export(mapping)


def _job(config, disks=2):
    vm = vm_with_disks(disks, vm_name="pgtest1")
    CredentialFactory()
    for disk in vm.disks.all():
        disk.capacity_bytes = 1024 ** 3
        disk.save()
    return services.replication_start(vm_context=vm, replication_type="initial", ossea_config=config)


def _nbd_size(mapping):
    handle = nbd.NBD()
    handle.set_export_name(mapping.export_name)
    handle.connect_tcp("127.0.0.1", str(mapping.port))
    try:
        return handle.get_size()
    finally:
        handle.shutdown()


def test_provisioning_creates_attaches_exports_and_reuses(cs_config, cs_lab):
    job = _job(cs_config)
    runner.run(job.job_id)
    job.refresh_from_db()
    # No agent here: the job fails at the hand-over, but provisioning is done and kept for the retry.
    assert job.status == "failed" and "No agent is connected" in job.error_message
    volumes = list(ReplicaVolume.objects.order_by("disk_unit_number"))
    assert len(volumes) == 2
    for volume in volumes:
        assert Path(volume.device_path).exists()
        assert volume.device_path.endswith("virtio-" + volume.volume_id.replace("-", "")[:20])
    mappings = list(VMExportMapping.objects.order_by("disk_unit_number"))
    assert [m.status for m in mappings] == ["active", "active"]
    assert _nbd_size(mappings[0]) == 1024 ** 3
    pids = [m.pid for m in mappings]

    # The retry reuses the volumes and the running exports: nothing is created or restarted.
    services.replication_retry(job=job)
    runner.run(job.job_id)
    assert ReplicaVolume.objects.count() == 2
    assert [m.pid for m in VMExportMapping.objects.order_by("disk_unit_number")] == pids
    from apps.replication.api.views import creation_answer

    answer = creation_answer(ReplicationJob.objects.get(pk=job.pk))
    assert all(e["reused"] for e in answer["nbd_exports"]) and len(answer["nbd_exports"]) == 2
    assert {v["status"] for v in answer["created_volumes"]} == {"reused"}


@pytest.fixture
def one_slot_lab(tmp_path, settings, db):
    """An emulator whose control-plane VM takes a single data volume: the second disk's attach is refused."""
    from apps.settings.cloudstack import local_macs
    from apps.settings.models import OsseaConfig
    from lab.cloudstack import launch

    with launch(tmp_path / "cs1", job_delay=0.05, max_data_volumes=1,
                oma_vm_macs=",".join(sorted(local_macs()))) as lab:
        settings.MP_DEVICE_ROOT = str(lab.dev_root)
        settings.MP_DEVICE_TIMEOUT = 10
        settings.MP_CLOUDSTACK_POLL_INTERVAL = 0.05
        config = OsseaConfig.objects.create(name="one-slot", api_url=lab.url, api_key=lab.api_key,
                                            secret_key=lab.secret_key, zone="OSSEA-Zone")
        yield lab, config


def test_cloudstack_failure_leaves_nothing_behind(one_slot_lab):
    lab, config = one_slot_lab
    job = _job(config)
    links_before = set((lab.dev_root / "disk" / "by-id").glob("virtio-*"))  # the VM's own root disk
    runner.run(job.job_id)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "provisioning failed" in job.error_message and "(undone: " in job.error_message
    from apps.settings import cloudstack as cs

    client = cs.CloudStackClient(lab.url, lab.api_key, lab.secret_key)
    # The first disk was fully provisioned (volume, attachment, export) before the second failed: all undone.
    assert client.list_volumes(volume_type="DATADISK") == []
    assert set((lab.dev_root / "disk" / "by-id").glob("virtio-*")) == links_before
    assert not VMExportMapping.objects.filter(status="active").exists()
    assert not ReplicaVolume.objects.exists()
    states = list(CloudResource.objects.values_list("kind", "state"))
    assert ("attachment", "removed") in states and ("volume", "removed") in states
    assert {state for _, state in states} == {"removed"}


def _tunnelled_agent(appliance_id: str, reverse_port: int, block: str):
    """An approved agent as approval leaves it: an SSH key, a reverse port and its own block of NBD ports."""
    appliance, _ = appliance_create(appliance_id=appliance_id)
    Appliance.objects.filter(pk=appliance.pk).update(ssh_public_key=public_line(new_key()),
                                                      tunnel_reverse_port=reverse_port, tunnel_nbd_ports=block)
    return Appliance.objects.get(pk=appliance.pk)


def test_exports_sit_in_the_serving_agents_block_and_leave_with_a_revoked_agent(cs_config, cs_lab, settings,
                                                                                 tmp_path):
    settings.MP_SSH_AUTHORIZED_KEYS = str(tmp_path / "ssh" / "authorized_keys")
    settings.MP_SSH_SESSIONS_DIR = str(tmp_path / "ssh" / "sessions")
    ports = [free_port(), free_port()]
    agent_a = _tunnelled_agent("vma-a", ports[0], "10809-10818")
    agent_b = _tunnelled_agent("vma-b", ports[1], "10819-10828")
    # The agent at agent B's reverse forward serves the job: the job says so, its exports go to B's block.
    settings.AGENT_API_URL = f"http://127.0.0.1:{ports[1]}"
    job = _job(cs_config)
    runner.run(job.job_id)
    job.refresh_from_db()
    assert job.status == "failed" and job.appliance_id == "vma-b"
    mappings = list(VMExportMapping.objects.order_by("disk_unit_number"))
    assert all(10819 <= m.port <= 10828 for m in mappings), [m.port for m in mappings]
    assert _nbd_size(mappings[0]) == 1024 ** 3

    # Agent A serves the retry: the exports move into A's block, where B's key cannot reach them.
    settings.AGENT_API_URL = f"http://127.0.0.1:{ports[0]}"
    services.replication_retry(job=job)
    runner.run(job.job_id)
    job.refresh_from_db()
    assert job.appliance_id == "vma-a"
    moved = list(VMExportMapping.objects.order_by("disk_unit_number"))
    assert all(10809 <= m.port <= 10818 and m.status == "active" for m in moved), [m.port for m in moved]
    assert {m.pid for m in moved}.isdisjoint(m.pid for m in mappings)

    # Revoking agent A stops the exports in its block before the block goes to another agent.
    appliance_revoke(appliance=agent_a)
    assert [m.status for m in VMExportMapping.objects.all()] == ["inactive", "inactive"]
    with pytest.raises(nbd.Error):
        _nbd_size(moved[0])
    assert agent_b.tunnel_nbd_ports == "10819-10828"
