"""Against a live gunicorn on its own embedded database: the login throttle holds across `make run`'s two workers
(item 2), the real agent works through the tunnel's address with the production settings (item 6), and the
database file is private (item 7)."""
from __future__ import annotations

import http.client
import os
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from agent.omaclient import OmaClient
from apps.devlab.management.commands.run_platform import web_command

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 60 + "-production-key-for-tests",
              "DJANGO_ALLOWED_HOSTS": "oma.example.com", "DJANGO_SECURE_COOKIES": "1",
              "DJANGO_SECURE_SSL_REDIRECT": "1", "DJANGO_HSTS_SECONDS": "31536000", "DJANGO_BEHIND_TLS_PROXY": "1",
              "MP_TRUSTED_PROXIES": "127.0.0.2"}


def _embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    # Not under pytest's variable: the processes take the defaults `make run` takes (the database cache).
    env = {k: v for k, v in os.environ.items()
           if k != "PYTEST_VERSION" and not k.startswith(("DJANGO_", "MP_", "CACHE_URL", "DATABASE_URL"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "MP_VAR_DIR": str(var_dir), **extra}


@pytest.fixture
def var_dir(tmp_path):
    """A migrated embedded database (its cache table too), made as `make migrate` makes it, under the usual umask."""
    path = tmp_path / "var"
    old = os.umask(0o022)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=_embedded_env(path),
                       check=True, capture_output=True, timeout=300)
    finally:
        os.umask(old)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_web(env: dict[str, str], port: int, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(web_command(f"127.0.0.1:{port}") + ["--access-logformat", "pid=%(p)s %(r)s %(s)s"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The tunnel's address is accepted with any settings.
                requests.get(f"http://localhost:{port}/health", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_embedded_database_is_private(var_dir):
    for path in var_dir.glob("db.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_database_left_readable_by_an_older_install_is_made_private(tmp_path):
    database = tmp_path / "db.sqlite3"
    database.touch(mode=0o644)
    database.chmod(0o644)
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, check=True, capture_output=True, timeout=120,
                   env=_embedded_env(tmp_path / "var", DATABASE_URL=f"sqlite:///{database}"))
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_the_login_throttle_holds_across_the_two_web_workers(var_dir, tmp_path):
    port = _free_port()
    log = tmp_path / "web.log"
    codes = []
    with live_web(_embedded_env(var_dir, MP_TUNNEL_API_PORT=str(port)), port, log):
        # Each attempt on a new connection, until both workers have answered some (their pids in the access log).
        while len(codes) < 200:
            answer = requests.post(f"http://127.0.0.1:{port}/api/v1/auth/login", timeout=10,
                                   json={"username": "nobody", "password": "wrong"},
                                   headers={"Connection": "close", "X-Forwarded-For": f"198.51.100.{len(codes)}"})
            codes.append(answer.status_code)
            pids = {line.split()[0] for line in log.read_text().splitlines()
                        if line.startswith("pid=") and "/api/v1/auth/login" in line}
            if len(codes) >= 30 and len(pids) == 2:
                break
    assert len(pids) == 2, "one worker answered every attempt"
    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}
    assert answer.json() == {"success": False, "error": "Too many requests", "details": answer.json()["details"]}


def test_the_agent_works_through_the_tunnel_with_the_production_settings(var_dir, tmp_path):
    port = _free_port()
    made = subprocess.run([sys.executable, "manage.py", "create_agent", f"vma-prod-{port}"], cwd=ROOT,
                          env=_embedded_env(var_dir), check=True, capture_output=True, text=True, timeout=120)
    identity = dict(line.split("=", 1) for line in made.stdout.split())
    env = _embedded_env(var_dir, **PRODUCTION, MP_TUNNEL_API_PORT="8082",
                        MP_OMA_URL_FOR_AGENT=f"http://localhost:{port}")
    with live_web(env, port, tmp_path / "web.log"):
        # The agent as it runs behind `vma tunnel`: its local forward is localhost:<port>, plain HTTP.
        agent = OmaClient(f"http://localhost:{port}", appliance_id=identity["appliance_id"], token=identity["token"],
                          max_attempts=1)
        agent.login()
        assert agent.get_previous_change_id("/DC0/vm/web01", "disk-0") is None
        pushed = agent.push_inventory({"vcenter": {"host": "vc.lab", "datacenter": "DC0"}, "vms": [
            {"id": "vm-42", "name": "web01", "path": "/DC0/vm/web01", "uuid": "4205a841-0265-f4bd-39a6-39fd92196f53",
             "power_state": "poweredOn", "num_cpu": 2, "memory_mb": 4096, "disks": [], "nics": []}]})
        assert pushed["success"] is True
        agent.close()

        # The exemption is that narrow: the public name over plain HTTP still goes to https ...
        plain = requests.get(f"http://127.0.0.1:{port}/api/v1/health", headers={"Host": "oma.example.com"},
                             allow_redirects=False, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"] == "https://oma.example.com/api/v1/health"
        # ... the tunnel's name relayed by a proxy (it adds X-Forwarded-*) is refused ...
        relayed = requests.get(f"http://localhost:{port}/api/v1/health", timeout=10,
                               headers={"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"})
        assert relayed.status_code == 400
        # ... and the TLS proxy, connecting from its own address, serves the public name.
        proxy = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
        proxy.request("GET", "/api/v1/health", headers={"Host": "oma.example.com", "X-Forwarded-Proto": "https",
                                                        "X-Forwarded-For": "203.0.113.5"})
        answer = proxy.getresponse()
        assert answer.status == 200 and "max-age=31536000" in answer.getheader("Strict-Transport-Security")
        proxy.close()
