"""Fault drills on the real stack: kill processes at chosen steps, and look for what they left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.e2e.conftest import REPO, Worker, wait_for

# Short enough that a takeover happens within seconds; the lease thread renews every third of it.
LEASE = "3"


def kill_worker(worker: Worker, how: str) -> None:
    """`sigkill`: kill -9 the worker's group. `sigterm`: how run_platform stops it, SIGTERM then SIGKILL after a
    grace period too short for the step under way to finish."""
    if how == "sigterm":
        os.killpg(worker.proc.pid, signal.SIGTERM)
        try:
            worker.proc.wait(timeout=4)
        except Exception:  # noqa: BLE001 - still running: the grace period is over
            pass
    if worker.proc.poll() is None:
        os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    worker._log.close()


def restart_worker(stack, name: str, **env: str) -> Worker:
    stack.worker = Worker({**stack.worker.env, "MP_REPLICATION_RUNNER_LEASE": LEASE, **env},
                          stack.tmp / f"{name}.log").start()
    return stack.worker


def nbdkit_exports() -> dict[int, str]:
    """Every running nbdkit serving a replica export (the control plane's kind: `--exportname migration-vm-...`)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if state == "Z" or not argv or not argv[0].endswith(b"nbdkit") or b"--exportname" not in argv:
            continue
        name = argv[argv.index(b"--exportname") + 1].decode()
        if name.startswith("migration-vm-"):
            found[int(entry.name)] = name
    return found


def assert_no_unrecorded_nbdkit(vm_ids: list[str]) -> None:
    """Every nbdkit serving one of these VMs is an active export the records name (pid and export name)."""
    from apps.replication.models import VMExportMapping

    ours = {pid: name for pid, name in nbdkit_exports().items()
            if any(name.startswith(f"migration-vm-{vm_id}-disk") for vm_id in vm_ids)}
    recorded = dict(VMExportMapping.objects.filter(status="active", vm_id__in=vm_ids).values_list("pid", "export_name"))
    assert ours == recorded, f"nbdkit running {ours}, recorded {recorded}"


def wait_status(job_id: str, statuses: tuple[str, ...], timeout: float, logs=()):
    from apps.replication.models import ReplicationJob

    return wait_for(lambda: ReplicationJob.objects.filter(job_id=job_id, status__in=statuses).first(), timeout,
                    f"job {job_id} to be {'/'.join(statuses)}", logs)


class Web:
    """gunicorn as `make run` starts it, on the test database, on a port it keeps across restarts."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.env, self.port, self.log_path = env, port, log
        self.proc = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> "Web":
        from apps.devlab.management.commands.run_platform import web_command

        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in kill()/stop()
        self.proc = subprocess.Popen(web_command(f"127.0.0.1:{self.port}"), cwd=REPO, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            try:
                return requests.get(f"{self.url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
                return False

        wait_for(up, 60, "gunicorn to answer", [self.log_path])
        return self

    def kill(self) -> None:
        """SIGKILL the whole group: master and workers vanish without a word."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self._log.closed:
            self._log.close()


class PreforkWorker(Worker):
    """`make run`'s worker: a prefork pool of four processes, so four runners provision at the same moment."""

    def start(self) -> "PreforkWorker":
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "4",
             "--loglevel", "INFO", "-Q", "celery,replication,failover,scheduler", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self
