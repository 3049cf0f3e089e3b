"""Prove a target holds the same bytes as its source.

The scope is cut into ``chunk_size`` chunks on a fixed grid (multiples of the chunk
size, clipped to the scope). Each side's chunk gets a SHA-256: chunks both
allocation maps call zero are not read (their checksum is that of zeroes), the rest
are read from both servers. Matching checksums on every chunk prove the ranges are
identical; the first mismatch is narrowed to the run of differing 4 KiB blocks.

``source_sha256``/``target_sha256`` hash the list of chunk checksums in order, so two
verifications of the same scope can be compared without reading again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from .allocation import AllocationMap
from .engine import DEFAULT_STALL_TIMEOUT, Engine
from .nbd import BLOCK_STATUS, READ, Buffer, Command
from .progress import Progress, ProgressReporter
from .ranges import normalize_extents

DEFAULT_CHUNK_SIZE = 1024 * 1024
DEFAULT_DEPTH = 8
BLOCK = 4096
MAP_LOOKAHEAD = 256 * 1024 * 1024


@dataclass
class VerifyResult:
    matched: bool
    mismatch: tuple[int, int] | None  # (offset, length) of the first differing range
    first_difference: int | None  # absolute offset of the first differing byte
    bytes_total: int  # bytes in scope
    bytes_read: int  # bytes read from both servers together
    seconds: float
    source_sha256: str | None  # None when a mismatch stopped the walk early
    target_sha256: str | None
    chunk_size: int
    reason: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["mismatch"] = list(self.mismatch) if self.mismatch else None
        return data


class _Chunk:
    __slots__ = ("seq", "offset", "length", "tokens", "views", "bufs", "pending")

    def __init__(self, seq: int, offset: int, length: int):
        self.seq = seq
        self.offset = offset
        self.length = length
        self.tokens: list[bytes | None] = [None, None]
        self.views: list = [None, None]
        self.bufs: list = [None, None]
        self.pending = 0


def _grid(scope: list[tuple[int, int]], chunk_size: int):
    for start, end in scope:
        pos = start
        while pos < end:
            nxt = min((pos // chunk_size + 1) * chunk_size, end)
            yield pos, nxt - pos
            pos = nxt


class _ZeroDigests:
    def __init__(self) -> None:
        self._cache: dict[int, bytes] = {}

    def __call__(self, length: int) -> bytes:
        digest = self._cache.get(length)
        if digest is None:
            digest = self._cache[length] = hashlib.sha256(bytes(length)).digest()
        return digest


def _block(data, index: int, length: int) -> bytes:
    start = index * BLOCK
    end = min(start + BLOCK, length)
    if data is None:
        return bytes(end - start)
    return bytes(data[start:end])


def _narrow(chunk: _Chunk) -> tuple[int, int, int]:
    """First run of differing 4 KiB blocks in a chunk, and its first differing byte."""
    src, dst = chunk.views
    src = Buffer.data(src) if src is not None else None
    dst = Buffer.data(dst) if dst is not None else None
    blocks = -(-chunk.length // BLOCK)
    first = None
    for i in range(blocks):
        if _block(src, i, chunk.length) != _block(dst, i, chunk.length):
            first = i
            break
    if first is None:  # checksums differed but bytes do not: report the chunk
        return chunk.offset, chunk.length, chunk.offset
    a, b = _block(src, first, chunk.length), _block(dst, first, chunk.length)
    byte = next(i for i in range(len(a)) if a[i] != b[i])
    last = first
    while last + 1 < blocks and _block(src, last + 1, chunk.length) != _block(dst, last + 1, chunk.length):
        last += 1
    start = chunk.offset + first * BLOCK
    end = min(chunk.offset + (last + 1) * BLOCK, chunk.offset + chunk.length)
    return start, end - start, start + byte


class _VerifyEngine(Engine):
    def __init__(
        self, source_uri, target_uri, extents, *, chunk_size, depth, retries, retry_delay, stall_timeout, report
    ):
        super().__init__(retries=retries, retry_delay=retry_delay, stall_timeout=stall_timeout)
        self._report = report
        self.bytes_verified = 0
        self.source_uri = source_uri
        self.target_uri = target_uri
        self._extents = extents
        self.chunk_size = chunk_size
        self.depth = depth
        self.bytes_read = 0
        self.bytes_total = 0
        self._zero = _ZeroDigests()
        self._digests = [hashlib.sha256(), hashlib.sha256()]
        self._folded: dict[int, tuple[bytes, bytes]] = {}
        self._next_fold = 0
        self._active = 0
        self._held: tuple[int, int] | None = None
        self._chunk_seq = 0
        self.mismatch: tuple[int, int, int] | None = None
        self.reason: str | None = None

    def setup(self) -> bool:
        src = self.connect("source", self.source_uri, allocation=True)[0]
        dst = self.connect("target", self.target_uri, allocation=True)[0]
        size = src.info.size
        align = max(src.info.min_block, dst.info.min_block)
        if self._extents is None:
            scope = [(0, size)] if size else []
        else:
            scope = normalize_extents(self._extents, size, align)
        self.bytes_total = sum(end - start for start, end in scope)
        if dst.info.size < size:
            self.mismatch = (dst.info.size, size - dst.info.size, dst.info.size)
            self.reason = f"the target ({dst.info.size} bytes) is smaller than the source ({size} bytes)"
            return False
        self._maps = [
            AllocationMap(scope, size, available=src.info.has_allocation_map),
            AllocationMap(scope, size, available=dst.info.has_allocation_map),
        ]
        self._grid = _grid(scope, self.chunk_size)
        self._free = [Buffer.take(self.chunk_size) for _ in range(2 * self.depth)]
        self._exhausted = False
        return True

    def _request_map(self, side: int, pos: int) -> None:
        amap = self._maps[side]
        conn = self._conns["source" if side == 0 else "target"][0]
        while (window := amap.next_request(pos)) is not None:
            self.submit(Command(BLOCK_STATUS, window.start, window.end - window.start, self._sink, None, window), conn)
            if not amap.needs_request(pos, MAP_LOOKAHEAD):
                break

    def fill(self, now: float) -> None:
        while not self._exhausted and self._active < self.depth:
            piece = self._held
            if piece is None:
                piece = next(self._grid, None)
                if piece is None:
                    self._exhausted = True
                    break
            offset, length = piece
            if self.mismatch is not None and offset >= self.mismatch[0]:
                # Only chunks before a known mismatch can change the answer.
                self._exhausted = True
                break
            known = [amap.all_zero(offset, offset + length) for amap in self._maps]
            if known[0] is None or known[1] is None:
                self._held = piece
                for side in (0, 1):
                    if known[side] is None:
                        self._request_map(side, offset)
                break
            self._held = None
            chunk = _Chunk(self._chunk_seq, offset, length)
            self._chunk_seq += 1
            for side in (0, 1):
                if known[side]:
                    chunk.tokens[side] = self._zero(length)
                else:
                    buf = self._free.pop()
                    view = buf.view(length)
                    chunk.bufs[side] = buf
                    chunk.views[side] = view
                    chunk.pending += 1
                    conns = self._conns["source" if side == 0 else "target"]
                    self.submit(Command(READ, offset, length, self._sink, view, (chunk, side)), conns[chunk.seq % len(conns)])
            self._active += 1
            if chunk.pending == 0:
                self._finish(chunk)
        pos = self._held[0] if self._held else None
        if pos is not None:
            for side in (0, 1):
                if self._maps[side].needs_request(pos, MAP_LOOKAHEAD):
                    self._request_map(side, pos)

    def handle(self, cmd: Command) -> None:
        if cmd.kind == BLOCK_STATUS:
            window = cmd.tag
            window.owner.complete(window)
            return
        chunk, side = cmd.tag
        self.bytes_read += cmd.length
        view = cmd.buf
        chunk.tokens[side] = self._zero(chunk.length) if view.is_zero() else hashlib.sha256(Buffer.data(view)).digest()
        chunk.pending -= 1
        if chunk.pending == 0:
            self._finish(chunk)

    def _finish(self, chunk: _Chunk) -> None:
        self._active -= 1
        self.bytes_verified += chunk.length
        if chunk.tokens[0] != chunk.tokens[1] and (self.mismatch is None or chunk.offset < self.mismatch[0]):
            self.mismatch = _narrow(chunk)
        for buf in chunk.bufs:
            if buf is not None:
                self._free.append(buf)
        self._folded[chunk.seq] = (chunk.tokens[0], chunk.tokens[1])
        while self._next_fold in self._folded:
            src_token, dst_token = self._folded.pop(self._next_fold)
            self._digests[0].update(src_token)
            self._digests[1].update(dst_token)
            self._next_fold += 1

    def deadline(self, now: float) -> float:
        return min(now + 1.0, self._report.next_due) if self._report is not None else now + 1.0

    def tick(self, now: float) -> None:
        if self._report is not None:
            self._report(now, self.bytes_verified, self.bytes_total)

    def run(self) -> None:
        self.run_until(lambda: self._exhausted and self._active == 0 and self.idle())
        if self._report is not None:
            self._report(time.monotonic(), self.bytes_verified, self.bytes_total, force=True)


class _ReportHook:
    """Where a verification reports progress: its own reporter, or the copy's it follows."""

    def __init__(self, reporter: ProgressReporter, *, copied: int | None = None, zeroed: int = 0):
        self.reporter = reporter
        self.copied = copied
        self.zeroed = zeroed

    @property
    def next_due(self) -> float:
        return self.reporter.next_due

    def __call__(self, now: float, verified: int, total: int, force: bool = False) -> None:
        if self.copied is None:
            # On its own, a verification's progress is the bytes compared.
            self.reporter.bytes_total = total
            self.reporter.update(now, 0, 0, "verifying", force=force, phase_done=verified, phase_total=total,
                                 done=verified)
        else:
            self.reporter.update(now, self.copied, self.zeroed, "verifying", force=force, phase_done=verified,
                                 phase_total=total)


def verify(
    source_uri: str,
    target_uri: str,
    extents: Iterable | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    depth: int = DEFAULT_DEPTH,
    retries: int = 5,
    retry_delay: float = 0.25,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    progress: Callable[[Progress], object] | None = None,
    progress_jsonl: str | None = None,
    progress_interval: float = 0.25,
    report_to: _ReportHook | None = None,
) -> VerifyResult:
    """Compare the source and target over the whole disk or the given ``(offset, length)`` areas.

    Returns a :class:`VerifyResult` whose ``mismatch`` is the first differing range,
    or None when both sides are identical. Raises :class:`CopyError` if a side cannot
    be read. ``progress`` gets reports with ``phase="verifying"`` and ``bytes_done`` =
    bytes compared so far. (``report_to`` is how ``copy(verify=True)`` keeps one report stream.)
    """
    if chunk_size < BLOCK or chunk_size % BLOCK:
        raise ValueError(f"chunk_size must be a multiple of {BLOCK}")
    reporter = None
    if report_to is None and (progress is not None or progress_jsonl):
        reporter = ProgressReporter(0, 0, callback=progress, jsonl_path=progress_jsonl, interval=progress_interval)
        report_to = _ReportHook(reporter)
    engine = _VerifyEngine(
        source_uri, target_uri, extents, chunk_size=chunk_size, depth=depth, retries=retries, retry_delay=retry_delay,
        stall_timeout=stall_timeout, report=report_to,
    )
    started = time.monotonic()
    try:
        if engine.setup():
            engine.run()
    except BaseException:
        engine.close_all(hung=engine.hung_side)
        raise
    finally:
        if reporter is not None:
            reporter.close()
    engine.close_all()
    # Only after a clean run is no request using them.
    for buf in getattr(engine, "_free", ()):
        buf.give_back()
    matched = engine.mismatch is None
    return VerifyResult(
        matched=matched,
        mismatch=None if matched else (engine.mismatch[0], engine.mismatch[1]),
        first_difference=None if matched else engine.mismatch[2],
        bytes_total=engine.bytes_total,
        bytes_read=engine.bytes_read,
        seconds=time.monotonic() - started,
        source_sha256=engine._digests[0].hexdigest() if matched else None,
        target_sha256=engine._digests[1].hexdigest() if matched else None,
        chunk_size=chunk_size,
        reason=engine.reason,
    )
