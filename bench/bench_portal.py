"""How long the operations portal's collector takes to read a CloudStack of 5,000 VMs and 10,000 volumes, and how
many SQL queries it makes; then how a dashboard answers over that collection.

The CloudStack is the lab emulator (the real wire protocol, paged lists through our client), its state written
directly with the VMs (4 accounts, running and stopped, spread over the hosts) and a root and a data volume each.
The measurement runs in a child process with its own temporary install (SQLite file), so it never touches the
developer's database.

    .venv/bin/python -m bench.bench_portal [--quick]
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GiB = 1024**3


def _grow(state_file: Path, vms: int) -> None:
    """Add `vms` VMs (copies of the lab's web-01) with a root and a data volume each, owned by four accounts."""
    state = json.loads(state_file.read_text())
    template_vm = next(v for v in state["vms"].values() if v["name"] == "web-01")
    root = next(v for v in state["volumes"].values() if v.get("virtualmachineid") == template_vm["id"])
    domain = next(iter(state["domains"].values()))
    for index in range(4):
        account_id = str(uuid.uuid4())
        state["accounts"][account_id] = {"id": account_id, "name": f"tenant-{index}", "accounttype": 0,
                                         "roletype": "User", "domainid": domain["id"], "domain": domain["name"],
                                         "state": "enabled", "created": root["created"]}
    for index in range(vms):
        vm_id, seq = str(uuid.uuid4()), 1000 + index
        owner = {"account": f"tenant-{index % 4}", "domain": domain["name"], "domainid": domain["id"]}
        nics = [{**nic, "id": str(uuid.uuid4()), "macaddress": f"02:01:{index // 65536 % 256:02x}:"
                 f"{index // 256 % 256:02x}:{index % 256:02x}:00", "ipaddress": f"10.9.{index // 250}.{index % 250}"}
                for nic in template_vm["nics"]]
        state["vms"][vm_id] = {**template_vm, **owner, "id": vm_id, "name": f"vm-{index:05d}",
                               "displayname": f"vm-{index:05d}", "seq": seq, "instancename": f"i-2-{seq}-VM",
                               "state": "Running" if index % 5 else "Stopped", "nics": nics}
        for kind, device, size in (("ROOT", 0, root["size"]), ("DATADISK", 1, 20 * GiB)):
            volume_id = str(uuid.uuid4())
            state["volumes"][volume_id] = {**root, **owner, "id": volume_id, "name": f"{kind}-{seq}", "type": kind,
                                           "deviceid": device, "size": size, "virtualmachineid": vm_id}
    state_file.write_text(json.dumps(state))


def _child(vms: int) -> dict:
    var = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    try:
        os.environ.update({"MP_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
                           "CELERY_BROKER_URL": "memory://", "CACHE_URL": "", "LOG_LEVEL": "WARNING",
                           "DJANGO_SETTINGS_MODULE": "config.settings", "MP_CLOUDSTACK_JOB_TIMEOUT": "30"})
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from apps.portal import collector, models
        from apps.settings.volumes import client_for
        from lab.cloudstack import launch

        call_command("migrate", verbosity=0)
        state_dir = var / "cloudstack"
        with launch(state_dir, job_delay=0.01):
            pass  # the first start writes the lab's seeded state
        _grow(state_dir / "cloudstack-state.json", vms)
        results: dict = {"vms": vms}
        with launch(state_dir, job_delay=0.01) as lab:
            from apps.settings.models import OsseaConfig

            config = OsseaConfig(name="bench", api_url=lab.url, api_key=lab.api_key, secret_key=lab.secret_key,
                                 zone="OSSEA-Zone")
            client = client_for(config)
            started = time.perf_counter()
            fetched = collector.fetch_all(client)
            results["fetch_s"] = time.perf_counter() - started
            for name in ("first", "unchanged"):
                with CaptureQueriesContext(connection) as queries:
                    run = collector.collect(client=client)
                assert run.status == "succeeded", run.error
                results[name] = {"s": run.duration_ms / 1000, "queries": len(queries), "changes": run.changes}
        results["counts"] = {k: len(v) for k, v in fetched.items() if k in ("server", "volume", "port", "account")}
        results["stored_vms"] = models.Server.objects.count()
        from django.contrib.auth import get_user_model

        browser = Client()
        browser.force_login(get_user_model().objects.create_superuser("bench", password="Bench-pass-123"))
        results["dashboard"] = {}
        for path in ("/dashboard/health-summary", "/dashboard/snapshot-sla-compliance", "/servers",
                     "/tenant-health/overview"):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                answer = browser.get(path)
                elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.content[:200]
            results["dashboard"][path] = {"ms": elapsed * 1000, "queries": len(queries)}
        return results
    finally:
        shutil.rmtree(var, ignore_errors=True)


def run(quick: bool) -> str:
    """Markdown section: a collection of 5,000 VMs and 10,000 volumes (a tenth when quick)."""
    vms = 500 if quick else 5000
    lines = [f"## Operations portal: collecting {vms:,} VMs and {2 * vms:,} volumes", ""]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CACHE_URL", "MP_"))}
    done = subprocess.run([sys.executable, "-m", "bench.bench_portal", "--child", str(vms)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()
        return "\n".join(lines + [f"Not measured: {tail[-1] if tail else done.returncode}", ""])
    r = json.loads(done.stdout.strip().splitlines()[-1])
    lines += [
        (f"The lab emulator with {vms:,} VMs (4 accounts, a fifth stopped) and a root and a data volume each, read "
         "through our client (paged lists of 500), into SQLite. \"first\" stores everything and records each "
         "creation; \"unchanged\" is the next run, which finds nothing to record. Reading CloudStack alone took "
         f"{r['fetch_s']:.1f} s."),
        "",
        "| run | seconds | SQL queries | changes recorded |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {r[name]['s']:.1f} | {r[name]['queries']} | {r[name]['changes']:,} |"
          for name in ("first", "unchanged")),
        "",
        "| answer over that collection | ms | SQL queries |",
        "|---|---:|---:|",
        *(f"| `GET {path}` | {row['ms']:.0f} | {row['queries']} |" for path, row in r["dashboard"].items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(_child(int(sys.argv[2]))))
    else:
        print(run(quick="--quick" in sys.argv))
