"""The simulator process: build cache, start-up, endpoints, credentials, clean shutdown."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyVim.connect import SmartConnect
from pyVmomi import vim, vmodl

from lab.vcsim import Vcsim, cache_dir, find_datacenter

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
LAB = REPO / "lab" / "vcsim"


def process_gone(pid: int) -> bool:
    """True once pid has exited (a zombie left for a non-reaping init counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return process_gone(pid)


def test_endpoint_attributes(sim):
    assert sim.url == f"https://127.0.0.1:{sim.port}/sdk"
    assert sim.host == "127.0.0.1" and sim.port > 0
    assert sim.datacenter == "DC0"
    pem = ssl.get_server_certificate((sim.host, sim.port))
    sha1 = hashlib.sha1(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    assert sim.thumbprint.replace(":", "") == sha1
    assert len(sim.thumbprint.split(":")) == 20
    # Datastores are directories inside the private datastore directory.
    si = sim.connect()
    [ds] = find_datacenter(si, sim.datacenter).datastore
    assert Path(ds.info.url).parent == sim.datastore_dir
    assert si.content.about.apiType == "VirtualCenter"


def test_credentials_are_checked(sim):
    with pytest.raises(vim.fault.InvalidLogin):
        SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password + "x",
                     disableSslCertValidation=True)  # fmt: skip
    with pytest.raises(vim.fault.InvalidLogin):
        SmartConnect(host=sim.host, port=sim.port, user="root", pwd=sim.password, disableSslCertValidation=True)


def test_tls_certificate_is_per_run_and_verifiable(sim, vcsim_binary, tmp_path):
    # connect() verifies the chain and the host name (127.0.0.1) against sim.ca_file.
    assert sim.connect().content.about.instanceUuid
    assert sim.ca_file.read_text() == ssl.get_server_certificate((sim.host, sim.port))
    # An ordinary verifying client does not trust it: it is self-signed, like a fresh vCenter's.
    with pytest.raises(ssl.SSLCertVerificationError):
        SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password,
                     sslContext=ssl.create_default_context())  # fmt: skip
    # Each run has its own key, so thumbprints identify a simulator instance.
    with Vcsim(workdir=tmp_path) as other:
        assert other.thumbprint != sim.thumbprint
        with pytest.raises(ssl.SSLCertVerificationError):
            SmartConnect(host=other.host, port=other.port, user=other.username, pwd=other.password,
                         sslContext=sim.ssl_context())  # fmt: skip


def test_idle_sessions_expire_when_asked(vcsim_binary, tmp_path):
    # For exercising a client's re-login path; by default sessions never expire.
    with Vcsim(session_idle_timeout=0.5, workdir=tmp_path) as s:
        si = s.connect()
        assert si.content.sessionManager.currentSession.userName == s.username
        time.sleep(1.5)
        with pytest.raises(vim.fault.NotAuthenticated):
            si.content.sessionManager.currentSession  # noqa: B018 - the property read is the call
        assert s.connect().content.sessionManager.currentSession is not None


def test_stop_leaves_nothing_behind(vcsim_binary, tmp_path):
    with Vcsim(workdir=tmp_path) as s:
        pid, tmpdir = s.pid, s.tmpdir
        assert s.running and not process_gone(pid)
        assert any(s.datastore_dir.iterdir())
        s.connect()
    assert wait_gone(pid, timeout=0.5)  # stop() waits for the exit
    assert not tmpdir.exists()
    assert list(tmp_path.iterdir()) == []


def test_owner_killed_with_sigkill_takes_vcsim_down(vcsim_binary, tmp_path):
    # The owner dies without running any cleanup; vcsim must notice (its stdin closes) and exit,
    # removing its datastore directories on the way out.
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from lab.vcsim import Vcsim
        s = Vcsim(workdir={str(tmp_path)!r}).start()
        print(s.pid, s.datastore_dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=False, stdout=subprocess.PIPE, text=True, timeout=120
    )
    assert out.returncode == -signal.SIGKILL
    pid, datastore_dir = out.stdout.split()
    assert wait_gone(int(pid))
    assert Path(datastore_dir).exists() and list(Path(datastore_dir).iterdir()) == []


def test_cli_prints_connection_json_and_stops_on_sigterm(vcsim_binary):
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.vcsim", "--vms", "3", "--password", "s3cret"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["password"] == "s3cret"
        assert info["url"] == f"https://127.0.0.1:{info['port']}/sdk"
        si = SmartConnect(host=info["host"], port=info["port"], user=info["username"], pwd=info["password"],
                          thumbprint=info["thumbprint"], disableSslCertValidation=True)  # fmt: skip
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        assert sorted(vm.name for vm in view.view) == ["DC0_H0_VM0", "DC0_H0_VM1", "DC0_H0_VM2"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_gone(info["pid"])
    assert not Path(info["datastore_dir"]).exists()


@pytest.mark.slow
def test_a_thousand_vms_for_discovery(vcsim_binary):
    started = time.monotonic()
    with Vcsim(vms=1000, hosts=1) as s:
        startup = time.monotonic() - started
        si = s.connect()
        # What a discovery does: one container view, one RetrieveContents for a few properties.
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        pc = si.content.propertyCollector
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[vmodl.query.PropertyCollector.TraversalSpec(type=vim.view.ContainerView, path="view")],
                )
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(
                    type=vim.VirtualMachine, pathSet=["name", "config.hardware.device", "runtime.powerState"]
                )
            ],
        )
        t0 = time.monotonic()
        contents = pc.RetrieveContents([spec])
        retrieve = time.monotonic() - t0
    assert len(contents) == 1000
    assert len({c.obj for c in contents}) == 1000
    powered = {p.val for c in contents for p in c.propSet if p.name == "runtime.powerState"}
    assert powered == {"poweredOn"}
    print(f"1000 VMs: startup {startup:.1f}s, RetrieveContents {retrieve:.1f}s")
    assert startup < 60


@pytest.mark.slow
def test_build_is_cached_and_follows_overlay_changes(vcsim_binary, tmp_path):
    # A copy of lab/vcsim with its own cache: editing an overlay source must trigger a rebuild,
    # an unchanged tree must not. The Go build cache is shared to keep this quick.
    lab = tmp_path / "vcsim"
    shutil.copytree(LAB, lab, ignore=shutil.ignore_patterns("bin", "gopath", "__pycache__"))
    env = dict(os.environ, MP_VCSIM_CACHE=str(tmp_path / "cache"), GOCACHE=str(cache_dir() / "go-build"))

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(lab / "build.sh")], check=False, env=env, capture_output=True, text=True, timeout=600
        )

    first = build()
    assert first.returncode == 0, first.stderr
    binary = Path(first.stdout.strip())
    assert binary == tmp_path / "cache" / "vcsim" and os.access(binary, os.X_OK)
    assert "compiling" in first.stderr
    mtime = binary.stat().st_mtime_ns

    again = build()
    assert again.returncode == 0 and again.stdout == first.stdout
    assert "compiling" not in again.stderr
    assert binary.stat().st_mtime_ns == mtime

    with open(lab / "go" / "simulator" / "lab_disk.go", "a") as f:
        f.write("\n// an edit that must invalidate the stamp\n")
    rebuilt = build()
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "compiling" in rebuilt.stderr
    assert binary.stat().st_mtime_ns != mtime

    # A patch that no longer applies fails the build loudly instead of building stock vcsim.
    (lab / "patches" / "9999-broken.patch").write_text(
        "--- a/simulator/snapshot.go\n+++ b/simulator/snapshot.go\n@@ -1,1 +1,1 @@\n-no such line\n+x\n"
    )
    broken = build()
    assert broken.returncode != 0
    assert "9999-broken.patch does not apply" in broken.stderr
