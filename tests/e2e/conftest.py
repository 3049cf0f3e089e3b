"""The whole stack as separate processes: vcsim, the agent, the CloudStack emulator, a real Celery worker,
and the control plane (pytest-django's live server) that the agent calls back."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.agent.vmlab import AgentProcess, datastore_map

REPO = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database this process uses, for the worker to share it."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    return f"mysql://{conf['USER']}{password}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 3306}/{conf['NAME']}"


@pytest.fixture
def vcsim():
    from lab.vcsim import Vcsim, toolchain_available

    if not toolchain_available():
        pytest.skip("vcsim cannot be built here: Go or Debian's govmomi sources are missing")
    with Vcsim() as sim:
        yield sim


class Worker:
    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log_path = env, log
        self.proc = None

    def start(self) -> "Worker":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO",
             "-Q", "celery,replication,failover,scheduler", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def stack(tmp_path, vcsim, cs_lab, cs_config, live_server, settings):
    """Everything wired together; yields a namespace with the peers and helpers."""
    from apps.enrollment.services import appliance_create
    from apps.settings.models import VMwareCredential

    si = vcsim.connect()
    appliance, token = appliance_create(appliance_id="vma-e2e")
    agent = AgentProcess({
        "VMA_STATE_DIR": str(tmp_path / "agent-state"),
        "VMA_VCENTER_THUMBPRINT": vcsim.thumbprint,
        "VMA_DATASTORE_MAP": json.dumps(datastore_map(si)),
        "VMA_OMA_URL": live_server.url, "VMA_OMA_APPLIANCE_ID": appliance.appliance_id, "VMA_OMA_TOKEN": token,
        "VMA_OMA_BACKOFF_INITIAL": "0.1", "VMA_PROGRESS_INTERVAL": "0.2", "VMA_CHECKPOINT_INTERVAL": "0.2",
    }, tmp_path / "agent.log").start()
    settings.AGENT_API_URL = agent.url
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
           "MP_AGENT_API_URL": agent.url, "MP_OMA_URL_FOR_AGENT": live_server.url,
           "MP_DEVICE_ROOT": str(cs_lab.dev_root), "MP_DEVICE_TIMEOUT": "10", "MP_CLOUDSTACK_POLL_INTERVAL": "0.05",
           "MP_VAR_DIR": str(django_settings.VAR_DIR), "CELERY_TASK_ALWAYS_EAGER": "0"}
    worker = Worker(env, tmp_path / "worker.log").start()
    VMwareCredential.objects.create(name="lab", vcenter_host=f"{vcsim.host}:{vcsim.port}", username=vcsim.username,
                                    password=vcsim.password, datacenter=vcsim.datacenter, is_default=True)

    class Stack:
        pass

    s = Stack()
    s.sim, s.si, s.agent, s.worker, s.cs, s.config, s.tmp = vcsim, si, agent, worker, cs_lab, cs_config, tmp_path
    try:
        yield s
    finally:
        s.worker.stop()  # the test may have replaced them (restarts)
        s.agent.stop()
        from apps.replication.exports import stop_export
        from apps.replication.models import VMExportMapping

        for mapping in VMExportMapping.objects.filter(status="active"):
            stop_export(mapping)


def wait_for(predicate, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")
