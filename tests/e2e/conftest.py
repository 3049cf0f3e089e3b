"""The whole stack as separate processes: vcsim, the agent, the CloudStack emulator, a real Celery worker,
and the control plane (pytest-django's live server) that the agent calls back."""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.agent.vmlab import AgentProcess, datastore_map
from tests.enrollment import conftest as enrollment_fixtures

REPO = Path(__file__).resolve().parents[2]

# The real tunnel sshd and its files (tests/enrollment), for the replication-through-the-tunnel stack below.
tunnel_dir = enrollment_fixtures.tunnel_dir
tunnel_files = enrollment_fixtures.tunnel_files
start_tunnel_sshd = enrollment_fixtures.start_tunnel_sshd


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
    def __init__(self, env: dict[str, str], log: Path, queues: str = "celery,replication,failover,scheduler"):
        self.env, self.log_path, self.queues = env, log, queues
        self.proc = None

    def start(self) -> "Worker":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO",
             "-Q", self.queues, "--without-gossip", "--without-mingle",
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


def agent_env(state_dir: Path, vcsim, si, **oma: str) -> dict[str, str]:
    """The agent's environment in the lab: vcsim pinned, disks read from its datastore directories, quick reports."""
    return {
        "VMA_STATE_DIR": str(state_dir),
        "VMA_VCENTER_THUMBPRINT": vcsim.thumbprint,
        "VMA_DATASTORE_MAP": json.dumps(datastore_map(si)),
        **oma,
        "VMA_OMA_BACKOFF_INITIAL": "0.1", "VMA_PROGRESS_INTERVAL": "0.2", "VMA_CHECKPOINT_INTERVAL": "0.2",
    }


def worker_env(cs_lab, **extra: str) -> dict[str, str]:
    """The Celery worker's environment: the test database and broker, the emulator's device root."""
    return {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            # Marker disks, not guests (tests/conftest.py); the guest tests pass both in `extra`.
            "MP_FAILOVER_CONVERT": "0", "MP_FAILOVER_BOOT_CHECK_TIMEOUT": "0",
            **extra,
            "MP_DEVICE_ROOT": str(cs_lab.dev_root), "MP_DEVICE_TIMEOUT": "10", "MP_CLOUDSTACK_POLL_INTERVAL": "0.05",
            # The emulator listens on 127.0.0.1, as in the lab.
            "MP_CLOUDSTACK_ALLOW_LOOPBACK": "1",
            "MP_VAR_DIR": str(django_settings.VAR_DIR), "CELERY_TASK_ALWAYS_EAGER": "0"}


def add_lab_credential(vcsim) -> None:
    from apps.settings.models import VMwareCredential

    VMwareCredential.objects.create(name="lab", vcenter_host=f"{vcsim.host}:{vcsim.port}", username=vcsim.username,
                                    password=vcsim.password, datacenter=vcsim.datacenter, is_default=True)


def stop_active_exports() -> None:
    from apps.replication.exports import stop_export
    from apps.replication.models import VMExportMapping

    for mapping in VMExportMapping.objects.filter(status="active"):
        stop_export(mapping)


@pytest.fixture
def stack(tmp_path, vcsim, cs_lab, cs_config, live_server, settings, worker_extra_env):
    """Everything wired together; yields a namespace with the peers and helpers."""
    from apps.enrollment.services import appliance_create

    si = vcsim.connect()
    appliance, token = appliance_create(appliance_id="vma-e2e")
    agent = AgentProcess(agent_env(tmp_path / "agent-state", vcsim, si, VMA_OMA_URL=live_server.url,
                                   VMA_OMA_APPLIANCE_ID=appliance.appliance_id, VMA_OMA_TOKEN=token),
                         tmp_path / "agent.log").start()
    settings.AGENT_API_URL = agent.url
    env = worker_env(cs_lab, MP_AGENT_API_URL=agent.url, MP_OMA_URL_FOR_AGENT=live_server.url, **worker_extra_env)
    worker = Worker(env, tmp_path / "worker.log").start()
    add_lab_credential(vcsim)

    class Stack:
        pass

    s = Stack()
    s.sim, s.si, s.agent, s.worker, s.cs, s.config, s.tmp = vcsim, si, agent, worker, cs_lab, cs_config, tmp_path
    try:
        yield s
    finally:
        s.worker.stop()  # the test may have replaced them (restarts)
        s.agent.stop()
        stop_active_exports()


def free_port_block(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1, below the ephemeral range and at a random place so
    that concurrent runs (and the default 10809 range of other tests) do not meet."""
    rng = random.SystemRandom()
    for _ in range(500):
        base = rng.randrange(12000, 32000 - count)
        try:
            with contextlib.ExitStack() as probes:
                for port in range(base, base + count):
                    probe = probes.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


@pytest.fixture
def tunnel_stack(tmp_path, vcsim, cs_lab, cs_config, live_server, settings, start_tunnel_sshd, admin_client_api):
    """The production topology on one host. The agent is enrolled with `vma enroll` and approved by an admin, so its
    restricted key line is in the keys file a real sshd (render_sshd_config) reads; `vma tunnel` keeps the one ssh
    connection. The worker knows no agent address and no export address of its own: it reaches the agent at the
    appliance's reverse port and hands out exports at the agent's local forwards. On one host the agent's forwards
    cannot bind the export ports themselves (nbdkit holds them), so `vma tunnel --nbd-local-offset` moves them and
    MP_AGENT_NBD_PORT_OFFSET tells the control plane (handed the bare export port, the agent would reach nbdkit
    directly, around the tunnel: the test checks it was not)."""
    from agent.tunnel import tunnel_status
    from apps.enrollment import sshd
    from tests.enrollment.test_tunnel_e2e import start_enroll

    settings.MP_ENROLL_RESULT_THROTTLE_RATE = "1000/min"
    export_base, agent_base = free_port_block(4), free_port_block(4)
    while abs(agent_base - export_base) < 4:  # the agent's forwards must not land on the exports' ports
        agent_base = free_port_block(4)
    export_ports = list(range(export_base, export_base + 4))
    settings.MP_NBD_PORT_RANGE = (export_ports[0], export_ports[-1])
    reverse_port, api_local = sshd.free_port(), sshd.free_port()
    while api_local == reverse_port:  # one at a time, the kernel may hand the same free port out twice
        api_local = sshd.free_port()
    lab = start_tunnel_sshd(api_port=int(live_server.url.rsplit(":", 1)[1]), nbd_ports=export_ports,
                            reverse_ports=[reverse_port])
    logs = [tmp_path / name for name in ("worker.log", "agent.log", "tunnel.log", "enroll.log")] + [lab.sshd.log_path]

    # Enrollment: `vma enroll` proves its key and waits; the administrator approves.
    code = admin_client_api.post("/api/v1/admin/vma/pairing-code", {"label": "e2e"}, format="json").json()
    state = tmp_path / "vma"
    enroll = start_enroll(live_server.url, code["pairing_code"], state, name="tunnel-e2e")

    def proven():
        pending = admin_client_api.get("/api/v1/admin/vma/pending").json()["enrollments"]
        return pending[0]["id"] if pending and pending[0]["key_verified"] else None

    try:
        enrollment_id = wait_for(proven, 60, "`vma enroll` to enroll and prove its key")
        approved = admin_client_api.post(f"/api/v1/admin/vma/approve/{enrollment_id}", {}, format="json")
        assert approved.status_code == 200, approved.json()
        out, err = enroll.communicate(timeout=120)
    finally:
        if enroll.poll() is None:
            enroll.kill()
            out, err = enroll.communicate()
        (tmp_path / "enroll.log").write_text(f"{out}\n{err}")
    assert enroll.returncode == 0, err
    enrolled = json.loads((state / "enrollment.json").read_text())

    si = vcsim.connect()
    tunnel_log = open(tmp_path / "tunnel.log", "ab")
    s = SimpleNamespace(sim=vcsim, si=si, cs=cs_lab, config=cs_config, tmp=tmp_path, logs=logs, lab=lab, state=state,
                        appliance_id=enrolled["appliance_id"], export_ports=export_ports,
                        nbd_offset=agent_base - export_base, reverse_port=reverse_port, api_local=api_local,
                        agent=None, tunnel=None, worker=None)
    try:
        # The agent talks to the control plane only at its end of the tunnel, with the credentials it was given.
        s.agent = AgentProcess(agent_env(state, vcsim, si, VMA_OMA_URL=f"http://127.0.0.1:{api_local}",
                                         VMA_OMA_APPLIANCE_ID=s.appliance_id,
                                         VMA_OMA_TOKEN_FILE=str(state / "oma-token")),
                               tmp_path / "agent.log").start()
        agent_port = int(s.agent.url.rsplit(":", 1)[1])
        s.tunnel = subprocess.Popen(
            [sys.executable, "-m", "agent.tunnel", "--state-dir", str(state), "--api-local-port", str(api_local),
             "--agent-api-port", str(agent_port), "--nbd-local-offset", str(s.nbd_offset)],
            cwd=REPO, stdout=tunnel_log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: tunnel_status(state).get("state") == "connected" and tunnel_status(state).get("api_reachable"),
                 90, "`vma tunnel` to connect and reach the API through its forward", logs)
        # The worker gets no MP_AGENT_API_URL: it finds the agent at the approved appliance's reverse port.
        env = worker_env(cs_lab, MP_OMA_URL_FOR_AGENT=f"http://127.0.0.1:{api_local}",
                         MP_NBD_PORT_RANGE=f"{export_ports[0]}-{export_ports[-1]}",
                         MP_AGENT_NBD_PORT_OFFSET=str(s.nbd_offset))
        env.pop("MP_AGENT_API_URL", None)
        env.pop("MP_TUNNEL_NBD_PORTS", None)  # derived from MP_NBD_PORT_RANGE, as in a default deployment
        s.worker = Worker(env, tmp_path / "worker.log").start()
        add_lab_credential(vcsim)
        yield s
    finally:
        if s.worker:
            s.worker.stop()
        if s.tunnel and s.tunnel.poll() is None:
            s.tunnel.terminate()
            try:
                s.tunnel.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(s.tunnel.pid, signal.SIGKILL)
                s.tunnel.wait()
        tunnel_log.close()
        if s.agent:
            s.agent.stop()
        stop_active_exports()


def wait_for(predicate, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")
