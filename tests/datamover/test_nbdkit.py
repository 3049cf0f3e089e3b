"""The nbdkit process manager: readiness, URIs, clean stops, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import nbd
import pytest

from datamover.nbdkit import NbdkitError, NbdkitServer, file_server, vddk_args, vddk_server

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def _size(uri: str) -> int:
    h = nbd.NBD()
    h.connect_uri(uri)
    return h.get_size()


def test_unix_socket_server_is_ready_when_started_and_gone_when_stopped():
    server = NbdkitServer("memory", ["size=1M"])
    with server:
        assert server.uri.startswith("nbd+unix:///?socket=")
        assert _size(server.uri) == 1024 * 1024  # ready: no retry loop needed
        pid, workdir = server.pid, server.workdir
    assert not _alive(pid)
    assert not os.path.exists(workdir)
    assert server.stop() is None  # stopping twice is harmless


def test_tcp_server_gets_a_free_port_and_an_export_name():
    with NbdkitServer("memory", {"size": "2M"}, tcp=True, export="disk-1") as server:
        assert server.port > 0
        assert server.uri == f"nbd://127.0.0.1:{server.port}/disk-1"
        assert _size(server.uri) == 2 * 1024 * 1024


def test_two_tcp_servers_do_not_collide():
    with NbdkitServer("memory", ["1M"], tcp=True) as a, NbdkitServer("memory", ["1M"], tcp=True) as b:
        assert a.port != b.port
        assert _size(a.uri) == _size(b.uri)


def test_readonly_file_server_refuses_writes(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(b"\x00" * 65536)
    with file_server(str(path), readonly=True) as server:
        h = nbd.NBD()
        h.connect_uri(server.uri)
        assert h.is_read_only()
        with pytest.raises(nbd.Error):
            h.pwrite(b"x" * 512, 0)


def test_startup_failure_reports_nbdkit_message(tmp_path):
    server = file_server(str(tmp_path / "missing.img"))
    with pytest.raises(NbdkitError, match="exited during startup.*missing.img"):
        server.start()
    assert server.pid is None


def test_unknown_plugin_fails_fast():
    with pytest.raises(NbdkitError, match="exited during startup"):
        NbdkitServer("no-such-plugin-here").start()


def test_a_server_that_ignores_sigterm_is_killed(tmp_path, caplog):
    # The delay filter makes the shutdown wait on a slow request; a short stop timeout forces SIGKILL.
    server = NbdkitServer("memory", ["size=1M", "delay-read=30"], filters=["delay"], stop_timeout=0.5).start()
    h = nbd.NBD()
    h.connect_uri(server.uri)
    h.aio_pread(nbd.Buffer(512), 0)
    h.poll(100)
    pid = server.pid
    started = time.monotonic()
    server.stop()
    assert not _alive(pid)
    assert time.monotonic() - started < 5
    assert "event=nbdkit_kill" in caplog.text


def test_no_orphan_when_the_parent_is_killed(tmp_path):
    """SIGKILL the process that started nbdkit: --exit-with-parent takes nbdkit down too."""
    script = (
        "import sys, time\n"
        "from datamover.nbdkit import NbdkitServer\n"
        "s = NbdkitServer('memory', ['size=1M']).start()\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=repo)
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        assert _wait_gone(pid), "nbdkit survived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_vddk_arguments_keep_the_password_off_the_command_line():
    args = vddk_args(
        server="vcenter.example.com",
        thumbprint="AA:" * 19 + "AA",
        user="administrator@vsphere.local",
        password_file="/run/secrets/vcenter",
        vm_moref="vm-1234",
        snapshot_moref="snapshot-56",
        disk_path="[datastore1] web01/web01.vmdk",
        libdir="/opt/vmware-vix-disklib-distrib",
        transports="hotadd:nbdssl",
    )
    assert args[:6] == [
        "server=vcenter.example.com",
        "thumbprint=" + "AA:" * 19 + "AA",
        "user=administrator@vsphere.local",
        "password=+/run/secrets/vcenter",
        "vm=moref=vm-1234",
        "snapshot=snapshot-56",
    ]
    assert "libdir=/opt/vmware-vix-disklib-distrib" in args and "transports=hotadd:nbdssl" in args
    assert args[-1] == "file=[datastore1] web01/web01.vmdk"

    server = vddk_server(
        server="vc", thumbprint="t", user="u", password_file="/p", vm_moref="vm-1",
        snapshot_moref="snapshot-2", disk_path="[ds] a/a.vmdk", tcp=True,
    )
    command = server.command()
    assert "--readonly" in command and "--exit-with-parent" in command
    assert "--filter=cacheextents" in command and "--filter=retry" in command
    assert server.plugin == "vddk" and server.tcp and server.startup_timeout == 120.0
    with pytest.raises(ValueError, match="password_file"):
        vddk_args(server="vc", thumbprint="t", user="u", password_file="", vm_moref="v",
                  snapshot_moref="s", disk_path="d")
