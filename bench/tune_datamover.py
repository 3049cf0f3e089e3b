"""Sweep datamover's request size, depth and connections against nbdcopy on the benchmark's disk.

    .venv/bin/python -m bench.tune_datamover [--size-gib 2] [--rounds 5] [--config 'request_size=1M,depth=16' ...]

Each round runs every configuration once, in turn, then nbdcopy; a configuration's
score is the median over rounds of (nbdcopy seconds / its seconds) in the same round,
which cancels most of the noise of a shared machine. The defaults in
``datamover/copier.py`` come from this sweep (see docs/datamover.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.bench_datamover import GiB, fresh_target, make_source, nbdcopy_full, run_ours, servers, workdir

DEFAULT_CONFIGS = [
    "request_size=256K,depth=16",
    "request_size=256K,depth=64",
    "request_size=1M,depth=8",
    "request_size=1M,depth=16",
    "request_size=1M,depth=32",
    "request_size=4M,depth=4",
    "request_size=4M,depth=8",
    "request_size=1M,depth=16,connections=2",
]


def parse_config(text: str) -> dict:
    from datamover.cli import parse_size

    options = {}
    for item in text.split(","):
        key, value = item.split("=", 1)
        options[key.strip()] = parse_size(value) if key.strip() == "request_size" else int(value)
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tune_datamover")
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--config", action="append", help="e.g. request_size=1M,depth=16,connections=1")
    args = parser.parse_args(argv)
    configs = args.config or DEFAULT_CONFIGS
    size = int(args.size_gib * GiB)
    work = workdir(size)
    source = make_source(work / "source.img", size)
    target = work / "target.img"
    results: dict[str, list[tuple[float, float, float]]] = {config: [] for config in configs}

    def once(copy):
        fresh_target(target, size)
        src, dst = servers(source.path, target)
        with src, dst:
            return copy(src.uri, dst.uri)

    for round_ in range(args.rounds):
        baseline = once(nbdcopy_full)
        for config in configs:
            options = parse_config(config)
            measured = once(lambda s, d, options=options: run_ours(s, d, **options)[0])
            results[config].append((measured.seconds, measured.cpu, baseline.seconds / measured.seconds))
        print(f"round {round_ + 1}/{args.rounds} done (nbdcopy {baseline.seconds:.2f} s)", file=sys.stderr, flush=True)

    print(f"\n{size / GiB:g} GiB disk, {source.data_bytes / GiB:.2f} GiB data, {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| configuration | median s | median CPU s | speed vs nbdcopy (median of paired ratios) |")
    print("|---|---|---|---|")
    for config, rows in results.items():
        print(f"| {config} | {statistics.median(r[0] for r in rows):.2f} | {statistics.median(r[1] for r in rows):.2f} | "
              f"{statistics.median(r[2] for r in rows):.2f} |")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
