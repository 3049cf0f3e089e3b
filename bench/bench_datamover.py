"""datamover vs nbdcopy (and qemu-img) on loopback: a full copy and a CBT-style incremental copy.

    .venv/bin/python -m bench.run --only datamover [--quick]

The source is a 4 GiB sparse file (1 GiB with --quick) shaped like a thin VM disk:
about half random data, a tenth allocated zero blocks, the rest holes, on tmpfs (the
copiers are measured, not the disk). Source and target are ``nbdkit file`` servers on
127.0.0.1 TCP ports, like the control plane's exports (``BENCH_DATAMOVER_TRANSPORT=unix``
for Unix sockets), started fresh for every run; the target is a new sparse file for
each full copy. Tools run alternately, so a busy neighbour slows them alike; the
tables give medians and the median of the per-round ratios.

Incremental: 5% of the disk changes in ~200 extents (most get new random data, some
are zeroed, some trimmed to holes); the target holds the previous image. datamover
gets the extent list. nbdcopy cannot take one, so its source is served through
nbdkit's ``extentlist`` filter (everything else reads as a hole) and it runs with
``-S 0`` (changed blocks that became zero must still be written) and
``--destination-is-zero`` (otherwise it would zero every unlisted area of the
previous image). Bytes written are counted by nbdkit's ``log`` filter on the target
in a separate, untimed run of each tool.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

SEED = 20250909
FULL_RUNS = 5
INCREMENTAL_RUNS = 7
EXTENTS = 200
CHANGED_FRACTION = 0.05
# Stop adding runs once a phase has used this much time (the whole module must stay under 3 minutes).
FULL_BUDGET = 45.0
INCREMENTAL_BUDGET = 30.0

# Servers listen on 127.0.0.1 TCP ports, as the control plane's exports do (reached through the tunnel).
TCP = os.environ.get("BENCH_DATAMOVER_TRANSPORT", "tcp") == "tcp"

_LOG_LINE = re.compile(r" (Write|Zero|Trim) id=\d+ offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)")


# -- the disk images -------------------------------------------------------------------------

@dataclass
class Disk:
    path: Path
    size: int
    data_bytes: int = 0
    zero_bytes: int = 0
    extents: list[tuple[int, int, str]] = field(default_factory=list)
    changed_data_bytes: int = 0
    previous: dict[int, bytes] = field(default_factory=dict)


def _pool() -> bytes:
    # Random content is copied from a pool at random offsets: fast to write, never all zero.
    return os.urandom(64 * MiB)


def make_source(path: Path, size: int, seed: int = SEED) -> Disk:
    """A thin-disk-like image: ~50% random data, ~10% allocated zeroes, ~40% holes, in runs of 64 KiB-32 MiB."""
    rng = random.Random(seed)
    pool = _pool()
    disk = Disk(path, size)
    with open(path, "wb") as fh:
        fh.truncate(size)
        pos = 0
        while pos < size:
            length = min(int(2 ** rng.uniform(16, 25)) // (64 * KiB) * (64 * KiB) or 64 * KiB, size - pos)
            kind = rng.random()
            if kind < 0.5:
                fh.seek(pos)
                done = 0
                while done < length:
                    n = min(length - done, 8 * MiB)
                    start = rng.randrange(0, len(pool) - n)
                    fh.write(pool[start : start + n])
                    done += n
                disk.data_bytes += length
            elif kind < 0.6:
                fh.seek(pos)
                fh.write(bytes(length))
                disk.zero_bytes += length
            pos += length
    return disk


def _punch(path: Path, offset: int, length: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDWR)
    try:
        # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: what a guest TRIM does to a thin disk
        if libc.fallocate(fd, 3, ctypes.c_long(offset), ctypes.c_long(length)) != 0:
            raise OSError(ctypes.get_errno(), "fallocate(PUNCH_HOLE)")
    finally:
        os.close(fd)


def change_blocks(disk: Disk, fraction: float = CHANGED_FRACTION, count: int = EXTENTS, seed: int = SEED + 1) -> None:
    """Change ``fraction`` of the disk in ``count`` extents, keeping the old bytes to restore a target later."""
    rng = random.Random(seed)
    pool = _pool()
    total = int(disk.size * fraction)
    align = 64 * KiB
    slot = disk.size // count
    extents = []
    for i in range(count):
        # One extent per slot of the disk, random length and place inside it: no overlaps, no contact.
        length = max(align, round(total / count * rng.uniform(0.25, 1.75) / align) * align)
        length = min(length, slot - 2 * align)
        start = i * slot + rng.randrange(0, (slot - length - align) // align) * align
        kind = rng.choices(["data", "zero", "trim"], weights=[85, 7.5, 7.5])[0]
        extents.append((start, length, kind))
    with open(disk.path, "r+b") as fh:
        for start, length, kind in extents:
            fh.seek(start)
            disk.previous[start] = fh.read(length)
            fh.seek(start)
            if kind == "data":
                offset = rng.randrange(0, len(pool) - length)
                fh.write(pool[offset : offset + length])
            elif kind == "zero":
                fh.write(bytes(length))
    for start, length, kind in extents:
        if kind == "trim":
            _punch(disk.path, start, length)
    disk.extents = extents
    disk.changed_data_bytes = sum(length for _, length, kind in extents if kind == "data")


def restore_previous(disk: Disk, target: Path) -> None:
    """Put the pre-change bytes back in the changed extents of ``target``."""
    with open(target, "r+b") as fh:
        for start, old in disk.previous.items():
            fh.seek(start)
            fh.write(old)


def identical(a: Path, b: Path) -> bool:
    if shutil.which("cmp"):
        return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(8 * MiB), fb.read(8 * MiB)
            if x != y:
                return False
            if not x:
                return True


def fresh_target(path: Path, size: int) -> None:
    if path.exists():
        path.unlink()
    with open(path, "wb") as fh:
        fh.truncate(size)


def workdir(size: int) -> Path:
    """tmpfs when it has room, so the benchmark measures the copiers, not the disk."""
    need = int(size * 1.5)
    for base in ("/dev/shm", tempfile.gettempdir()):
        try:
            st = os.statvfs(base)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize > need:
            return Path(tempfile.mkdtemp(prefix="bench-datamover-", dir=base))
    raise RuntimeError(f"no temporary file system with {need / GiB:.1f} GiB free")


# -- running the tools -----------------------------------------------------------------------

@dataclass
class Run:
    seconds: float
    cpu: float


def _rusage(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_ours(source_uri: str, target_uri: str, extents=None, **options) -> tuple[Run, object]:
    import datamover

    cpu0, started = _rusage(resource.RUSAGE_SELF), time.monotonic()
    result = datamover.copy(source_uri, target_uri, extents, **options)
    return Run(time.monotonic() - started, _rusage(resource.RUSAGE_SELF) - cpu0), result


def run_command(argv: list[str]) -> Run:
    cpu0, started = _rusage(resource.RUSAGE_CHILDREN), time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    run = Run(time.monotonic() - started, _rusage(resource.RUSAGE_CHILDREN) - cpu0)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return run


def nbdcopy_full(source_uri: str, target_uri: str) -> Run:
    return run_command(["nbdcopy", "--flush", source_uri, target_uri])


def qemu_img_full(source_uri: str, target_uri: str) -> Run:
    return run_command(["qemu-img", "convert", "-n", "-W", "-f", "raw", "-O", "raw", source_uri, target_uri])


def nbdcopy_incremental(source_uri: str, target_uri: str) -> Run:
    return run_command(["nbdcopy", "-S", "0", "--destination-is-zero", "--flush", source_uri, target_uri])


def servers(source: Path, target: Path, *, source_filters=(), source_args=(), target_filters=(), target_args=(),
            tcp: bool = TCP):
    from datamover.nbdkit import file_server

    src = file_server(str(source), readonly=True, filters=source_filters, args=source_args, tcp=tcp)
    dst = file_server(str(target), filters=target_filters, args=target_args, tcp=tcp)
    return src, dst


def version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()
        return out[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "not installed"


def logged_writes(log_path: Path) -> tuple[int, int]:
    """(data bytes written, bytes zeroed or trimmed) from an nbdkit log filter file."""
    data = zeroed = 0
    with open(log_path, encoding="utf-8") as fh:
        for line in fh:
            match = _LOG_LINE.search(line)
            if match:
                count = int(match.group(3), 16)
                if match.group(1) == "Write":
                    data += count
                else:
                    zeroed += count
    return data, zeroed


def rotated(tools: list, round_: int) -> list:
    """Each round starts with the next tool, so none always runs first (or last) in a round."""
    shift = round_ % len(tools)
    return tools[shift:] + tools[:shift]


def median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(run, attr) for run in runs)


def paired(tool: list[Run], ours: list[Run]) -> float:
    """Median over rounds of tool time / datamover time in the same round (cancels load drift)."""
    return statistics.median(t.seconds / o.seconds for t, o in zip(tool, ours, strict=False))


def startup_seconds(argv: list[str], runs: int = 5) -> float:
    """What launching a tool costs before it copies anything (exec, dynamic linking)."""
    return statistics.median(run_command(argv).seconds for _ in range(runs))


def _fmt_mib(n: float) -> str:
    return f"{n / MiB:,.0f}"


# -- the benchmark -----------------------------------------------------------------------------

def run(quick: bool) -> str:
    title = "## datamover vs nbdcopy (full and incremental copies)"
    missing = [tool for tool in ("nbdkit",) if shutil.which(tool) is None]
    try:
        import nbd  # noqa: F401
    except ImportError:
        missing.append("python3-libnbd")
    if missing:
        return f"{title}\n\nSkipped: {', '.join(missing)} not installed (Debian packages nbdkit, python3-libnbd)."
    have_nbdcopy = shutil.which("nbdcopy") is not None
    have_qemu = shutil.which("qemu-img") is not None

    size = 1 * GiB if quick else 4 * GiB
    full_runs = 1 if quick else FULL_RUNS
    incr_runs = 2 if quick else INCREMENTAL_RUNS
    work = workdir(size)
    try:
        return _run(title, work, size, full_runs, incr_runs, have_nbdcopy, have_qemu)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(title, work: Path, size: int, full_runs: int, incr_runs: int, have_nbdcopy: bool, have_qemu: bool) -> str:
    started = time.monotonic()
    source = make_source(work / "source.img", size)
    target = work / "target.img"
    generated = time.monotonic() - started

    # ---- full copy
    tools = [("datamover", None)]
    if have_nbdcopy:
        tools.append(("nbdcopy", nbdcopy_full))
    if have_qemu:
        tools.append(("qemu-img convert", qemu_img_full))
    full: dict[str, list[Run]] = {name: [] for name, _ in tools}
    checks: dict[str, tuple[bool, int]] = {}

    def full_once(name, command) -> Run:
        fresh_target(target, size)
        src, dst = servers(source.path, target)
        with src, dst:
            if command is None:
                measured, _ = run_ours(src.uri, dst.uri)
            else:
                measured = command(src.uri, dst.uri)
        if name not in checks:
            checks[name] = (identical(source.path, target), os.stat(target).st_blocks * 512)
        return measured

    # One untimed copy per tool first: the first copy after the source was generated pays for the
    # machine settling (page cache, tmpfs pages) and would otherwise always land on the same tool.
    for name, command in tools:
        full_once(name, command)
    phase = time.monotonic()
    for round_ in range(full_runs):
        if round_ and time.monotonic() - phase > FULL_BUDGET:
            break
        for name, command in rotated(tools, round_):
            full[name].append(full_once(name, command))
    # The last datamover copy becomes the previous image of the incremental benchmark.
    fresh_target(target, size)
    src, dst = servers(source.path, target)
    with src, dst:
        run_ours(src.uri, dst.uri)

    # ---- incremental copy
    change_blocks(source)
    extents = [(start, length) for start, length, _ in source.extents]
    extent_list = work / "extents.txt"
    extent_list.write_text("".join(f"{start} {length}\n" for start, length in extents))
    (work / "extents.json").write_text(json.dumps(extents))
    changed = sum(length for _, length in extents)

    incr_tools = [("datamover", None)] + ([("nbdcopy (extentlist, -S 0)", nbdcopy_incremental)] if have_nbdcopy else [])
    incr: dict[str, list[Run]] = {name: [] for name, _ in incr_tools}
    accounting: dict[str, tuple[int, int, bool]] = {}

    def incremental_once(name, command, target_filters=(), target_args=()):
        restore_previous(source, target)
        source_filters, source_args = ((), ()) if command is None else (("extentlist",), (f"extentlist={extent_list}",))
        src, dst = servers(source.path, target, source_filters=source_filters, source_args=source_args,
                           target_filters=target_filters, target_args=target_args)
        with src, dst:
            if command is None:
                measured, _ = run_ours(src.uri, dst.uri, extents)
            else:
                measured = command(src.uri, dst.uri)
        return measured

    phase = time.monotonic()
    for round_ in range(incr_runs):
        if round_ and time.monotonic() - phase > INCREMENTAL_BUDGET:
            break
        for name, command in rotated(incr_tools, round_):
            incr[name].append(incremental_once(name, command))
    for name, command in incr_tools:
        log_path = work / "target.log"
        if log_path.exists():
            log_path.unlink()
        incremental_once(name, command, ("log",), (f"logfile={log_path}",))
        data, zeroed = logged_writes(log_path)
        accounting[name] = (data, zeroed, identical(source.path, target))

    starts = []
    if have_nbdcopy:
        starts.append(f"`nbdcopy --version` {startup_seconds(['nbdcopy', '--version']) * 1000:.0f} ms")
    if have_qemu:
        starts.append(f"`qemu-img --version` {startup_seconds(['qemu-img', '--version']) * 1000:.0f} ms")
    return _report(title, source, size, generated, tools, full, checks, incr_tools, incr, accounting, changed,
                   have_nbdcopy, have_qemu, time.monotonic() - started, ", ".join(starts) or "none measured")


def _report(title, source: Disk, size, generated, tools, full, checks, incr_tools, incr, accounting, changed,
            have_nbdcopy, have_qemu, elapsed, startup) -> str:
    import nbd

    lines = [title, ""]
    lines += [
        f"Source: {size / GiB:.0f} GiB sparse image on tmpfs, {source.data_bytes / GiB:.2f} GiB random data, "
        f"{source.zero_bytes / GiB:.2f} GiB allocated zero blocks, the rest holes (made in {generated:.1f} s). "
        f"Source and target are `nbdkit file` on {'127.0.0.1 TCP ports' if TCP else 'Unix sockets'}; "
        "each run starts fresh servers "
        "(the full copies a new sparse target). datamover runs in-process with its defaults "
        "(`datamover.copy(src, dst)`), `nbdcopy --flush SRC DST` with its defaults "
        "(up to 4 connections, 64 x 256 KiB requests each, threads = cores), "
        "`qemu-img convert -n -W -f raw -O raw SRC DST`.",
        "",
        f"Versions: libnbd {nbd.NBD().get_version()}, {version(['nbdkit', '--version'])}, "
        f"{version(['nbdcopy', '--version'])}, {version(['qemu-img', '--version'])}.",
        "",
        "MiB/s is disk (virtual) bytes per second for the full copy and changed bytes per second for the "
        "incremental one; ratio = datamover MiB/s / tool MiB/s from the medians (> 1: datamover faster), "
        "paired = median over rounds of the same ratio within a round; each tool copies once untimed first, and "
        "the order of the tools rotates from round to round; CPU is the copying "
        "process's user + system time (servers excluded), per GiB of the same scope. datamover is timed as the "
        "agent runs it, a library call; the other tools as processes, which includes their start "
        f"({startup}).",
        "",
    ]
    skipped = []
    if not have_nbdcopy:
        skipped.append("nbdcopy is not installed (Debian libnbd-bin): no comparison")
    if not have_qemu:
        skipped.append("qemu-img is not installed (Debian qemu-utils): its row is left out")
    if skipped:
        lines += ["Skipped: " + "; ".join(skipped) + ".", ""]

    ours_full = median(full["datamover"], "seconds")
    lines += [
        f"### Full copy ({size / GiB:.0f} GiB disk)",
        "",
        "| tool | runs (s) | median s | MiB/s | ratio | paired | CPU s | CPU s/GiB | target allocated | identical |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, _ in tools:
        runs = full[name]
        seconds, cpu = median(runs, "seconds"), median(runs, "cpu")
        ok, allocated = checks[name]
        ratio = "1.00" if name == "datamover" else f"{seconds / ours_full:.2f}"
        pair = "1.00" if name == "datamover" else f"{paired(runs, full['datamover']):.2f}"
        lines.append(
            f"| {name} | {', '.join(f'{r.seconds:.2f}' for r in runs)} | {seconds:.2f} | {size / MiB / seconds:,.0f} | "
            f"{ratio} | {pair} | {cpu:.2f} | {cpu / (size / GiB):.3f} | {allocated / GiB:.2f} GiB | "
            f"{'yes' if ok else 'NO'} |"
        )
    lines += [""]

    ours_incr = median(incr["datamover"], "seconds")
    lines += [
        f"### Incremental copy ({len(source.extents)} extents, {changed / MiB:,.0f} MiB = "
        f"{changed / size:.1%} of the disk; {source.changed_data_bytes / MiB:,.1f} MiB of it new non-zero data)",
        "",
        "| tool | runs (s) | median s | MiB/s | ratio | paired | CPU s | CPU s/GiB | bytes written | zero/trim requests "
        "| identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, _ in incr_tools:
        runs = incr[name]
        seconds, cpu = median(runs, "seconds"), median(runs, "cpu")
        data, zeroed, ok = accounting[name]
        ratio = "1.00" if name == "datamover" else f"{seconds / ours_incr:.2f}"
        pair = "1.00" if name == "datamover" else f"{paired(runs, incr['datamover']):.2f}"
        exact = " (= changed non-zero bytes)" if data == source.changed_data_bytes else ""
        lines.append(
            f"| {name} | {', '.join(f'{r.seconds:.3f}' for r in runs)} | {seconds:.3f} | {changed / MiB / seconds:,.0f} | "
            f"{ratio} | {pair} | {cpu:.3f} | {cpu / (changed / GiB):.3f} | {data:,}{exact} | {zeroed:,} | "
            f"{'yes' if ok else 'NO'} |"
        )
    lines += [""]

    summary = []
    if have_nbdcopy:
        full_ratio = median(full["nbdcopy"], "seconds") / ours_full
        incr_ratio = median(incr["nbdcopy (extentlist, -S 0)"], "seconds") / ours_incr
        full_pair = paired(full["nbdcopy"], full["datamover"])
        incr_pair = paired(incr["nbdcopy (extentlist, -S 0)"], incr["datamover"])
        summary.append(f"full copy {full_ratio:.2f}x nbdcopy (paired {full_pair:.2f}; goal >= 1.0)")
        summary.append(f"incremental {incr_ratio:.2f}x nbdcopy (paired {incr_pair:.2f}; goal >= 1.2)")
    if have_qemu:
        summary.append(f"full copy {median(full['qemu-img convert'], 'seconds') / ours_full:.2f}x qemu-img")
    if summary:
        lines += ["**datamover speed: " + "; ".join(summary) + ".**", ""]
    lines += [f"Whole datamover benchmark: {elapsed:.0f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run("--quick" in sys.argv))
