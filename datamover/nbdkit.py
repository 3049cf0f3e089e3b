"""Start and stop nbdkit: the source of every copy, and the lab's targets.

:class:`NbdkitServer` runs one nbdkit in the foreground as our child, waits until
its PID file appears (nbdkit writes it once it accepts connections), exposes the
export's ``uri`` and stops it on ``stop()``/``__exit__``. Orphans are prevented
three ways: ``--exit-with-parent`` (the kernel signals nbdkit when we die, even by
SIGKILL), a finalizer for servers nobody stopped, and SIGKILL after a grace period.

Production reads VMware disks with ``nbdkit vddk`` (see :func:`vddk_server`);
the lab serves the disk's ``-flat.vmdk`` with the ``file`` plugin
(:func:`file_server`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass

log = logging.getLogger("datamover.nbdkit")

# Filters production stacks on the vddk plugin: cacheextents because VDDK's
# QueryAllocatedBlocks is slow, retry because NFC sessions drop and reopening fixes it.
VDDK_FILTERS = ("cacheextents", "retry")


class NbdkitError(RuntimeError):
    """nbdkit could not be started; the message carries the end of its log."""


def _kill(proc: subprocess.Popen, workdir: str) -> None:
    """Last-chance cleanup for a server nobody stopped (runs from the finalizer)."""
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    shutil.rmtree(workdir, ignore_errors=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _plugin_args(args: Sequence[str] | Mapping[str, object]) -> list[str]:
    if isinstance(args, Mapping):
        return [f"{key}={value}" for key, value in args.items()]
    return [str(arg) for arg in args]


@dataclass(eq=False, repr=False)  # a running process: compared by identity, its own __repr__
class NbdkitServer:
    """One nbdkit process serving one export.

    ``NbdkitServer("file", ["file=/srv/disk.img"], readonly=True)`` serves on a Unix
    socket in a private temporary directory; ``tcp=True`` serves on ``host:port``
    instead (``port=0`` picks a free port). ``filters`` are nbdkit filter names in
    stacking order (outermost first); their parameters go in ``args``.

    ``exit_with_parent`` makes the kernel stop nbdkit when the *thread* that started
    it exits: start long-lived servers from a long-lived thread, or pass False and
    rely on ``stop()``.
    """

    plugin: str
    args: Sequence[str] | Mapping[str, object] = ()
    _: KW_ONLY
    filters: Sequence[str] = ()
    readonly: bool = False
    tcp: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    export: str = ""
    threads: int | None = None
    options: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    exit_with_parent: bool = True
    nbdkit: str = "nbdkit"
    startup_timeout: float = 15.0
    stop_timeout: float = 5.0

    def __post_init__(self):
        # Copies: the caller's sequences and mappings may change after the server is made.
        self.args = _plugin_args(self.args)
        self.filters = list(self.filters)
        self.options = list(self.options)
        self.env = dict(self.env) if self.env is not None else None
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.socket_path: str | None = None
        self.log_path: str | None = None
        self._finalizer = None

    # -- public
    @property
    def uri(self) -> str:
        if self.proc is None:
            raise NbdkitError("nbdkit is not running")
        export = urllib.parse.quote(self.export, safe="")
        if self.tcp:
            return f"nbd://{self.host}:{self.port}/{export}"
        return f"nbd+unix:///{export}?socket={urllib.parse.quote(self.socket_path, safe='/')}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        """The nbdkit command line (transport options are filled in by ``start``)."""
        cmd = [self.nbdkit, "--foreground"]
        if self.exit_with_parent:
            cmd.append("--exit-with-parent")
        if self.readonly:
            cmd.append("--readonly")
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        for name in self.filters:
            cmd.append(f"--filter={name}")
        cmd += self.options
        return cmd

    def start(self) -> NbdkitServer:
        if self.proc is not None:
            raise NbdkitError("nbdkit is already started")
        if shutil.which(self.nbdkit) is None:
            raise NbdkitError(f"{self.nbdkit} is not installed (Debian package nbdkit)")
        self.workdir = tempfile.mkdtemp(prefix="nbdkit-")
        # A fixed port can only be tried once; a free port is retried if another
        # process takes it between our probe and nbdkit's bind.
        attempts = 5 if (self.tcp and self.port == 0) else 1
        fixed_port = self.port
        last_error = None
        for _ in range(attempts):
            try:
                self._start_once(fixed_port)
                return self
            except NbdkitError as exc:
                last_error = exc
                if "Address already in use" not in str(exc):
                    break
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        raise last_error

    def _start_once(self, fixed_port: int) -> None:
        pidfile = os.path.join(self.workdir, "nbdkit.pid")
        self.log_path = os.path.join(self.workdir, "nbdkit.log")
        cmd = self.command() + ["--pidfile", pidfile]
        if self.tcp:
            self.port = fixed_port or _free_port(self.host)
            cmd += ["--ipaddr", self.host, "--port", str(self.port)]
        else:
            self.socket_path = os.path.join(self.workdir, "nbd.sock")
            cmd += ["--unix", self.socket_path]
        if self.export:
            cmd += ["--exportname", self.export]
        cmd += [self.plugin] + self.args
        env = None
        if self.env is not None:
            env = {**os.environ, **self.env}
        log.debug("event=nbdkit_start plugin=%s filters=%s", self.plugin, ",".join(self.filters))
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                # Its own session: a Ctrl-C meant for us must not kill the server
                # before we have flushed and checkpointed.
                start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _kill, self.proc, self.workdir)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                message = self._log_tail()
                self._finalizer.detach()
                self.proc = None
                raise NbdkitError(f"nbdkit {self.plugin} exited during startup: {message}")
            if os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
                break
            if time.monotonic() > deadline:
                self._terminate()
                raise NbdkitError(f"nbdkit {self.plugin} was not ready after {self.startup_timeout}s: {self._log_tail()}")
            time.sleep(0.005)
        log.info("event=nbdkit_ready plugin=%s pid=%d uri=%s", self.plugin, self.proc.pid, self.uri)

    def stop(self) -> int | None:
        """Stop nbdkit (SIGTERM, then SIGKILL after ``stop_timeout``); returns its exit status."""
        if self.proc is None:
            return None
        code = self._terminate()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return code

    def kill(self) -> None:
        """SIGKILL the server without cleanup, to simulate a crash (tests, fault drills)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def log_text(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def __enter__(self) -> NbdkitServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<NbdkitServer {self.plugin} {state}>"

    # -- internals
    def _terminate(self) -> int | None:
        proc = self.proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("event=nbdkit_kill pid=%d reason=did_not_stop_on_sigterm", proc.pid)
                proc.kill()
                proc.wait()
        if self._finalizer is not None:
            self._finalizer.detach()
        self.proc = None
        return proc.returncode

    def _log_tail(self, limit: int = 2000) -> str:
        text = self.log_text().strip()
        return text[-limit:] if text else "(no output)"


def file_server(
    path: str, *, readonly: bool = False, filters: Sequence[str] = (), args: Sequence[str] = (), **kwargs
) -> NbdkitServer:
    """The lab's disk source or a sparse-file target: ``nbdkit file FILE``.

    For a source pass the VM's ``-flat.vmdk`` (raw data) with ``readonly=True``.
    """
    return NbdkitServer("file", [f"file={os.path.abspath(path)}", *args], readonly=readonly, filters=filters, **kwargs)


def vddk_args(
    *,
    server: str,
    thumbprint: str,
    user: str,
    password_file: str,
    vm_moref: str,
    snapshot_moref: str,
    disk_path: str,
    libdir: str | None = None,
    transports: str | None = None,
    port: int | None = None,
    config: str | None = None,
    compression: str | None = None,
    nfc_host_port: int | None = None,
) -> list[str]:
    """The ``nbdkit vddk`` parameters that read one disk of a VM snapshot from vCenter.

    - ``server``: vCenter host name or address (ESXi works too).
    - ``thumbprint``: SHA-1 fingerprint of its TLS certificate, ``xx:xx:...`` (20 pairs).
    - ``user`` and ``password_file``: the password is read by nbdkit from the file
      (``password=+FILE``) so it never shows in ``ps``; keep the file mode 0600.
    - ``vm_moref``: the VM's managed object id, e.g. ``vm-1234`` (a number on ESXi).
    - ``snapshot_moref``: the snapshot taken for this sync, e.g. ``snapshot-56``; VDDK
      then reads the disk as frozen by it.
    - ``disk_path``: the disk's backing file name in the snapshot, e.g.
      ``[datastore1] web01/web01.vmdk`` (``VirtualDisk.backing.fileName`` of the
      snapshot's config, not the ``-000001.vmdk`` delta the VM writes to now).
    - ``libdir``: where VMware's VDDK tarball was unpacked (ours to point at, the
      user's to install), e.g. ``/opt/vmware-vix-disklib-distrib``.
    - ``transports``: VDDK transport modes in order, e.g. ``hotadd:nbdssl``.
    """
    if not password_file:
        raise ValueError("password_file is required (passwords never go on the command line)")
    args = [
        f"server={server}",
        f"thumbprint={thumbprint}",
        f"user={user}",
        f"password=+{password_file}",
        f"vm=moref={vm_moref}",
        f"snapshot={snapshot_moref}",
    ]
    optional = {"libdir": libdir, "transports": transports, "port": port, "config": config,
                "compression": compression, "nfchostport": nfc_host_port}
    args += [f"{name}={value}" for name, value in optional.items() if value]
    args.append(f"file={disk_path}")
    return args


def vddk_server(*, filters: Sequence[str] = VDDK_FILTERS, **kwargs) -> NbdkitServer:
    """A read-only ``nbdkit vddk`` source for one snapshot disk (arguments as :func:`vddk_args`).

    Needs an nbdkit built with the vddk plugin (Debian's has none) and VMware's VDDK.
    Server options other than the VDDK parameters (``tcp``, ``startup_timeout``...) pass through.
    """
    vddk_keys = set(vddk_args.__kwdefaults__ or {}) | {
        "server", "thumbprint", "user", "password_file", "vm_moref", "snapshot_moref", "disk_path",
    }
    vddk_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in vddk_keys}
    # VDDK connects to vCenter during startup, which can take a while.
    kwargs.setdefault("startup_timeout", 120.0)
    return NbdkitServer("vddk", vddk_args(**vddk_kwargs), readonly=True, filters=filters, **kwargs)
