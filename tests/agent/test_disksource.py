"""Disk sources: datastore path mapping (lab) and the nbdkit vddk command line (production)."""

from __future__ import annotations

import os
from pathlib import Path

import nbd
import pytest

from agent.disksource import DiskSourceError, FileDiskSource, VddkDiskSource, flat_path
from agent.vsphere import DiskInfo, VCenterEndpoint

THUMB = "2C:11:ED:D7:13:87:7D:B5:74:18:B8:1C:42:C2:56:1F:0D:B9:5B:B9"


def disk(path: str, capacity: int = 1 << 20) -> DiskInfo:
    return DiskInfo(key=2000, id="disk-0", label="Hard disk 1", controller_key=1000, controller_type="pvscsi",
                    bus_number=0, unit_number=0, capacity_bytes=capacity, size_gb=0.001, datastore="ds1",
                    path=path, thin_provisioned=True, cbt_enabled=True)


def endpoint(thumbprint: str = THUMB, port: int = 443) -> VCenterEndpoint:
    return VCenterEndpoint.parse(f"vc.example.com:{port}", "svc@vsphere.local", "pa55-word!", thumbprint=thumbprint)


def test_flat_path_mapping() -> None:
    mapping = {"ds1": "/srv/ds1", "ds 2": "/srv/two"}
    assert flat_path("[ds1] web/web.vmdk", mapping) == Path("/srv/ds1/web/web-flat.vmdk")
    assert flat_path("[ds 2] a b/a b_1.vmdk", mapping) == Path("/srv/two/a b/a b_1-flat.vmdk")
    with pytest.raises(DiskSourceError, match="VMA_DATASTORE_MAP"):
        flat_path("[other] x/x.vmdk", mapping)
    with pytest.raises(DiskSourceError, match="outside its datastore"):
        flat_path("[ds1] ../../etc/shadow.vmdk", mapping)
    with pytest.raises(DiskSourceError, match="names no datastore"):
        flat_path("x/x.vmdk", mapping)


def test_file_source_serves_the_flat_file_read_only(tmp_path: Path) -> None:
    (tmp_path / "vm").mkdir()
    data = os.urandom(1 << 20)
    (tmp_path / "vm" / "vm-flat.vmdk").write_bytes(data)
    source = FileDiskSource({"ds1": str(tmp_path)})
    with source.open(disk=disk("[ds1] vm/vm.vmdk"), snapshot_id="snapshot-1", vm_id="vm-1",
                     endpoint=endpoint()) as uri:
        handle = nbd.NBD()
        handle.connect_uri(uri)
        try:
            assert handle.get_size() == len(data)
            assert handle.is_read_only()
            assert handle.pread(4096, 8192) == data[8192:12288]
        finally:
            handle.shutdown()
    with pytest.raises(DiskSourceError, match="not found"):
        with source.open(disk=disk("[ds1] vm/missing.vmdk"), snapshot_id="s", vm_id="v", endpoint=endpoint()):
            pass


def test_vddk_command_line_keeps_the_password_off_it(tmp_path: Path) -> None:
    source = VddkDiskSource("/opt/vmware-vix-disklib-distrib", "hotadd:nbdssl", "/etc/vma/vddk.conf",
                            nbdkit="/usr/local/bin/nbdkit")
    password_file = tmp_path / "pw"
    server = source.server(disk=disk("[ds1] web/web.vmdk"), snapshot_id="snapshot-56", vm_id="vm-1234",
                           endpoint=endpoint(port=8443), password_file=str(password_file))
    command = server.command() + [server.plugin, *server.args]
    assert command[0] == "/usr/local/bin/nbdkit" and "--readonly" in command
    assert "--filter=cacheextents" in command and "--filter=retry" in command
    args = server.args
    assert "server=vc.example.com" in args and "port=8443" in args
    assert f"password=+{password_file}" in args
    assert "vm=moref=vm-1234" in args and "snapshot=snapshot-56" in args
    assert "file=[ds1] web/web.vmdk" in args
    assert f"thumbprint={THUMB}" in args
    assert "libdir=/opt/vmware-vix-disklib-distrib" in args and "transports=hotadd:nbdssl" in args
    assert "config=/etc/vma/vddk.conf" in args
    assert not any("pa55-word!" in part for part in command)


def test_vddk_needs_a_sha1_thumbprint(tmp_path: Path) -> None:
    source = VddkDiskSource("/opt/vddk")
    with pytest.raises(DiskSourceError, match="SHA-1"):
        source.server(disk=disk("[ds1] a/a.vmdk"), snapshot_id="s", vm_id="v",
                      endpoint=endpoint(thumbprint="ab" * 32), password_file=str(tmp_path / "pw"))
    with pytest.raises(DiskSourceError, match="thumbprint"):
        source.server(disk=disk("[ds1] a/a.vmdk"), snapshot_id="s", vm_id="v",
                      endpoint=VCenterEndpoint.parse("vc", "u", "p"), password_file=str(tmp_path / "pw"))


def test_vddk_start_failure_is_reported_and_password_file_removed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Debian's nbdkit has no vddk plugin: the real start fails, which is the error path production sees
    # when nbdkit-vddk or VDDK is missing.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    source = VddkDiskSource(str(tmp_path / "no-vddk"))
    with pytest.raises(DiskSourceError, match="nbdkit vddk could not start"):
        with source.open(disk=disk("[ds1] a/a.vmdk"), snapshot_id="snapshot-1", vm_id="vm-1", endpoint=endpoint()):
            pass
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("vma-vddk-")]
