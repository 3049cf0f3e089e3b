"""Build and run the lab's vCenter simulator (govmomi's vcsim with our CBT overlay).

``Vcsim`` starts one private simulator per context: its own port (``127.0.0.1:0``), its own
datastore directory (vcsim creates datastores under ``$TMPDIR``, which we point at a private
directory) and its own credentials. It never outlives its owner: the process runs in its own
process group that is terminated on exit, an ``atexit`` hook stops whatever is still running,
and vcsim is told to exit when its stdin closes, which also covers an owner killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import selectors
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build.sh"


class VcsimError(RuntimeError):
    """vcsim failed to build or start."""


class VcsimUnavailable(VcsimError):
    """The Go toolchain or govmomi's Debian sources are missing, so vcsim cannot be built."""


def cache_dir() -> Path:
    """Where build.sh puts the binary: ``$MP_VCSIM_CACHE`` or ``lab/vcsim/bin``."""
    return Path(os.environ.get("MP_VCSIM_CACHE") or HERE / "bin")


def toolchain_available() -> bool:
    return shutil.which("go") is not None


def ensure_built() -> Path:
    """Return the vcsim binary, building it first when missing or stale.

    build.sh is cheap when the stamp matches (it only hashes the sources), so it runs every
    time Go is available: an edited overlay is picked up without anyone remembering to rebuild.
    Without Go, an already built binary is used as is.
    """
    binary = cache_dir() / "vcsim"
    if not toolchain_available():
        if binary.exists():
            return binary
        raise VcsimUnavailable("vcsim is not built and `go` is not installed (Debian package golang-go)")
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 3:
        raise VcsimUnavailable(proc.stderr.strip())
    if proc.returncode != 0:
        raise VcsimError(f"lab/vcsim/build.sh failed ({proc.returncode}):\n{proc.stderr}")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class _Endpoint:
    url: str
    host: str
    port: int
    pid: int


def _parse_govc_line(line: str) -> _Endpoint:
    # vcsim's first line: export GOVC_URL=https://user:pass@127.0.0.1:PORT/sdk GOVC_SIM_PID=123
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if "GOVC_URL" not in fields:
        raise VcsimError(f"unexpected first line from vcsim: {line!r}")
    raw = urlsplit(fields["GOVC_URL"])
    url = f"{raw.scheme}://{raw.hostname}:{raw.port}{raw.path}"
    return _Endpoint(url=url, host=raw.hostname, port=raw.port, pid=int(fields.get("GOVC_SIM_PID", "0")))


def thumbprint_of(pem: str) -> str:
    """SHA-1 of a certificate as vCenter shows thumbprints: colon-separated upper-case hex."""
    digest = hashlib.sha1(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


# Strong references: a simulator that is still running must stay reachable for _stop_all.
_running: set[Vcsim] = set()
_running_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        sims = list(_running)
    for sim in sims:
        sim.stop()


class Vcsim:
    """A running vCenter simulator.

    ``vms`` is the number of VMs vcsim's model creates in each resource pool, i.e. per
    standalone host and per cluster (``vms=1000, hosts=1`` gives 1,000 VMs). Model VMs are
    named ``DC0_H0_VM0``...; VMs made with :func:`lab.vcsim.create_vm` are usually better for
    tests since you choose their disks and networks.
    """

    def __init__(
        self,
        vms: int = 0,
        hosts: int = 1,
        *,
        clusters: int = 0,
        cluster_hosts: int = 3,
        datacenters: int = 1,
        datastores: int = 1,
        dvportgroups: int = 0,
        autostart: bool = True,
        username: str = "administrator@vsphere.local",
        password: str | None = None,
        delay_ms: int = 0,
        session_idle_timeout: float | None = None,
        trace: bool = False,
        startup_timeout: float | None = None,
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.vms = vms
        self.hosts = hosts
        self.clusters = clusters
        self.cluster_hosts = cluster_hosts
        self.datacenters = datacenters
        self.datastores = datastores
        self.dvportgroups = dvportgroups
        self.autostart = autostart
        self.username = username
        self.password = password if password is not None else secrets.token_hex(12)
        self.delay_ms = delay_ms
        self.session_idle_timeout = session_idle_timeout
        self.trace = trace
        # Model creation is sequential in vcsim: about 1.5 ms per VM here, plus slack for a busy machine.
        pools = datacenters * (hosts + clusters)
        self.startup_timeout = startup_timeout or 30.0 + 0.02 * vms * pools
        self._workdir = workdir

        self.url = ""
        self.host = ""
        self.port = 0
        self.pid = 0
        self.thumbprint = ""
        self.datacenter = "DC0"  # vcsim's model names datacenters DC0, DC1, ...
        self.tmpdir: Path | None = None
        self.datastore_dir: Path | None = None
        self.ca_file: Path | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None
        self._connections: list[object] = []
        self._stop_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, binary: Path) -> list[str]:
        return [
            str(binary),
            "-l", "127.0.0.1:0",
            "-dc", str(self.datacenters),
            "-standalone-host", str(self.hosts),
            "-cluster", str(self.clusters),
            "-host", str(self.cluster_hosts),
            "-vm", str(self.vms),
            "-ds", str(self.datastores),
            "-pg", str(self.dvportgroups),
            f"-autostart={'true' if self.autostart else 'false'}",
            "-delay", str(self.delay_ms),
            "-session-idle-timeout", f"{int((self.session_idle_timeout or 0) * 1000)}ms",
            f"-trace={'true' if self.trace else 'false'}",
            "-username", self.username,
            "-password", self.password,
            "-exit-on-stdin-eof",
        ]  # fmt: skip

    def start(self) -> Self:
        if self._proc is not None:
            raise VcsimError("this Vcsim was already started")
        binary = ensure_built()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="mp-vcsim-", dir=self._workdir))
        self.datastore_dir = self.tmpdir / "datastores"
        self.datastore_dir.mkdir()
        self.log_path = self.tmpdir / "vcsim.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, TMPDIR=str(self.datastore_dir))
        self._proc = subprocess.Popen(
            self.command(binary),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        with _running_lock:
            _running.add(self)
        try:
            line = self._read_first_line()
            endpoint = _parse_govc_line(line)
            self.url, self.host, self.port, self.pid = endpoint.url, endpoint.host, endpoint.port, endpoint.pid
            # vcsim makes a fresh self-signed certificate per run; keep it as the trust anchor.
            pem = ssl.get_server_certificate((self.host, self.port))
            self.ca_file = self.tmpdir / "vcsim-cert.pem"
            self.ca_file.write_text(pem)
            self.thumbprint = thumbprint_of(pem)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_first_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VcsimError(f"vcsim did not start within {self.startup_timeout:.0f}s; log: {self._log_tail()}")
                if not sel.select(timeout=min(remaining, 0.5)):
                    if self._proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        if b"\n" not in buf:
            raise VcsimError(f"vcsim exited during startup (rc={self._proc.poll()}): {self._log_tail()}")
        return buf.split(b"\n", 1)[0].decode()

    def _log_tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-2000:] if self.log_path else ""
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop vcsim (SIGTERM to its process group, SIGKILL after ``timeout``) and delete its files."""
        with self._stop_lock:
            if self._connections:
                from pyVim.connect import Disconnect

                for si in self._connections:
                    # Logging out is a courtesy; the server may already be gone.
                    with contextlib.suppress(Exception):
                        Disconnect(si)
            self._connections.clear()
            proc, self._proc = self._proc, None
            if proc is not None:
                self._terminate(proc, timeout)
            if self._log is not None:
                self._log.close()
                self._log = None
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
            with _running_lock:
                _running.discard(self)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
        # vcsim is the leader of its own session, so its pid is the process group id. It
        # subscribes to SIGTERM before printing its URL, so no grace period is needed here.
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            # Also reaps anything vcsim may have started in its group (it starts nothing today).
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    # -- clients ---------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context that trusts exactly this simulator's certificate."""
        if self.ca_file is None:
            raise VcsimError("vcsim is not running")
        return ssl.create_default_context(cafile=str(self.ca_file))

    def connect(self):
        """A pyVmomi ServiceInstance logged in to this simulator, over a verified TLS connection."""
        from pyVim.connect import SmartConnect

        if not self.running:
            raise VcsimError("vcsim is not running")
        si = SmartConnect(
            host=self.host,
            port=self.port,
            user=self.username,
            pwd=self.password,
            # Verify rather than disable checks: pyVmomi silently skips verification for
            # 127.0.0.1 when given no context, which would hide certificate handling bugs.
            sslContext=self.ssl_context(),
        )
        self._connections.append(si)
        return si

    def info(self) -> dict[str, object]:
        """What a client needs to reach this simulator, as JSON-friendly data."""
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "thumbprint": self.thumbprint,
            "datacenter": self.datacenter,
            "datastore_dir": str(self.datastore_dir),
            "ca_file": str(self.ca_file),
            "pid": self.pid,
        }
