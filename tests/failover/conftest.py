"""A "replicated" lab VM in the CloudStack emulator: what a completed replication leaves behind.

The VM context, disks and NICs are rows (tests/factories.py); its replica volumes are real emulator volumes created
and attached to the emulator's control-plane VM through the product client, holding known data written through
their device links; a completed replication job with change ids makes the VM ready for failover.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import timezone

from apps.inventory.choices import VMContextStatus
from apps.replication.choices import ReplicationStatus, ReplicationType, VolumeStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob, ReplicaVolume
from apps.settings import cloudstack as cs
from apps.settings import volumes
from tests.factories import CredentialFactory, VMContextFactory, VMDiskFactory, VMNicFactory

MiB = 1024 ** 2
BLOCK = 64 * 1024


@pytest.fixture
def cloud(tmp_path, settings):
    """The CloudStack emulator as a separate process; the platform's device root is its lab root."""
    from lab.cloudstack import launch

    with launch(tmp_path / "cloudstack", job_delay=0.02,
                oma_vm_macs=",".join(sorted(cs.local_macs()))) as lab:
        settings.MP_DEVICE_ROOT = str(lab.dev_root)
        settings.MP_DEVICE_TIMEOUT = 10
        settings.MP_CLOUDSTACK_JOB_TIMEOUT = 30
        settings.MP_CLOUDSTACK_POLL_INTERVAL = 0.02
        settings.VAR_DIR = tmp_path / "var"
        settings.CELERY_TASK_ALWAYS_EAGER = True
        settings.AGENT_API_URL = "http://127.0.0.1:1"
        yield lab
        from apps.replication.exports import stop_export
        from apps.replication.models import VMExportMapping

        for mapping in VMExportMapping.objects.filter(status="active"):
            stop_export(mapping)


@pytest.fixture
def cloud_config(db, cloud):
    from apps.settings.models import OsseaConfig

    return OsseaConfig.objects.create(name="lab", api_url=cloud.url, api_key=cloud.api_key,
                                      secret_key=cloud.secret_key, zone="OSSEA-Zone")


@pytest.fixture
def client(cloud):
    return cs.CloudStackClient(cloud.url, cloud.api_key, cloud.secret_key, poll_interval=0.02, job_timeout=30)


@pytest.fixture
def networks(client):
    """The emulator's seeded networks by name: oma-net, migration-net, test-failover-net."""
    return {n["name"]: n for n in client.list_networks()}


def digest(path: Path) -> str:
    """The volume's content (non-zero blocks and where they are), independent of how the file is allocated."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            position = start - start % BLOCK
            while position < end:
                block = os.pread(fd, BLOCK, position)
                if block.strip(b"\0"):
                    sha.update(position.to_bytes(8, "big") + block)
                position += BLOCK
            offset = end
    sha.update(size.to_bytes(8, "big"))
    return sha.hexdigest()


def write_at(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class LabVM:
    context: object
    replicas: list
    lab: object
    digests: dict = field(default_factory=dict)

    def backing_file(self, volume_id: str) -> Path:
        return self.lab.state_dir / "volumes" / f"{volume_id}.img"

    def device(self, volume_id: str) -> Path:
        return cs.volume_device_path(volume_id, self.lab.dev_root)

    def current_digests(self) -> dict:
        return {r.volume_id: digest(self.backing_file(r.volume_id)) for r in self.replicas}


def make_replicated_vm(lab, config, client, *, name: str = "pgtest1", disks: int = 2,
                       nics: tuple[str, ...] = ("VM Network",), cpu: int = 2, memory_mb: int = 2048,
                       guest_os: str = "otherLinux64Guest") -> LabVM:
    context = VMContextFactory(vm_name=name, cpu_count=cpu, memory_mb=memory_mb, ossea_config=config,
                               credential=CredentialFactory(), power_state="poweredOn", guest_os_id=guest_os)
    for unit in range(disks):
        VMDiskFactory(vm_context=context, unit_number=unit, disk_id=f"disk-{unit}", disk_key=2000 + unit,
                      capacity_bytes=1024 ** 3)
    for index, network in enumerate(nics):
        VMNicFactory(vm_context=context, label=f"Network adapter {index + 1}", network_name=network,
                     mac_address=f"00:50:56:00:00:{index + 1:02x}")
    job = ReplicationJob.objects.create(job_id=f"job-seed-{name}", vm_context=context, ossea_config=config,
                                        replication_type=ReplicationType.INITIAL, status=ReplicationStatus.COMPLETED,
                                        progress_percent=100.0, started_at=timezone.now(), completed_at=timezone.now())
    oma = volumes.oma_vm_id(config, client)
    replicas = []
    for disk in context.disks.order_by("unit_number"):
        volume, attached = volumes.create_and_attach(config=config, client=client, owner=job.job_id,
                                                     vm_name=name, disk_unit=disk.unit_number,
                                                     size_bytes=disk.capacity_bytes)
        # What a sync wrote: a "boot sector", some data further in, a marker per disk.
        write_at(attached.device_path, 0, b"\xeb\x63\x90" + f"BOOT {name} {disk.disk_id}".encode() + b"\x55\xaa")
        write_at(attached.device_path, 5 * MiB + 4096, os.urandom(256 * 1024))
        write_at(attached.device_path, 700 * MiB, f"end of {disk.disk_id}".encode() * 100)
        replicas.append(ReplicaVolume.objects.create(
            vm_context=context, disk_id=disk.disk_id, disk_unit_number=disk.unit_number, volume_id=volume["id"],
            volume_name=volume["name"], size_bytes=int(volume["size"]), device_path=str(attached.device_path),
            device_id=attached.device_id, attached_vm_id=oma, status=VolumeStatus.ATTACHED_TO_OMA,
            created_by_job=job.job_id))
        ChangeIdRecord.objects.create(vm_context=context, job=job, vm_path=context.vm_path, disk_id=disk.disk_id,
                                      change_id=f"52 3c ec 11 9e 2c 4c 3d-87 4a c3 4e 85 f2 ea 95/{disk.unit_number + 5}")
    volumes.release(job.job_id)
    context.current_status = VMContextStatus.READY_FOR_FAILOVER
    context.last_sync_at = timezone.now()
    context.last_successful_job_id = job.job_id
    context.save()
    vm = LabVM(context=context, replicas=replicas, lab=lab)
    vm.digests = vm.current_digests()
    return vm


def schema_operation(response) -> tuple[str, str]:
    """The OpenAPI path template and method of the request that got ``response`` (from the URL route)."""
    import re

    from django.urls import resolve

    request = response.wsgi_request
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", resolve(request.path_info).route), request.method.lower()


def assert_documented(response) -> dict:
    """The answer matches what the schema documents for its operation and status; its body."""
    from tests.openapi import assert_matches_schema

    assert_matches_schema(response, *schema_operation(response))
    return response.json()


def map_networks(vm: LabVM, networks: dict, *, test: str = "test-failover-net", live: str = "migration-net") -> None:
    from apps.failover.models import NetworkMapping

    for nic in vm.context.nics.all():
        NetworkMapping.objects.create(vm_context=vm.context, source_network_name=nic.network_name,
                                      destination_network_id=networks[test]["id"], destination_network_name=test,
                                      is_test_network=True)
        NetworkMapping.objects.create(vm_context=vm.context, source_network_name=nic.network_name,
                                      destination_network_id=networks[live]["id"], destination_network_name=live,
                                      is_test_network=False)


@pytest.fixture
def lab_vm(cloud, cloud_config, client, networks) -> LabVM:
    vm = make_replicated_vm(cloud, cloud_config, client)
    map_networks(vm, networks)
    return vm


def assert_back_on_control_plane(vm: LabVM, client) -> None:
    """The state before any failover: every replica on the control plane with its device, data as synced, no
    failover VM, no snapshot left."""
    from apps.replication.models import ReplicaVolume as Replica

    oma = volumes.oma_vm_id(vm.context.ossea_config, client)
    for replica in vm.replicas:
        remote = client.get_volume(replica.volume_id)
        assert remote.get("virtualmachineid") == oma, remote
        assert vm.device(replica.volume_id).exists()
        row = Replica.objects.get(pk=replica.pk)
        assert row.status == VolumeStatus.ATTACHED_TO_OMA and row.attached_vm_id == oma
    assert vm.current_digests() == vm.digests
    assert client.list_snapshots() == []
    names = {v["name"] for v in client.list_virtual_machines()}
    assert names == {"oma", "web-01"}, names
    assert {v["id"] for v in client.list_volumes()} >= {r.volume_id for r in vm.replicas}
    assert len(client.list_volumes()) == len(vm.replicas) + 2  # plus the roots of oma and web-01


def cleanup_failed_clears_cloudstack(api, vm: LabVM, client, job, capture) -> None:
    """POST cleanup-failed for the VM: the job stays failed with nothing left behind in CloudStack."""
    with capture(execute=True):
        cleaned = api.post(f"/api/v1/failover/{vm.context.vm_name}/cleanup-failed")
    assert cleaned.status_code == 200, cleaned.json()
    assert_documented(cleaned)
    job.refresh_from_db()
    assert job.status == "failed" and not job.needs_cleanup and job.cleanup_status == "completed", job.error_message
    assert_back_on_control_plane(vm, client)


def start_in_worker(vm: LabVM, failover_type: str, options: dict, errors: list):
    """The start request and, eagerly, the Celery worker running the job, in a thread the test acts beside.

    Needs a transactional test (`django_db(transaction=True)`): the thread has its own connection."""
    import threading

    from django.db import connection

    from apps.failover import services
    from apps.inventory.models import VMContext

    def work():
        try:
            services.failover_start(vm_context=VMContext.objects.get(pk=vm.context.pk), failover_type=failover_type,
                                    options=dict(options))
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def wait_for_status(status: str, errors: list, timeout: float = 30):
    """The one failover job, once it reached `status` (a worker thread's failure ends the wait)."""
    import time

    from apps.failover.models import FailoverJob

    deadline = time.monotonic() + timeout
    while not FailoverJob.objects.filter(status=status).exists():
        assert time.monotonic() < deadline and not errors, errors
        time.sleep(0.05)
    return FailoverJob.objects.get()


def rollback_between_steps(api, job, thread, errors: list) -> None:
    """POST /failover/rollback while the worker thread is in a step: the job stops after it and rolls back."""
    answer = api.post("/api/v1/failover/rollback", {"job_id": job.job_id}, format="json")
    assert answer.status_code == 200 and "stops after its current step" in assert_documented(answer)["message"]
    thread.join(60)
    assert not errors, errors
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "CANCELLED" and not job.needs_cleanup, job.error_message
    assert "destroyed VM" in job.error_message


class HttpPeer:
    """A small real HTTP server recording what it is sent (a webhook receiver, a stand-in agent API).

    `answers` maps a path to (status, JSON body), or to a function of the request body returning that, or None to
    close the connection without answering."""

    def __init__(self, answers: dict | None = None):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        self.answers = answers or {}
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                peer.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                reply = peer.answers.get(self.path, (200, {"ok": True}))
                reply = reply(body) if callable(reply) else reply
                if reply is None:  # the connection closes without an answer
                    self.close_connection = True
                    return
                status, answer = reply
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    with HttpPeer() as peer:
        yield peer


def inject_nth(lab, command: str, n: int = 1, **trouble) -> None:
    """Trouble for the n-th next call of `command`: the calls before it pass (no-op injections consume them)."""
    for _ in range(n - 1):
        lab.inject(command)
    lab.inject(command, **({"fail": True} | trouble))
