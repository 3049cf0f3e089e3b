"""Benchmark: the agent's disk sources on the same snapshot disk in one run: `file` (nbdkit file on the
datastore directory, the lab's) against `https` (nbdkit curl over vcsim's /folder datastore service, what
a vCenter without VDDK gets), with and without nbdkit's readahead filter.

`run(quick)` returns a markdown section for bench/run.py. A vcsim VM gets a disk full of random data (so
both sources read every byte; the https source's extent list leaves nothing to skip), one snapshot, and
each source is opened on it exactly as the replication runner opens it and copied by `datamover.copy`
into a sparse file behind nbdkit. Rounds rotate the order; the medians and the https/file ratio are
reported. vcsim serves files with Go's http.FileServer on the same host, so the ratio measures the
source's own cost (TLS, HTTP, curl's per-request overhead), not a real vCenter's datastore proxy.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

MiB = 1 << 20
ROUNDS = 3


def _measure(size_mib: int, rounds: int) -> dict[str, list[float]]:
    import datamover
    from agent.config import AgentConfig
    from agent.disksource import FileDiskSource, HttpsDiskSource, make_disk_source
    from agent.disksource.https import HTTPS_FILTERS
    from agent.vsphere import VCenterEndpoint, VSphereSource
    from datamover.nbdkit import file_server
    from lab.vcsim import Vcsim, create_vm, flat_file_path, write_random

    rates: dict[str, list[float]] = {"file": [], "https": [], "https + readahead": []}
    with Vcsim() as sim, tempfile.TemporaryDirectory(prefix="bench-disksource-") as tmp:
        si = sim.connect()
        vm = create_vm(si, "bench-src", disks_mb=(size_mib,), networks=("VM Network",), cbt=True)
        flat = flat_file_path(sim, vm, 0)
        for offset in range(0, size_mib * MiB, 64 * MiB):
            write_random(flat, offset, min(64 * MiB, size_mib * MiB - offset), seed=offset // MiB)
        endpoint = VCenterEndpoint.parse(f"{sim.host}:{sim.port}", sim.username, sim.password,
                                         thumbprint=sim.thumbprint)
        with VSphereSource(endpoint, keepalive_seconds=0) as session:
            vm_ref = session.find_vm(moref=vm._moId)
            disk = session.vm_info(vm_ref).disks[0]
            config = AgentConfig()
            config.replication.disk_source = "https"
            https = make_disk_source(config, session, vm_ref, "bench", [disk])
            assert isinstance(https, HttpsDiskSource)
            sources = {
                "file": FileDiskSource({disk.datastore: str(flat.parents[1])}),
                "https": https,
                "https + readahead": HttpsDiskSource(session, https.locations, filters=("readahead", *HTTPS_FILTERS)),
            }
            snapshot, _ = session.create_snapshot(vm_ref, "vma-bench", quiesce=False)
            target = Path(tmp) / "target.img"
            try:
                for round_ in range(rounds):
                    names = list(sources)
                    names = names[round_ % len(names):] + names[:round_ % len(names)]
                    for name in names:
                        target.unlink(missing_ok=True)
                        with open(target, "wb") as fh:
                            fh.truncate(disk.capacity_bytes)
                        with sources[name].open(disk=disk, snapshot_id=snapshot._moId, vm_id=vm._moId,
                                                endpoint=endpoint) as uri, file_server(str(target)) as dst:
                            started = time.perf_counter()
                            result = datamover.copy(uri, dst.uri, None)
                            elapsed = time.perf_counter() - started
                        if result.bytes_copied != disk.capacity_bytes:
                            raise RuntimeError(f"{name} copied {result.bytes_copied} of {disk.capacity_bytes} bytes")
                        rates[name].append(disk.capacity_bytes / MiB / elapsed)
            finally:
                session.remove_snapshot(snapshot)
    return rates


def run(quick: bool) -> str:
    """Markdown section: MiB/s of each disk source on the same disk, and the https/file ratio."""
    size_mib = 256 if quick else 1024
    rounds = 2 if quick else ROUNDS
    lines = ["## Disk sources: https (vcsim /folder) vs file", ""]
    try:
        rates = _measure(size_mib, rounds)
    except Exception as exc:  # noqa: BLE001 - a bench reports why it could not run instead of failing the report
        lines.append(f"Not measured: {type(exc).__name__}: {exc}")
        return "\n".join(lines) + "\n"
    medians = {name: statistics.median(values) for name, values in rates.items()}
    lines += [
        (f"One {size_mib} MiB disk of random data in vcsim, snapshotted; each source opened on it as the agent "
         f"opens it and copied whole by `datamover.copy` into a sparse file behind nbdkit. {rounds} rounds, order "
         "rotated, median. Same host: the ratio is the https source's own cost (TLS, HTTP range requests through "
         "curl), not a real vCenter's."),
        "",
        "| source | MiB/s (median) | runs | vs file |",
        "|---|---:|---:|---:|",
    ]
    for name, median in medians.items():
        runs = ", ".join(f"{value:.0f}" for value in rates[name])
        lines.append(f"| {name} | {median:.0f} | {runs} | {median / medians['file']:.2f} |")
    return "\n".join(lines) + "\n"
