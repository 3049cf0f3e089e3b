"""Replication through the whole stack vs the datamover alone on the same disks (the orchestration overhead).

Runs in its own temporary install (SQLite, SQLite broker): gunicorn + a Celery worker + the lab (CloudStack
emulator, vcsim, agent). A VM with two 1 GiB disks holding 256 MiB of random data each is synced initially, then
5% of its data blocks change and it is synced incrementally. The same copies are then made by `datamover.copy`
alone between nbdkit servers over the same files.

    .venv/bin/python -m bench.bench_replication [--quick]
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20
BLOCK = 64 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _setup_django(var: Path, backend: dict[str, str] | None = None) -> None:
    """Django on a database of the bench's own: a SQLite file under `var` with the SQLite broker, unless `backend`
    names others (DATABASE_URL, CELERY_BROKER_URL, CACHE_URL)."""
    os.environ["MP_VAR_DIR"] = str(var)
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        os.environ.pop(key, None)
    os.environ.update(backend or {"DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}"})
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _wait_http(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def platform_api(base: str, vm_names: list[str]):
    """Once the platform answers: an API session of a new superuser, with `vm_names` added from vCenter."""
    import requests
    from django.contrib.auth import get_user_model

    _wait_http(f"{base}/health")
    get_user_model().objects.create_superuser("bench", password="bench-password-1")
    api = requests.Session()
    token = api.post(f"{base}/api/v1/auth/login", json={"username": "bench", "password": "bench-password-1"}).json()
    api.headers["Authorization"] = f"Bearer {token['session_token']}"
    added = api.post(f"{base}/api/v1/discovery/add-vms", json={"vm_names": vm_names})
    if added.status_code != 201:
        raise RuntimeError(f"add-vms failed: {added.text}")
    return api


def _sync(api, base: str, vm: str, kind: str, timeout: float = 600) -> tuple[float, dict]:
    started = time.monotonic()
    job_id = api.post(f"{base}/api/v1/replications", json={"vm_name": vm, "replication_type": kind}).json()["job_id"]
    while time.monotonic() - started < timeout:
        job = api.get(f"{base}/api/v1/replications/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            if job["status"] != "completed":
                raise RuntimeError(f"{kind} sync {job['status']}: {job['error_message']}")
            return time.monotonic() - started, job
        time.sleep(0.1)
    raise RuntimeError(f"{kind} sync timed out")


def _datamover_alone(flats: list[Path], extents: list[list[tuple[int, int]]] | None, work: Path) -> float:
    """Copy the same disks (or the same changed extents) with datamover alone between nbdkit servers."""
    import datamover
    from datamover.nbdkit import file_server

    elapsed = 0.0
    for index, flat in enumerate(flats):
        target = work / f"alone-{index}.img"
        if extents is None:
            target.unlink(missing_ok=True)
            with open(target, "wb") as handle:
                handle.truncate(flat.stat().st_size)
        with file_server(str(flat), readonly=True) as src, file_server(str(target)) as dst:
            started = time.monotonic()
            datamover.copy(src.uri, dst.uri, None if extents is None else extents[index])
            elapsed += time.monotonic() - started
    return elapsed


def stop_platform(procs: list[subprocess.Popen], lab) -> None:
    """Stop the platform's processes, then its NBD exports, then the lab."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if lab is not None:
        try:
            from apps.replication.exports import stop_export
            from apps.replication.models import VMExportMapping

            for mapping in VMExportMapping.objects.filter(status="active"):
                stop_export(mapping)
        finally:
            lab.stop()


def run(quick: bool = False) -> str:
    data_mib = 64 if quick else 256
    var = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    procs: list[subprocess.Popen] = []
    lab = None
    try:
        _setup_django(var)
        from apps.devlab.lab import Lab
        from lab.vcsim import create_vm, flat_file_path, write_random

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        lab = Lab(var / "lab", web_url=base, guests=False)
        env = {**os.environ, **lab.start(), "MP_CLOUDSTACK_POLL_INTERVAL": "0.05"}
        if not getattr(lab, "sim", None):
            return "## Replication through the whole stack\n\nSkipped: the lab could not start (vcsim, emulator or agent).\n"
        vm = create_vm(lab.si, "bench-vm", disks_mb=(1024, 1024), networks=("VM Network",))
        flats = [flat_file_path(lab.sim, vm, i) for i in range(2)]
        rng = random.Random(7)
        for i, flat in enumerate(flats):
            for n in range(data_mib // 16):
                write_random(flat, n * 32 * MiB, 16 * MiB, seed=i * 1000 + n)  # data, then a 16 MiB hole
        logs = open(var / "processes.log", "ab")
        procs.append(subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "config.wsgi",
                                       "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
                                      cwd=REPO, env=env, stdout=logs, stderr=logs, start_new_session=True))
        procs.append(subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                                       "-Q", "celery,replication", "--without-gossip", "--without-mingle"],
                                      cwd=REPO, env=env, stdout=logs, stderr=logs, start_new_session=True))
        api = platform_api(base, ["bench-vm"])

        data_bytes = 2 * data_mib * MiB
        full_s, full_job = _sync(api, base, "bench-vm", "initial")
        # 5% of the data blocks change, scattered.
        changes: list[list[tuple[int, int]]] = [[], []]
        for i, flat in enumerate(flats):
            blocks = sorted(rng.sample(range(data_mib * MiB // BLOCK * 2), k=int(data_mib * MiB // BLOCK * 0.05)))
            for b in blocks:
                offset = (b // (16 * MiB // BLOCK)) * 32 * MiB + (b % (16 * MiB // BLOCK)) * BLOCK
                write_random(flat, offset, BLOCK, seed=b)
                changes[i].append((offset, BLOCK))
        changed_bytes = sum(length for disk in changes for _, length in disk)
        incr_s, incr_job = _sync(api, base, "bench-vm", "incremental")

        alone_full = _datamover_alone(flats, None, var)
        alone_incr = _datamover_alone(flats, changes, var)
        rows = [
            ("initial (full) sync", data_bytes, full_s, alone_full),
            ("incremental sync (5% of data blocks)", changed_bytes, incr_s, alone_incr),
        ]
        lines = ["## Replication through the whole stack vs the datamover alone", "",
                 f"VM with 2 x 1 GiB disks, {data_mib} MiB of random data each (rest holes); control plane (gunicorn, "
                 "Celery worker, SQLite), agent, vcsim and CloudStack emulator on this machine, NBD over loopback. "
                 "Stack time runs from `POST /api/v1/replications` to the job reading `completed` (volume "
                 "provisioning on the first sync, snapshot, CBT query, copy, change ids, snapshot removal); "
                 "the datamover alone copies the same bytes between nbdkit servers.", "",
                 "| sync | data bytes | stack s | stack MiB/s | datamover alone s | alone MiB/s | overhead (stack/alone) |",
                 "|---|---|---|---|---|---|---|"]
        for name, nbytes, stack_s, alone_s in rows:
            lines.append(f"| {name} | {nbytes / MiB:.0f} MiB | {stack_s:.2f} | {nbytes / MiB / stack_s:.0f} | "
                         f"{alone_s:.2f} | {nbytes / MiB / alone_s:.0f} | {stack_s / alone_s:.1f}x |")
        lines += ["", f"Job counters: initial moved {full_job['bytes_transferred'] / MiB:.0f} MiB in scope, incremental "
                  f"{incr_job['bytes_transferred'] / MiB:.2f} MiB (changed: {changed_bytes / MiB:.2f} MiB).", ""]
        return "\n".join(lines)
    finally:
        stop_platform(procs, lab)
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
