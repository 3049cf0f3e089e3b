"""Issue 14 item 4: NBD ports are locked in the database before nbdkit binds, so exports started at once by several
worker processes never share a port; a port held outside our records is skipped; a worker dying between nbdkit's
start and recording its pid leaves an export the next sync still finds (no nbdkit unrecorded)."""
import multiprocessing
import socket

import nbd
import pytest
from django.db import connections

from apps.replication import exports
from apps.replication.models import VMExportMapping
from tests.e2e.conftest import free_port_block
from tests.e2e.faults import nbdkit_exports

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

PROCESSES, PER_PROCESS = 4, 3


@pytest.fixture
def devices(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    paths = []
    for n in range(PROCESSES * PER_PROCESS):
        path = tmp_path / f"disk{n}.img"
        with open(path, "wb") as handle:
            handle.truncate(1024 * 1024 * (n + 1))  # each its own size: the export answering is the right one
        paths.append(str(path))
    yield paths
    for mapping in VMExportMapping.objects.filter(status="active"):
        exports.stop_export(mapping)


def _export_size(port: int, name: str) -> int:
    handle = nbd.NBD()
    handle.set_export_name(name)
    handle.connect_tcp("127.0.0.1", str(port))
    try:
        return handle.get_size()
    finally:
        handle.shutdown()


def _start_exports(barrier, first: int, paths: list[str], results) -> None:
    connections.close_all()  # a forked child opens its own database connection
    barrier.wait()
    for n, path in enumerate(paths, start=first):
        info = exports.ensure_export(vm_id=f"vm-port-{n}", vm_name=f"port{n}", disk_unit=0, device_path=path)
        results.put((n, info.mapping.port))
    connections.close_all()


def test_exports_started_at_once_by_four_processes_take_distinct_ports(devices, settings):
    exports_base = free_port_block(PROCESSES * PER_PROCESS + 4)
    settings.MP_NBD_PORT_RANGE = (exports_base, exports_base + PROCESSES * PER_PROCESS + 3)
    settings.MP_TUNNEL_NBD_PORTS = "{}-{}".format(*settings.MP_NBD_PORT_RANGE)
    # Someone else's program holds the first port: it is not ours to record, and is skipped.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", exports_base))
    squatter.listen()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    connections.close_all()
    children = [context.Process(target=_start_exports,
                                args=(barrier, p * PER_PROCESS, devices[p * PER_PROCESS:(p + 1) * PER_PROCESS], results))
                for p in range(PROCESSES)]
    for child in children:
        child.start()
    got = dict(results.get(timeout=120) for _ in range(PROCESSES * PER_PROCESS))
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    squatter.close()
    assert len(set(got.values())) == len(got) == PROCESSES * PER_PROCESS, got
    assert exports_base not in got.values()
    for n, port in got.items():
        mapping = VMExportMapping.objects.get(vm_id=f"vm-port-{n}")
        assert mapping.status == "active" and mapping.active_port == port and mapping.pid
        # The nbdkit on that port is this disk's (its own size), not another export's that got there first.
        assert _export_size(port, mapping.export_name) == 1024 * 1024 * (n + 1)
    recorded = dict(VMExportMapping.objects.filter(status="active").values_list("pid", "export_name"))
    running = {pid: name for pid, name in nbdkit_exports().items() if name.startswith("migration-vm-vm-port-")}
    assert running == recorded


def test_an_export_whose_pid_was_never_recorded_is_found_and_stopped(devices, settings):
    info = exports.ensure_export(vm_id="vm-lost-pid", vm_name="lost", disk_unit=0, device_path=devices[0])
    pid = info.mapping.pid
    # The worker died after nbdkit started and before it wrote the pid down.
    VMExportMapping.objects.filter(pk=info.mapping.pk).update(pid=None)
    again = exports.ensure_export(vm_id="vm-lost-pid", vm_name="lost", disk_unit=0, device_path=devices[0])
    assert again.reused and again.mapping.pid == pid
    VMExportMapping.objects.filter(pk=info.mapping.pk).update(pid=None)
    exports.stop_export(VMExportMapping.objects.get(pk=info.mapping.pk))
    assert pid not in nbdkit_exports()
    mapping = VMExportMapping.objects.get(pk=info.mapping.pk)
    assert mapping.status == "inactive" and mapping.active_port is None


def test_a_stale_pid_file_naming_another_process_is_not_trusted(devices, settings):
    import subprocess

    info = exports.ensure_export(vm_id="vm-stale-pid", vm_name="stale", disk_unit=0, device_path=devices[0])
    exports.stop_export(info.mapping)
    # The nbdkit is gone, its pid file names a pid the kernel gave to something else since.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (settings.VAR_DIR / "exports" / f"{info.mapping.export_name}.pid").write_text(str(bystander.pid))
        VMExportMapping.objects.filter(pk=info.mapping.pk).update(status="active", active_port=None, pid=None)
        exports.stop_export(VMExportMapping.objects.get(pk=info.mapping.pk))
        assert bystander.poll() is None, "stop_export killed a process that is not the export's nbdkit"
    finally:
        bystander.kill()
        bystander.wait()
