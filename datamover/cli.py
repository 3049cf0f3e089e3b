"""``python -m datamover``: copy and verify from a shell.

Exit status: 0 success, 1 copy or read failure, 2 bad usage, 3 verification found a difference.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys

from .checkpoint import CheckpointMismatch
from .copier import DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_CONNECTIONS, DEFAULT_DEPTH, DEFAULT_REQUEST_SIZE, DEFAULT_RETRIES, copy
from .errors import CopyError, VerificationError
from .progress import Progress
from .verifier import DEFAULT_CHUNK_SIZE, verify

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISMATCH = 3

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``4096``, ``256K``, ``64M``, ``1.5G``, ``10MiB``: binary multiples, like nbdkit."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 4096, 256K, 50M, 1G)")
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return int(value)


def load_extents(path: str) -> list[tuple[int, int]]:
    """Changed areas from a file: JSON (``[[offset, length], ...]``, ``[{"start":, "length":}]``,
    or VMware's ``{"changedArea": [...]}``) or text lines ``offset length``. ``-`` is stdin."""
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("changedArea", data.get("extents"))
            if data is None:
                raise ValueError(f"{path}: a JSON object needs a 'changedArea' or 'extents' list")
        out = []
        for item in data:
            if isinstance(item, dict):
                out.append((int(item.get("start", item.get("offset"))), int(item["length"])))
            else:
                offset, length = item
                out.append((int(offset), int(length)))
        return out
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{number}: expected 'offset length', got {line!r}")
        out.append((int(fields[0], 0), int(fields[1], 0)))
    return out


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _print_progress(report: Progress) -> None:
    eta = "--" if report.eta_seconds is None else f"{report.eta_seconds:.0f}s"
    line = (
        f"{report.phase:9} {report.percent:5.1f}%  {_human(report.bytes_done)} / {_human(report.bytes_total)}"
        f"  {report.current_mbps:8.1f} MB/s  ETA {eta}"
    )
    end = "\r" if sys.stderr.isatty() and report.phase != "done" else "\n"
    print(line, end=end, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datamover", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    cp = sub.add_parser("copy", help="copy SRC to DST (full, or only --extents), then flush DST")
    cp.add_argument("source", metavar="SRC", help="source NBD URI, e.g. nbd+unix:///?socket=/run/src.sock")
    cp.add_argument("target", metavar="DST", help="target NBD URI, e.g. nbd://127.0.0.1:10809/vol1")
    cp.add_argument("--extents", metavar="FILE", help="changed areas to copy (JSON or 'offset length' lines; - for stdin)")
    cp.add_argument("--checkpoint", metavar="FILE", help="resume from / record progress in FILE")
    cp.add_argument("--checkpoint-interval", type=float, default=DEFAULT_CHECKPOINT_INTERVAL, metavar="SECONDS",
                    help=f"flush the target and save the checkpoint this often (default {DEFAULT_CHECKPOINT_INTERVAL:g})")
    cp.add_argument("--progress-jsonl", metavar="FILE", help="append progress reports as JSON lines to FILE")
    cp.add_argument("--progress", action="store_true", help="show progress on stderr")
    cp.add_argument("--bandwidth", metavar="BYTES/S", type=parse_size, help="cap data read, e.g. 50M (MiB/s)")
    cp.add_argument("--verify", action="store_true", help="compare checksums of both sides after the copy")
    cp.add_argument("--request-size", type=parse_size, default=DEFAULT_REQUEST_SIZE,
                    help=f"bytes per request (default {DEFAULT_REQUEST_SIZE // 1024}K)")
    cp.add_argument("--depth", type=int, default=DEFAULT_DEPTH,
                    help=f"requests in flight per connection (default {DEFAULT_DEPTH})")
    cp.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS,
                    help="connections per side, used only if the servers allow multi-conn")
    cp.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                    help=f"retries per failed request (default {DEFAULT_RETRIES})")
    cp.add_argument("--target-is-zero", action="store_true",
                    help="the target already reads as zeroes: skip zeroing holes")
    cp.add_argument("--json", action="store_true", help="print the result as JSON on stdout")

    vf = sub.add_parser("verify", help="compare SRC and DST and report the first differing range")
    vf.add_argument("source", metavar="SRC")
    vf.add_argument("target", metavar="DST")
    vf.add_argument("--extents", metavar="FILE", help="compare only these areas")
    vf.add_argument("--chunk-size", type=parse_size, default=DEFAULT_CHUNK_SIZE, help="bytes per checksum (default 1M)")
    vf.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return parser


def _terminate(signum, frame):
    # Unwind through copy() so it saves a checkpoint and closes its connections.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        extents = load_extents(args.extents) if args.extents else None
    except (OSError, ValueError) as exc:
        print(f"error: cannot read extents: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "copy":
            return _copy(args, extents)
        return _verify(args, extents)
    except (CheckpointMismatch, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _copy(args, extents) -> int:
    try:
        result = copy(
            args.source,
            args.target,
            extents,
            progress=_print_progress if args.progress else None,
            progress_jsonl=args.progress_jsonl,
            checkpoint=args.checkpoint,
            checkpoint_interval=args.checkpoint_interval,
            verify=args.verify,
            bandwidth=args.bandwidth,
            request_size=args.request_size,
            depth=args.depth,
            connections=args.connections,
            retries=args.retries,
            target_is_zero=args.target_is_zero,
        )
    except VerificationError as exc:
        _report_failure(args, exc)
        return EXIT_MISMATCH
    except CopyError as exc:
        _report_failure(args, exc)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        verified = " verified" if result.verified else ""
        print(
            f"copied {_human(result.bytes_copied)}, zeroed {_human(result.bytes_zeroed)}, "
            f"skipped {_human(result.bytes_skipped)} of {_human(result.bytes_total)} in {result.seconds:.2f}s "
            f"({result.average_mbps:.1f} MB/s){verified}",
            file=sys.stderr,
        )
    return 0


def _verify(args, extents) -> int:
    try:
        result = verify(args.source, args.target, extents, chunk_size=args.chunk_size)
    except CopyError as exc:
        _report_failure(args, exc)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(result.to_dict()))
    elif result.matched:
        print(f"identical: {_human(result.bytes_total)} compared, sha256 {result.source_sha256}", file=sys.stderr)
    else:
        offset, length = result.mismatch
        print(
            f"DIFFERENT: first mismatch at offset {offset} length {length} "
            f"(first differing byte {result.first_difference}){' - ' + result.reason if result.reason else ''}",
            file=sys.stderr,
        )
    return 0 if result.matched else EXIT_MISMATCH


def _report_failure(args, exc: CopyError) -> None:
    if args.json:
        print(json.dumps(exc.to_dict()))
    print(f"error: {exc}", file=sys.stderr)
