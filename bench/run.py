"""Run the benchmarks and write docs/benchmarks.md.

    .venv/bin/python -m bench.run [--quick] [--only NAME ...] [--output FILE]

Every ``bench/bench_*.py`` module's ``run(quick)`` returns a markdown section. The page
gets the date, the machine (CPU model, cores, memory, kernel, load) and the command, so
figures from different runs and machines are never mistaken for each other. With
``--only``, sections of the other modules already in the file are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import platform
import re
import sys
import time
import traceback
from pathlib import Path

import bench

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
_SECTION = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", re.S)


def discover() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(bench.__path__) if info.name.startswith("bench_"))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": _cpu_model(),
        "cores (nproc)": str(usable),
        "memory": _memory(),
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "load average at start (1, 5, 15 min)": load,
    }


def run_module(name: str, quick: bool) -> tuple[str, float]:
    started = time.monotonic()
    try:
        module = importlib.import_module(f"bench.{name}")
        section = module.run(quick).strip()
    except Exception:  # one broken benchmark must not hide the others
        section = f"## {name}\n\nThe benchmark failed:\n\n```\n{traceback.format_exc().strip()}\n```"
    return section, time.monotonic() - started


def render(sections: dict[str, tuple[str, float]], command: str, quick: bool) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Generated {now} by `{command}`{' (quick mode: smaller data, fewer runs)' if quick else ''}.",
        "Machines here are shared: compare tools within one run (the ratios), not absolute figures across runs.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in machine().items()]
    lines += ["", "| benchmark | seconds |", "|---|---|"]
    lines += [f"| {name} | {'kept from the previous run' if seconds < 0 else f'{seconds:.0f}'} |"
              for name, (_, seconds) in sections.items()]
    lines.append("")
    for name, (section, _) in sections.items():
        lines += [f"<!-- bench:{name} -->", section, f"<!-- /bench:{name} -->", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="Run benchmarks, write docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer runs (a smoke test of the benchmarks)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this module (bench_NAME or NAME)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown file to write")
    args = parser.parse_args(argv)

    names = discover()
    if args.only:
        wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in args.only}
        unknown = wanted - set(names)
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(names)})")
        selected = [name for name in names if name in wanted]
    else:
        selected = names

    kept: dict[str, str] = {}
    if args.only and args.output.exists():
        kept = {m.group(1): m.group(2).strip() for m in _SECTION.finditer(args.output.read_text(encoding="utf-8"))}

    command = ".venv/bin/python -m bench.run" + "".join(f" {arg}" for arg in (argv if argv is not None else sys.argv[1:]))
    sections: dict[str, tuple[str, float]] = {}
    for name in names:
        if name in selected:
            print(f"bench: running {name}", file=sys.stderr, flush=True)
            sections[name] = run_module(name, args.quick)
            print(f"bench: {name} took {sections[name][1]:.0f}s", file=sys.stderr, flush=True)
        elif name in kept:
            sections[name] = (kept[name], -1.0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(sections, command, args.quick), encoding="utf-8")
    print(f"bench: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
