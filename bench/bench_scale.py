"""Many VMs at once: a machine group of 50 VMs synced by one schedule run with a limit of 10, through one Celery worker
and through two, on the embedded defaults (SQLite database and broker) and on MariaDB + Redis.

Runs in its own temporary install (SQLite: a database file and broker shared by the workers; MariaDB + Redis: a
database and a user of its own, created for the run and dropped after, and a Redis database emptied before):
gunicorn, the worker(s) and the lab (CloudStack emulator allowing enough data volumes on the control-plane VM,
vcsim, the agent). Each VM has one 64 MiB disk holding 2 MiB of random data. Per configuration a fresh lab and
database; the run is triggered with `POST /api/v1/schedules/{id}/trigger` and timed until the execution reads
completed. Platform CPU is the user + system time of gunicorn, the workers and the nbdkit exports (daemonized: found
by their recorded pids) over the run, from /proc; the agent, vcsim and the emulator are not counted. On MariaDB the
statements the platform sent are counted by the server per user (`information_schema.USER_STATISTICS`, `userstat`
switched on for the run): every statement of the bench's own user during the run, divided by the VMs synced, is the
queries per job.

    .venv/bin/python -m bench.bench_scale [--quick]
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20
TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system, and of waited-for children) of a process and every live descendant."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from field 3.
        stats[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]) / TICKS)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


BENCH_DB, BENCH_USER = "mp_bench_scale", "mp_bench_scale"
REDIS_BROKER, REDIS_CACHE = "redis://127.0.0.1:6379/13", "redis://127.0.0.1:6379/12"


def _mariadb(sql: str) -> str:
    return subprocess.run(["mysql", "-uroot", "-h127.0.0.1", "-N", "-B", "-e", sql], check=True,
                          capture_output=True, text=True).stdout


def _mariadb_backend() -> dict[str, str]:
    """A fresh database and user for the run (the user's statement counts are the platform's alone), an empty Redis
    database for the broker and one for the cache."""
    import redis

    password = os.urandom(12).hex()
    _mariadb(f"DROP DATABASE IF EXISTS {BENCH_DB}; CREATE DATABASE {BENCH_DB} CHARACTER SET utf8mb4; "
             f"DROP USER IF EXISTS '{BENCH_USER}'@'127.0.0.1'; "
             f"CREATE USER '{BENCH_USER}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
             f"GRANT ALL ON {BENCH_DB}.* TO '{BENCH_USER}'@'127.0.0.1'; "
             f"GRANT ALL ON test_{BENCH_DB}.* TO '{BENCH_USER}'@'127.0.0.1';")
    for url in (REDIS_BROKER, REDIS_CACHE):
        redis.Redis.from_url(url).flushdb()
    return {"DATABASE_URL": f"mysql://{BENCH_USER}:{password}@127.0.0.1:3306/{BENCH_DB}",
            "CELERY_BROKER_URL": REDIS_BROKER, "CACHE_URL": REDIS_CACHE}


def _mariadb_drop() -> None:
    _mariadb(f"DROP DATABASE IF EXISTS {BENCH_DB}; DROP USER IF EXISTS '{BENCH_USER}'@'127.0.0.1';")


def _statements() -> int:
    """Every statement the bench's user sent since the counters were flushed (selects, writes and the rest:
    transactions, savepoints, session settings)."""
    row = _mariadb("SELECT SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS FROM information_schema.USER_STATISTICS "
                   f"WHERE USER = '{BENCH_USER}'").strip()
    return int(row or 0)


def _measure(vm_count: int, limit: int, workers: int, var: Path, backend: str) -> dict:
    from bench.bench_replication import _free_port, _setup_django, platform_api, stop_platform

    _setup_django(var, _mariadb_backend() if backend == "mariadb" else None)

    from apps.devlab.lab import Lab
    from lab.vcsim import create_vm, flat_file_path, write_random

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    lab = Lab(var / "lab", web_url=base, guests=False,
              cloudstack_options={"max_data_volumes": vm_count + 10, "job_delay": 0.05})
    procs: list[subprocess.Popen] = []
    try:
        env = {**os.environ, **lab.start(), "MP_CLOUDSTACK_POLL_INTERVAL": "0.1",
               "MP_OMA_MAX_DATA_VOLUMES": str(vm_count + 10), "LOG_LEVEL": "WARNING"}
        if not getattr(lab, "sim", None):
            raise RuntimeError("the lab could not start (vcsim, emulator or agent)")
        names = [f"scale-{i:03d}" for i in range(vm_count)]
        for index, name in enumerate(names):
            vm = create_vm(lab.si, name, disks_mb=(64,), networks=("VM Network",))
            write_random(flat_file_path(lab.sim, vm, 0), 0, 2 * MiB, seed=index)
        logs = open(var / "processes.log", "ab")
        procs.append(subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "config.wsgi",
                                       "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
                                      cwd=REPO, env=env, stdout=logs, stderr=logs, start_new_session=True))
        for n in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-n", f"w{n}@%h",
                 "-Q", "celery,replication,scheduler", "--without-gossip", "--without-mingle"],
                cwd=REPO, env=env, stdout=logs, stderr=logs, start_new_session=True))
        api = platform_api(base, names)
        schedule = api.post(f"{base}/api/v1/schedules", json={"name": "scale", "interval_seconds": 86400,
                                                              "max_concurrent_jobs": limit, "max_retries": 0}).json()
        group = api.post(f"{base}/api/v1/machine-groups", json={"name": "scale", "schedule_id": schedule["id"]}).json()
        assigned = api.post(f"{base}/api/v1/machine-groups/{group['id']}/vms", json={"vm_names": names})
        if assigned.status_code != 200:
            raise RuntimeError(f"assign failed: {assigned.text}")
        time.sleep(2)  # let the processes settle after their start before counting CPU
        if backend == "mariadb":
            _mariadb("SET GLOBAL userstat = 1; FLUSH USER_STATISTICS;")
        cpu_before = sum(_tree_cpu(p.pid) for p in procs)
        started = time.monotonic()
        answer = api.post(f"{base}/api/v1/schedules/{schedule['id']}/trigger", json={"ignore_window": True}).json()
        execution_id = answer["execution"]["execution_id"]
        while True:
            run = api.get(f"{base}/api/v1/schedule-executions/{execution_id}").json()
            if run["status"] not in ("running", "deferred"):
                break
            if time.monotonic() - started > 3600:
                raise RuntimeError(f"the run did not finish within an hour: {run}")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        cpu = sum(_tree_cpu(p.pid) for p in procs) - cpu_before
        # Includes the bench's own polling of the run (one GET every 0.5 s), a few statements a second.
        statements = _statements() if backend == "mariadb" else None
        from apps.replication.models import VMExportMapping

        # The exports' nbdkit processes detach from the worker (they daemonize): counted by their pids, all started
        # during the run.
        cpu += sum(_tree_cpu(pid) for pid in VMExportMapping.objects.filter(status="active", pid__isnull=False)
                   .values_list("pid", flat=True))
        return {"backend": backend, "workers": workers, "seconds": elapsed, "cpu": cpu, "statements": statements,
                "status": run["status"],
                "succeeded": run["vms_succeeded"], "failed": run["vms_failed"], "skipped": run["vms_skipped"]}
    finally:
        stop_platform(procs, lab)
        if backend == "mariadb":
            _mariadb("SET GLOBAL userstat = 0;")


def _child(vm_count: int, limit: int, workers: int, backend: str) -> None:
    var = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        print("RESULT", json.dumps(_measure(vm_count, limit, workers, var, backend)), flush=True)
    finally:
        shutil.rmtree(var, ignore_errors=True)
        if backend == "mariadb":
            _mariadb_drop()


def _mariadb_reachable() -> bool:
    try:
        _mariadb("SELECT 1")
        import redis

        redis.Redis.from_url(REDIS_BROKER).ping()
    except Exception:  # noqa: BLE001 - no server, no client, refused: the configuration is left out and said so
        return False
    return True


def run(quick: bool = False) -> str:
    vm_count, limit = (12, 4) if quick else (50, 10)
    rows = []
    backends = ["sqlite"] + (["mariadb"] if _mariadb_reachable() else [])
    for backend in backends:
        for workers in (1, 2):
            # A fresh process per configuration: Django is set up once per process, on its own database.
            done = subprocess.run([sys.executable, "-m", "bench.bench_scale", "--child", str(vm_count), str(limit),
                                   str(workers), backend], cwd=REPO, capture_output=True, text=True, timeout=7200)
            line = next((raw for raw in done.stdout.splitlines() if raw.startswith("RESULT ")), None)
            if line is None:
                raise RuntimeError(f"{backend}, {workers} worker(s): {done.stdout[-2000:]}\n{done.stderr[-3000:]}")
            rows.append(json.loads(line[len("RESULT "):]))
    lines = ["## Many VMs at once (a schedule run of a machine group)", "",
             f"{vm_count} VMs (one 64 MiB disk each, 2 MiB of data) synced initially by one schedule run with "
             f"max_concurrent_jobs {limit}; control plane: gunicorn (2 x 4 threads) and Celery worker(s) with the "
             "solo pool, on a shared SQLite broker and database (the embedded defaults) and on MariaDB + Redis; "
             "agent, vcsim and CloudStack emulator on this machine. Seconds from the trigger to the run reading "
             "completed; platform CPU: gunicorn, the workers and their nbdkit exports (not the agent, vcsim or the "
             "emulator); statements per VM: every statement the platform's database user sent during the run "
             "(MariaDB's USER_STATISTICS: selects, writes, transactions and savepoints, and the bench's own polling), "
             "divided by the VMs synced.", "",
             "| database + broker | workers | VMs synced | failed | seconds | VMs/min | platform CPU s | CPU s per VM "
             "| statements per VM |",
             "|---|---|---|---|---|---|---|---|---|"]
    names = {"sqlite": "SQLite + SQLite", "mariadb": "MariaDB + Redis"}
    for row in rows:
        synced = max(row["succeeded"], 1)
        per_vm = "n/a" if row.get("statements") is None else f"{row['statements'] / synced:.0f}"
        lines.append(f"| {names[row['backend']]} | {row['workers']} | {row['succeeded']} | "
                     f"{row['failed'] + row['skipped']} | {row['seconds']:.1f} | "
                     f"{row['succeeded'] / row['seconds'] * 60:.1f} | {row['cpu']:.1f} | {row['cpu'] / synced:.2f} "
                     f"| {per_vm} |")
    if "mariadb" not in backends:
        lines += ["", "MariaDB + Redis left out: no server answered on 127.0.0.1 (3306, 6379)."]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--child" in sys.argv:
        position = sys.argv.index("--child")
        count, limit, workers, backend = sys.argv[position + 1:position + 5]
        _child(int(count), int(limit), int(workers), backend)
    else:
        print(run(quick="--quick" in sys.argv))
