"""The https disk source: nbdkit curl over vCenter's datastore file service (vcsim's /folder).

The agent here runs with no datastore map at all, so it has no file access to the datastores:
every byte it copies comes over HTTPS from vcsim, authenticated by its session cookie and
with curl trusting only the certificate that matched the pinned thumbprint.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pyVmomi import vim

from agent.disksource import DiskSourceError, HttpsDiskSource, folder_url
from agent.vsphere import DatastoreLocation, VCenterEndpoint, pinned_certificate_pem
from agent.vsphere.backing import flat_read_refusals
from datamover.nbdkit import NbdkitServer, file_server
from lab.vcsim import CBT_BLOCK_SIZE, write_random
from tests.agent.conftest import agent_env
from tests.agent.test_replication import progress_of, replicate, wait_job
from tests.agent.vmlab import (
    AgentProcess,
    FakeControlPlane,
    MiB,
    VmSpec,
    create_vm,
    flat_file,
    snapshot_names,
    vm_disks,
    wait_task,
)

Target = Callable[[str, int], tuple[Path, NbdkitServer]]

THUMB = "2C:11:ED:D7:13:87:7D:B5:74:18:B8:1C:42:C2:56:1F:0D:B9:5B:B9"
Disk = vim.vm.device.VirtualDisk


def flat_disk(key: int, file_name: str, parent: Any = None, label: str = "Hard disk 1") -> Any:
    return Disk(key=key, deviceInfo=vim.Description(label=label, summary=""),
                backing=Disk.FlatVer2BackingInfo(fileName=file_name, diskMode="persistent", parent=parent))


# -- which VMs qualify (no vCenter needed) ----------------------------------------------------


def test_a_base_flat_disk_with_no_older_snapshot_qualifies() -> None:
    devices = [flat_disk(2000, "[ds1] vm/vm.vmdk"), flat_disk(2001, "[ds1] vm/vm_1.vmdk", label="Hard disk 2")]
    assert flat_read_refusals(devices, [], [2000, 2001], {"ds1": "VMFS"}, "vma-job") == []
    # The sync's own snapshot, left by an interrupted attempt, is allowed: its state is the delta's parent.
    delta = flat_disk(2000, "[ds1] vm/vm-000001.vmdk", parent=Disk.FlatVer2BackingInfo(fileName="[ds1] vm/vm.vmdk"))
    assert flat_read_refusals([delta], ["vma-job"], [2000], {"ds1": "NFS"}, "vma-job") == []


def test_what_needs_vddk_is_named() -> None:
    sparse = Disk(key=2001, deviceInfo=vim.Description(label="Hard disk 2", summary=""),
                  backing=Disk.SeSparseBackingInfo(fileName="[ds1] vm/vm_1.vmdk"))
    linked = flat_disk(2002, "[ds1] vm/vm-000001.vmdk", label="Hard disk 3",
                       parent=Disk.FlatVer2BackingInfo(fileName="[ds1] base/base.vmdk"))
    on_vsan = flat_disk(2003, "[vsanDatastore] vm/vm_3.vmdk", label="Hard disk 4")
    untouched = flat_disk(2004, "[ds1] other/other.vmdk", parent=Disk.FlatVer2BackingInfo(fileName="x"))
    reasons = flat_read_refusals([sparse, linked, on_vsan, untouched], ["before-upgrade"], [2001, 2002, 2003],
                                 {"ds1": "VMFS", "vsanDatastore": "vsan"}, "vma-job")
    assert reasons == [
        "the VM has snapshot 'before-upgrade', older than the sync's: its base disks hold that snapshot's state, "
        "not the current one",
        "Hard disk 2 has a SeSparse backing, not a flat VMDK",
        "Hard disk 3 is a delta disk on [ds1] base/base.vmdk (a linked clone or an older snapshot)",
        "Hard disk 4 is on vSAN datastore vsanDatastore, which keeps no flat file",
    ]


def test_folder_url_names_the_flat_extent() -> None:
    endpoint = VCenterEndpoint.parse("vc.example.com:8443", "u", "p")
    locations = {"ds 1": DatastoreLocation("ds 1", "VMFS", "Prod/DC 1")}
    assert folder_url(endpoint, "[ds 1] web 01/web 01_1.vmdk", locations) == (
        "https://vc.example.com:8443/folder/web%2001/web%2001_1-flat.vmdk?dcPath=Prod%2FDC%201&dsName=ds%201")
    with pytest.raises(DiskSourceError, match="not one of the VM's datastores"):
        folder_url(endpoint, "[other] a/a.vmdk", locations)
    with pytest.raises(DiskSourceError, match="outside its datastore"):
        folder_url(endpoint, "[ds 1] ../../etc/shadow.vmdk", locations)


def test_the_cookie_stays_off_the_command_line(tmp_path: Path) -> None:
    source = HttpsDiskSource(session=None, locations={}, nbdkit="/usr/bin/nbdkit")  # type: ignore[arg-type]
    server = source.server(url="https://vc/folder/a-flat.vmdk?dcPath=DC&dsName=ds", cookie_file="/run/c",
                           cainfo="/run/ca.pem", extentlist="/run/extents")
    command = server.command() + [server.plugin, *server.args]
    assert "--readonly" in command and "--filter=extentlist" in command and "--filter=retry" in command
    assert "cookie=+/run/c" in command and "cainfo=/run/ca.pem" in command and "extentlist=/run/extents" in command
    # The cookie would follow a redirect anywhere, and must never go out in clear text.
    assert "followlocation=false" in command and "protocols=https" in command
    assert not any("vmware_soap_session" in part for part in command)


# -- against vcsim ------------------------------------------------------------------------------


@pytest.mark.integration
def test_vcsim_serves_datastore_files_only_to_a_session(sim: Any, si: Any) -> None:
    vm = create_vm(si, VmSpec("https-folder", disks_mb=[4]))
    flat = flat_file(si, vm_disks(vm)[0].backing.fileName)
    data = write_random(flat, 100_000, 5000, seed=1)
    url = f"https://{sim.host}:{sim.port}/folder/https-folder/https-folder-flat.vmdk?dcPath=DC0&dsName=" \
          f"{vm.datastore[0].name}"
    with requests.Session() as http:
        assert http.get(url, verify=sim.ca_file, timeout=10).status_code == 401
        assert http.get(url, cookies={"vmware_soap_session": "not-a-session"}, verify=sim.ca_file,
                        timeout=10).status_code == 401
        cookie = si._stub.cookie.split(";")[0].split("=", 1)[1].strip('"')
        ranged = http.get(url, cookies={"vmware_soap_session": cookie}, headers={"Range": "bytes=100000-104999"},
                          verify=sim.ca_file, timeout=10)
    assert ranged.status_code == 206 and ranged.content == data


@pytest.mark.integration
def test_a_wrong_pin_is_refused_before_curl_runs(sim: Any) -> None:
    good = VCenterEndpoint.parse(f"{sim.host}:{sim.port}", "u", "p", thumbprint=sim.thumbprint)
    assert ssl.PEM_cert_to_DER_cert(pinned_certificate_pem(good)) == ssl.PEM_cert_to_DER_cert(
        Path(sim.ca_file).read_text())
    bad = VCenterEndpoint.parse(f"{sim.host}:{sim.port}", "u", "p", thumbprint=THUMB)
    with pytest.raises(ssl.SSLError, match="pinned thumbprint"):
        pinned_certificate_pem(bad)


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[Target]:
    """nbdkit file servers over sparse files: the replication targets."""
    servers: list[NbdkitServer] = []

    def start(name: str, size: int) -> tuple[Path, NbdkitServer]:
        path = tmp_path / name
        with open(path, "wb") as fh:
            fh.truncate(size)
        servers.append(file_server(str(path)).start())
        return path, servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def https_agent(sim: Any, si: Any, control_plane: FakeControlPlane,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """The agent with no datastore map: it cannot read a datastore file, only ask vCenter for it."""
    root = tmp_path_factory.mktemp("https-agent")
    env = agent_env(sim, si, root / "state", control_plane)
    del env["VMA_DATASTORE_MAP"]
    # VDDK's default place, empty here: `auto` must find no VDDK and pick https.
    env["VMA_VDDK_LIBDIR"] = str(root / "no-vddk")
    proc = AgentProcess(env, root / "agent.log").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.integration
def test_initial_and_incremental_sync_over_https(https_agent: AgentProcess, vcenter: dict, si: Any,
                                                 control_plane: FakeControlPlane, target: Target) -> None:
    vm = create_vm(si, VmSpec("https-01", disks_mb=[16, 8]))
    d0, d1 = vm_disks(vm)
    flat0, flat1 = flat_file(si, d0.backing.fileName), flat_file(si, d1.backing.fileName)
    write_random(flat0, 0, 300_000, seed=10)
    write_random(flat0, 9 * MiB, 2 * MiB, seed=11)
    write_random(flat1, 5 * MiB + 7, 4096, seed=12)
    t0, s0 = target("h0.img", 16 * MiB)
    t1, s1 = target("h1.img", 8 * MiB)
    disks = [{"disk_id": "disk-0", "target": {"nbd_uri": s0.uri}}, {"disk_id": "disk-1", "target": {"nbd_uri": s1.uri}}]

    replicate(https_agent.url, vcenter, "https-initial", "/DC0/vm/https-01", disks, control_plane, "initial")
    status = wait_job(https_agent.url, "https-initial")
    assert status["status"] == "completed", status
    assert t0.read_bytes() == flat0.read_bytes() and t1.read_bytes() == flat1.read_bytes()
    progress = progress_of(https_agent.url, "https-initial")
    assert [d["source"] for d in progress["disks"]] == ["https", "https"]
    assert control_plane.progress["https-initial"][-1]["disks"][0]["source"] == "https"
    # The extent list from QueryChangedDiskAreas('*'): only allocated blocks were read, the rest zeroed.
    allocated = 5 * CBT_BLOCK_SIZE + 2 * MiB
    assert progress["disks"][0]["bytes_copied"] == allocated, progress["disks"][0]

    write_random(flat0, 4 * CBT_BLOCK_SIZE + 100, 10, seed=20)
    write_random(flat0, 200 * CBT_BLOCK_SIZE, CBT_BLOCK_SIZE, seed=21)
    replicate(https_agent.url, vcenter, "https-incr", "/DC0/vm/https-01", disks, control_plane)
    status = wait_job(https_agent.url, "https-incr")
    assert status["status"] == "completed" and status["sync_type"] == "incremental", status
    assert t0.read_bytes() == flat0.read_bytes() and t1.read_bytes() == flat1.read_bytes()
    per_disk = {d["disk_id"]: d for d in progress_of(https_agent.url, "https-incr")["disks"]}
    # Only the two changed blocks were read over HTTPS; disk 1 did not change.
    assert per_disk["disk-0"]["bytes_total"] == 2 * CBT_BLOCK_SIZE
    assert per_disk["disk-0"]["bytes_copied"] + per_disk["disk-0"]["bytes_zeroed"] == 2 * CBT_BLOCK_SIZE
    assert per_disk["disk-1"]["bytes_total"] == 0 and per_disk["disk-1"]["source"] == "https"
    assert snapshot_names(vm) == []
    log = https_agent.log_path.read_text()
    assert "plugin=curl" in log and "plugin=file" not in log
    cookie = si._stub.cookie  # the test's own session is not the agent's, but no session cookie is ever logged
    assert "vmware_soap_session" not in log and cookie not in log


@pytest.mark.integration
def test_a_vm_with_an_older_snapshot_needs_vddk(https_agent: AgentProcess, vcenter: dict, si: Any,
                                                control_plane: FakeControlPlane, target: Target) -> None:
    vm = create_vm(si, VmSpec("https-02", disks_mb=[4]))
    wait_task(vm.CreateSnapshot_Task(name="before-upgrade", memory=False, quiesce=False))
    _, server = target("h2.img", 4 * MiB)
    disks = [{"disk_id": "disk-0", "target": {"nbd_uri": server.uri}}]
    replicate(https_agent.url, vcenter, "https-refused", "/DC0/vm/https-02", disks, control_plane, "initial")
    status = wait_job(https_agent.url, "https-refused")
    assert status["status"] == "failed"
    assert "needs VDDK" in status["error"] and "'before-upgrade'" in status["error"], status["error"]
    assert control_plane.progress["https-refused"][-1]["error"] == status["error"]
    # Refused before anything changed on the VM: no snapshot of the sync, CBT left off.
    assert snapshot_names(vm) == ["before-upgrade"]
    assert not vm.config.changeTrackingEnabled
