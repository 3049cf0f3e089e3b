"""Which source `auto` picks, and the vddk source against nbdkit's real vddk plugin.

Debian's nbdkit has no vddk plugin; `lab/vcsim/build-dummy-vddk.sh` builds it, with nbdkit's own
VDDK test double (tests/dummy-vddk.c), from an nbdkit source tree named by MP_NBDKIT_SRC. Without
one these tests are skipped: the https source (tests/agent/test_https_source.py) is what runs here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbd
import pytest

from agent.config import AgentConfig
from agent.disksource import FileDiskSource, VddkDiskSource, make_disk_source, vddk_problem
from agent.vsphere import DiskInfo, VCenterEndpoint

REPO = Path(__file__).resolve().parents[2]
THUMB = "2C:11:ED:D7:13:87:7D:B5:74:18:B8:1C:42:C2:56:1F:0D:B9:5B:B9"


def disk(datastore: str = "ds1") -> DiskInfo:
    return DiskInfo(key=2000, id="disk-0", label="Hard disk 1", controller_key=1000, controller_type="pvscsi",
                    bus_number=0, unit_number=0, capacity_bytes=1 << 20, size_gb=0.001, datastore=datastore,
                    path=f"[{datastore}] web/web.vmdk", thin_provisioned=True, cbt_enabled=True)


def test_auto_reads_mapped_datastores_as_files_and_names_a_missing_vddk(tmp_path: Path) -> None:
    config = AgentConfig()
    config.replication.datastore_map = {"ds1": str(tmp_path)}
    # Every disk on a mapped datastore: the lab's file source, no vCenter question asked.
    assert isinstance(make_disk_source(config, None, None, "job", [disk()]), FileDiskSource)  # type: ignore[arg-type]
    assert "no lib64/libvixDiskLib.so" in (vddk_problem(str(tmp_path / "none")) or "")


@pytest.fixture(scope="module")
def dummy_vddk(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(nbdkit wrapper that loads the built vddk plugin, VDDK libdir holding the test double)."""
    source = os.environ.get("MP_NBDKIT_SRC")
    if not source:
        pytest.skip("MP_NBDKIT_SRC (an nbdkit source tree) is not set: the vddk plugin cannot be built")
    out = tmp_path_factory.mktemp("dummy-vddk")
    built = subprocess.run(["bash", str(REPO / "lab/vcsim/build-dummy-vddk.sh"), source, str(out)],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    wrapper = out / "nbdkit"
    # The agent names the plugin "vddk"; this nbdkit finds it at the built path instead of its plugin directory.
    wrapper.write_text("#!/bin/sh\nfor a; do shift; if [ \"$a\" = vddk ]; then set -- \"$@\" "
                       f"{out}/nbdkit-vddk-plugin.so; else set -- \"$@\" \"$a\"; fi; done\nexec nbdkit \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper), str(out / "vddk")


@pytest.mark.integration
def test_the_real_vddk_plugin_accepts_the_agents_arguments(dummy_vddk: tuple[str, str]) -> None:
    nbdkit, libdir = dummy_vddk
    assert vddk_problem(libdir, nbdkit) is None
    config = AgentConfig()
    config.vddk.libdir, config.replication.nbdkit = libdir, nbdkit
    # VDDK installed: `auto` takes it before asking whether the https source could read the VM.
    source = make_disk_source(config, None, None, "job", [disk()])  # type: ignore[arg-type]
    assert isinstance(source, VddkDiskSource)
    endpoint = VCenterEndpoint.parse("vc.example.com:8443", "svc@vsphere.local", "pa55-word!", thumbprint=THUMB)
    with source.open(disk=disk(), snapshot_id="snapshot-56", vm_id="vm-1234", endpoint=endpoint) as uri:
        handle = nbd.NBD()
        handle.connect_uri(uri)
        try:
            # The test double's disk: 512 KiB of zeros, served read-only.
            assert handle.get_size() == 512 * 1024 and handle.is_read_only()
            assert handle.pread(4096, 0) == bytes(4096)
        finally:
            handle.shutdown()
