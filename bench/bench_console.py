"""How long the console's dashboard takes with 10,000 VMs and 100 running syncs, and how many SQL queries it makes.

The measurement runs in a child process with its own temporary install (SQLite file, Celery's in-memory broker), so
it never touches the developer's database. Real parts: the whole request through Django's middleware, the admin
site's login check and the dashboard's template, as an operator's browser (or its htmx poll) asks for it.

    .venv/bin/python -m bench.bench_console [--quick]

Set BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306 to measure on MariaDB too (a scratch database is created and
dropped).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_scheduler import _mysql_scratch

REPO = Path(__file__).resolve().parents[1]
STATES = ("discovered", "replicating", "ready_for_failover", "test_failover", "failed_over", "failed")


def _setup(var: Path, database_url: str) -> None:
    os.environ.update({"MP_VAR_DIR": str(var), "DATABASE_URL": database_url, "CELERY_BROKER_URL": "memory://",
                       "CACHE_URL": "", "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING"})
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(vms: int, running: int) -> None:
    from django.utils import timezone

    from apps.enrollment.models import Appliance
    from apps.failover.models import FailoverJob
    from apps.inventory.models import VMContext
    from apps.replication.models import ReplicationJob
    from apps.settings.models import OsseaConfig

    config = OsseaConfig.objects.create(name="bench-cloud", api_url="http://127.0.0.1:1/client/api", api_key="k",
                                        secret_key="s", zone="zone1")
    VMContext.objects.bulk_create([
        VMContext(context_id=f"ctx-{i:05d}", vm_name=f"vm-{i:05d}", vm_id=f"uuid-{i:05d}", vm_path=f"/DC0/vm/vm-{i:05d}",
                  vcenter_host="vcenter.lab", datacenter="DC0", ossea_config=config,
                  current_status="replicating" if i < running else STATES[i % len(STATES)])
        for i in range(vms)], batch_size=1000)
    contexts = list(VMContext.objects.order_by("pk")[:running + 20])
    now = timezone.now()
    disks = [{"disk_id": "disk-2000", "progress_percent": 40.0, "bytes_total": 100 * 1024 ** 3,
              "bytes_transferred": 40 * 1024 ** 3, "status": "running"}]
    ReplicationJob.objects.bulk_create([
        ReplicationJob(job_id=f"job-{i:05d}", vm_context=vm, ossea_config=config, replication_type="incremental",
                       status="replicating", active_slot=vm.pk, progress_percent=40.0, bytes_total=100 * 1024 ** 3,
                       bytes_transferred=40 * 1024 ** 3, throughput_mbps=80.0, eta_seconds=900, started_at=now,
                       current_operation="Copying disk-2000", disk_progress=disks)
        for i, vm in enumerate(contexts[:running])])
    ReplicationJob.objects.bulk_create([
        ReplicationJob(job_id=f"failed-{i:05d}", vm_context=vm, ossea_config=config, replication_type="initial",
                       status="failed", error_message="the agent reported a failure", started_at=now, completed_at=now)
        for i, vm in enumerate(contexts[running:])])
    FailoverJob.objects.bulk_create([
        FailoverJob(job_id=f"test-failover-{i}", vm_context=vm, job_type="test", status="failed",
                    error_message="no test network mapping") for i, vm in enumerate(contexts[running:])])
    Appliance.objects.bulk_create([Appliance(appliance_id=f"vma-{i}", status="approved", last_seen_at=now)
                                   for i in range(5)])


def _child(vms: int, running: int, repeats: int, database_url: str) -> dict:
    var = Path(tempfile.mkdtemp(prefix="bench-console-"))
    try:
        if not database_url:
            database_url = f"sqlite:///{var / 'bench.sqlite3'}"
        _setup(var, database_url)
        from django.contrib.auth import get_user_model
        from django.db import connection, reset_queries
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        _fill(vms, running)
        client = Client()
        client.force_login(get_user_model().objects.create_superuser("bench", password="Bench-pass-123"))
        results = {}
        for name, headers in (("page", {}), ("htmx poll", {"HTTP_HX_REQUEST": "true"})):
            client.get("/console/", **headers)  # warm: templates compiled, connection open
            timings, counts = [], []
            for _ in range(repeats):
                reset_queries()
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    answer = client.get("/console/", **headers)
                    timings.append(time.perf_counter() - started)
                assert answer.status_code == 200 and b"Running syncs" in answer.content
                counts.append(len(queries))
            results[name] = {"ms": statistics.median(timings) * 1000, "max_ms": max(timings) * 1000,
                             "queries": max(counts), "bytes": len(answer.content)}
        return {"vendor": connection.vendor, "vms": vms, "running": running, "repeats": repeats, "results": results}
    finally:
        shutil.rmtree(var, ignore_errors=True)


def _run_child(vms: int, running: int, repeats: int, database_url: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL", "MP_"))}
    command = [sys.executable, "-m", "bench.bench_console", "--child", json.dumps(
        {"vms": vms, "running": running, "repeats": repeats, "database_url": database_url})]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout)
                           else f"exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> str:
    """Markdown section: the dashboard with 10,000 VMs and 100 running syncs (a tenth of that when quick)."""
    vms, running, repeats = (1000, 100, 5) if quick else (10_000, 100, 20)
    lines = ["## Console: the dashboard with 10,000 VMs and 100 running syncs", ""]
    try:
        results = [_run_child(vms, running, repeats)]
        mysql = os.environ.get("BENCH_MYSQL_URL")
        if mysql:
            server, name, url = _mysql_scratch(mysql)
            try:
                results.append(_run_child(vms, running, repeats, url))
            finally:
                server.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
                server.close()
    except Exception as exc:  # noqa: BLE001 - a bench reports why it could not run instead of failing the report
        lines.append(f"Not measured: {type(exc).__name__}: {exc}")
        return "\n".join(lines) + "\n"
    lines += [
        (f"`GET /console/` as a logged-in operator with {vms:,} VMs (spread over every state), {running} running syncs, "
         "20 failed syncs and failovers and 5 agents: the whole request through the middleware, the admin's login "
         "check and the template; \"htmx poll\" is the same request from the page's 3-second poll, answered with "
         f"the dashboard panel alone. Median and slowest of {repeats} requests, on a 2-core machine shared with "
         "other work."),
        "",
        "| database | request | median (ms) | slowest (ms) | SQL queries | answer size |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for name, row in result["results"].items():
            lines.append(f"| {result['vendor']} | {name} | {row['ms']:.0f} | {row['max_ms']:.0f} | {row['queries']} | "
                         f"{row['bytes'] / 1024:.0f} KiB |")
    lines += ["", ("The number of queries does not grow with the VMs or the jobs: the states are one `GROUP BY`, the "
                   "running syncs one query with their VM joined (at most 100 shown), failures, agents, CloudStack "
                   "configurations and schedules one each. `tests/console/test_pages.py` holds the count under 30 "
                   "with `django_assert_max_num_queries`."), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        options = json.loads(sys.argv[2])
        print(json.dumps(_child(options["vms"], options["running"], options["repeats"], options["database_url"])))
    else:
        print(run(quick="--quick" in sys.argv))
