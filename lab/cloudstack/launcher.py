"""Start the emulator as a separate process and talk to its side channel (tests, `make run`)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


class LabStartError(RuntimeError):
    pass


@dataclass
class LabCloudStack:
    """A running emulator process and what a client needs to reach it."""

    state_dir: Path
    options: dict
    process: subprocess.Popen | None = None
    info: dict = field(default_factory=dict)

    # -- what the first stdout line told us ---------------------------------------------------

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def api_key(self) -> str:
        return self.info["api_key"]

    @property
    def secret_key(self) -> str:
        return self.info["secret_key"]

    @property
    def user_api_key(self) -> str:
        """The plain user account's keys (the admin's are api_key/secret_key)."""
        return self.info["user_api_key"]

    @property
    def user_secret_key(self) -> str:
        return self.info["user_secret_key"]

    @property
    def port(self) -> int:
        return int(self.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    @property
    def lab_root(self) -> Path:
        return Path(self.info["lab_root"])

    @property
    def dev_root(self) -> Path:
        """What production calls /dev: the client finds devices at <dev_root>/disk/by-id/."""
        return self.lab_root / "dev"

    def volume_file(self, volume_id: str) -> Path:
        """A volume's backing file (LabState.volume_file): what a test writes to stands for what a guest wrote."""
        return self.state_dir / "volumes" / f"{volume_id}.img"

    @property
    def oma_vm_id(self) -> str:
        return self.info["oma_vm_id"]

    @property
    def admin_url(self) -> str:
        return self.info["admin_url"]

    @property
    def log_path(self) -> Path:
        return self.state_dir / "emulator.log"

    # -- lifecycle ----------------------------------------------------------------------------

    def command_line(self, port: int = 0) -> list[str]:
        args = [sys.executable, "-m", "lab.cloudstack", "--port", str(port), "--state", str(self.state_dir)]
        for key, value in self.options.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                value = ",".join(value)
            args += [f"--{key.replace('_', '-')}", str(value)]
        return args

    def start(self, port: int = 0) -> LabCloudStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command_line(port), stdout=subprocess.PIPE,
                                            stderr=log, cwd=REPO_ROOT, env=env)
        line = self._first_line()
        self.process.stdout.close()  # the emulator writes nothing more there
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise LabStartError(f"emulator's first line is not JSON: {line[:200]!r}") from None
        return self

    def _first_line(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        fd = self.process.stdout.fileno()
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.stop()
                raise LabStartError(f"CloudStack emulator did not start; see {self.log_path}:\n"
                                    + self.log_path.read_text()[-2000:])
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.process.stdout.closed:
            self.process.stdout.close()
        self.process = None

    def restart(self, *, same_port: bool = False) -> LabCloudStack:
        """Stop and start again on the same state directory (on the same port if asked, else a new one)."""
        port = self.port if same_port else 0
        self.stop()
        return self.start(port)

    def kill(self) -> None:
        """SIGKILL, as a crashed management server: no state saved on the way out, running jobs lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()

    # -- side channel -------------------------------------------------------------------------

    def _admin(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def inject(self, command: str, *, delay: float = 0.0, fail: bool = False,
               errortext: str = "Injected failure", errorcode: int = 530,
               count: int | None = 1, reset: bool = False) -> list[dict]:
        """Trouble for the next `count` calls of `command` (None: until clear_injections()).

        Async commands: `delay` lengthens the job, `fail` ends it with jobstatus 2 and
        `errortext`. Sync commands: the answer is delayed, or is HTTP `errorcode`.
        `reset` drops the connection without an answer (a connection error for the client).
        """
        spec = {"command": command, "delay": delay, "fail": fail, "errortext": errortext,
                "errorcode": errorcode, "count": count, "reset": reset}
        return self._admin("POST", "/inject", spec)["injections"]

    def injections(self) -> list[dict]:
        return self._admin("GET", "/inject")["injections"]

    def clear_injections(self) -> None:
        self._admin("DELETE", "/inject")

    def leave_stuck(self, vm_id: str, *, state: str = "Starting", since: str | None = None) -> dict:
        """Leave a VM in a transitional state, as a management server that died during its job does."""
        return self._admin("POST", f"/vms/{vm_id}/stuck", {"state": state, "since": since})

    def set_workload(self, vm_id: str, **figures) -> dict:
        """What a record-only VM's guest does, reported as its statistics in listVirtualMachines while it runs:
        cpu_percent, memory_used_mb, network_kbs_read/write, disk_kbs_read/write, disk_io_read/write (totals).
        No figures clears it."""
        return self._admin("POST", f"/vms/{vm_id}/workload", figures)["workload"]

    def guests(self) -> list[dict]:
        """The VMs running as QEMU processes (emulator started with run_guests=True)."""
        return self._admin("GET", "/guests")["guests"]

    def guest(self, vm_id: str) -> dict:
        """One guest: pid, accelerator, ssh host/port, serial log path, running, QEMU command."""
        return self._admin("GET", f"/guests/{vm_id}")

    def serial_log(self, vm_id: str, tail: int | None = None) -> str:
        return self._admin("GET", f"/guests/{vm_id}/serial" + (f"?tail={tail}" if tail else ""))["serial"]


def start(state_dir: str | Path, **options) -> LabCloudStack:
    """Start an emulator; options are the CLI's long flags with underscores (oma_vm_macs=[...]).

    The caller owns the process: call .stop().
    """
    return LabCloudStack(Path(state_dir), options).start()


@contextmanager
def launch(state_dir: str | Path, **options) -> Iterator[LabCloudStack]:
    lab = start(state_dir, **options)
    try:
        yield lab
    finally:
        lab.stop()
