"""Issue 14 item 7: under `make run` (manage.py run_platform) a child that dies is started again after a backoff;
the others keep running, and the group still stops as a whole on SIGTERM."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import REPO, database_url, free_port_block, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


def _children(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The parent pid is the 4th field after the command name in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def _child(pid: int, marker: str) -> int | None:
    return next((child for child, cmd in _children(pid).items() if marker in cmd), None)


def test_a_dead_child_is_started_again_and_the_rest_keep_running(tmp_path, settings):
    port = free_port_block(1)
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "MP_VAR_DIR": str(tmp_path / "var"), "CELERY_TASK_ALWAYS_EAGER": "0"}
    log = open(tmp_path / "platform.log", "wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "run_platform", "--no-lab", "--bind", f"127.0.0.1:{port}"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    logs = [tmp_path / "platform.log"]
    group: set[int] = set()
    try:
        worker = wait_for(lambda: _child(proc.pid, "celery -A config worker"), 60, "the worker child", logs)
        web = wait_for(lambda: _child(proc.pid, "gunicorn"), 60, "the web child", logs)
        wait_for(lambda: _health(port), 60, "the web to answer", logs)
        os.kill(worker, signal.SIGKILL)
        restarted = wait_for(lambda: (pid := _child(proc.pid, "celery -A config worker")) and pid != worker and pid,
                             30, "the worker to be started again", logs)
        assert restarted != worker
        assert proc.poll() is None, "the group stopped"
        assert _child(proc.pid, "gunicorn") == web and _health(port)
        assert "worker exited with -9; starting it again in 1 s" in (tmp_path / "platform.log").read_text()
        group = set(_children(proc.pid))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    assert proc.returncode == 0
    assert group and not [pid for pid in group if Path(f"/proc/{pid}").exists()], "children left running"


def _health(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
