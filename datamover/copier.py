"""Copy an NBD export to another: full (allocated data only) or incremental (changed areas).

A copy is a coordinator and one or more workers. Each worker is an asynchronous
loop (:class:`~datamover.engine.Engine`) with its own connection to each server; it
takes the next stripe of work (up to 64 MiB of the scope), asks the source which
parts are holes, reads the data, turns blocks that read as zeroes into zero
requests and writes the rest. Several workers (threads, one connection pair each)
run only when both servers allow multi-conn, which is what makes a flush on one
connection cover the writes of all of them. The coordinator keeps the checkpoint,
the progress reports and the final flush.

With one worker (a server without multi-conn, e.g. the VDDK plugin) everything runs
in the calling thread and checkpoints flush on the worker's own connection.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

from .allocation import AllocationMap, Planner
from .checkpoint import Checkpoint
from .engine import DEFAULT_STALL_TIMEOUT, Engine, TokenBucket, open_connection
from .errors import CopyError, VerificationError
from .nbd import BLOCK_STATUS, FLUSH, PROTOCOL_MAX_PAYLOAD, READ, WRITE, ZERO, Buffer, Command, Connection
from .progress import MB, Progress, ProgressReporter
from .ranges import RangeSet, normalize_extents

log = logging.getLogger("datamover")

# Defaults measured with bench/tune_datamover.py on loopback (see docs/datamover.md).
DEFAULT_REQUEST_SIZE = 1024 * 1024
DEFAULT_DEPTH = 16  # requests in flight per connection
# Connections (worker threads) per side, used when both servers allow multi-conn. One on
# the 2-core lab: it costs the three processes ~10% less CPU than two, for the same speed.
DEFAULT_CONNECTIONS = 1
DEFAULT_RETRIES = 5
DEFAULT_RETRY_DELAY = 0.25
DEFAULT_CHECKPOINT_INTERVAL = 5.0
# One zero request never covers more than this: servers without fast zeroing
# write real zeroes, and a bounded request keeps progress and retries fine-grained.
ZERO_CHUNK = 64 * 1024 * 1024
# Workers take the scope in stripes of this much; the last stripe is the longest
# a worker can be left working alone.
STRIPE = 64 * 1024 * 1024
# Ask for the allocation map again when less than this much of it is left ahead.
MAP_LOOKAHEAD = 256 * 1024 * 1024
# Less work than this goes to one worker: extra connections and threads would cost a
# noticeable share of a copy this short.
PARALLEL_MIN_BYTES = 256 * 1024 * 1024
# A worker thread looks at the abort flag at least this often.
WORKER_WAKEUP = 0.2

# Tags telling a command's origin, for accounting.
_ZERO_PIECE = "zero-piece"
_DETECTED = "zero-detected"
_CHECKPOINT = "checkpoint"
_FINAL = "final"


@dataclass
class CopyResult:
    """What a copy did. ``bytes_copied + bytes_zeroed + bytes_skipped == bytes_total``."""

    source_uri: str
    target_uri: str
    bytes_total: int  # bytes in scope: the whole disk, or the sum of the changed areas
    bytes_copied: int  # data bytes read from the source and written to the target
    bytes_zeroed: int  # bytes made zero with zero requests (holes, and data that read as zeroes)
    bytes_skipped: int  # bytes a checkpoint said were already done
    bytes_read: int  # data bytes read from the source (copied + zero-detected)
    seconds: float
    verified: bool | None
    incremental: bool
    retries: int
    reconnects: int
    connections: int  # connections per side actually used
    request_size: int
    depth: int
    checkpoint: str | None = None
    verify_result: object | None = None

    @property
    def average_mbps(self) -> float:
        done = self.bytes_copied + self.bytes_zeroed
        return done / self.seconds / MB if self.seconds else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["average_mbps"] = round(self.average_mbps, 3)
        data["verify_result"] = self.verify_result.to_dict() if self.verify_result is not None else None
        return data


class _Aborted(Exception):
    """Another worker failed or the copy was cancelled: stop quietly."""


def stripes(todo: list[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    """Group the ranges still to do into stripes spanning at most ``size`` bytes of the disk."""
    current: list[tuple[int, int]] = []
    base = 0
    for start, end in todo:
        while start < end:
            if current and start >= base + size:
                yield current
                current = []
            if not current:
                base = start
            cut = min(end, base + size)
            current.append((start, cut))
            start = cut
            if start < end:
                yield current
                current = []
    if current:
        yield current


class _Shared:
    """What the workers share: the stripes to do, finished ranges, the bandwidth cap, the abort flag."""

    def __init__(self, work: Iterator[list[tuple[int, int]]], bucket: TokenBucket | None):
        self._lock = threading.Lock()
        self._work = work
        self._bucket = bucket
        # Finished ranges, appended by workers and drained by the coordinator (deque ops are atomic).
        self.completed: deque[tuple[int, int]] = deque()
        self.abort = False

    def next_stripe(self) -> list[tuple[int, int]] | None:
        with self._lock:
            return next(self._work, None)

    def take(self, n: int, now: float) -> float:
        if self._bucket is None:
            return 0.0
        with self._lock:
            return self._bucket.take(n, now)


class _Worker(Engine):
    """Moves data for stripes of the scope over one connection per side."""

    def __init__(
        self,
        shared: _Shared,
        index: int,
        *,
        size: int,
        request_size: int,
        depth: int,
        use_zero: bool,
        target_is_zero: bool,
        allocation: bool,
        retries: int,
        retry_delay: float,
        stall_timeout: float,
        coordinator: _Copy | None = None,
    ):
        super().__init__(retries=retries, retry_delay=retry_delay, stall_timeout=stall_timeout)
        self.index = index
        self._shared = shared
        self._completed = shared.completed
        self._size = size
        self._request_size = request_size
        self._depth = depth
        self._use_zero = use_zero
        self._zero_chunk = ZERO_CHUNK if use_zero else request_size
        self._zero_buffer = None if use_zero else Buffer(request_size)
        self._target_is_zero = target_is_zero
        self._has_map = allocation
        # With a coordinator in the same thread (one worker), it runs the timers.
        self._coordinator = coordinator
        self._free: list[Buffer] = []
        self._buffers = 0
        self._planner: Planner | None = None
        self._map: AllocationMap | None = None
        self._held = None
        self._zero_inflight = 0
        self.exhausted = False
        self.bytes_copied = 0
        self.bytes_zeroed = 0
        self.bytes_read = 0
        self._final_pending = 0
        self.error: BaseException | None = None
        # Set once the thread has closed its connections. The coordinator waits on this
        # rather than on Thread.join: a join interrupted by a signal handler's exception
        # (SIGTERM in the CLI) can report the thread finished while it is still running.
        self.finished = threading.Event()

    def adopt_or_connect(self, source_uri: str, target_uri: str, src: Connection | None, dst: Connection | None) -> None:
        if src is not None:
            self.adopt("source", source_uri, src, allocation=True)
            self.adopt("target", target_uri, dst)
        else:
            self.connect("source", source_uri, allocation=True)
            self.connect("target", target_uri)
        # The lists, not the connections: a reconnect replaces the connection in place.
        self._srcs = self._conns["source"]
        self._dsts = self._conns["target"]

    # -- issuing work
    def _next_stripe(self) -> bool:
        stripe = self._shared.next_stripe()
        if stripe is None:
            self.exhausted = True
            self._planner = None
            return False
        self._map = AllocationMap(stripe, self._size, available=self._has_map)
        self._planner = Planner(stripe, self._map, request_size=self._request_size, zero_chunk=self._zero_chunk)
        return True

    def _buffer(self) -> Buffer | None:
        if self._free:
            return self._free.pop()
        if self._buffers < self._depth:
            # Taken on first need: a small incremental copy never holds the whole depth.
            self._buffers += 1
            return Buffer.take(self._request_size)
        return None

    def release_buffers(self) -> None:
        """Give the idle buffers back to the pool (those of requests still in flight are dropped)."""
        for buf in self._free:
            buf.give_back()
        self._free = []

    def fill(self, now: float) -> None:
        shared = self._shared
        if shared.abort:
            raise _Aborted
        sink = self._sink
        self.wake_at = math.inf
        while True:
            piece = self._held
            if piece is None:
                planner = self._planner
                if planner is None:
                    if self.exhausted or not self._next_stripe():
                        break
                    planner = self._planner
                piece = planner.next_piece()
                if piece is None:
                    if not self._next_stripe():
                        break
                    continue
                if piece is Planner.NEED_MAP:
                    self._request_map()
                    break
            kind, offset, length = piece
            if kind == Planner.DATA:
                buf = self._buffer()
                if buf is None:
                    self._held = piece
                    break
                wait = shared.take(length, now)
                if wait > 0:
                    self._free.append(buf)
                    self._held = piece
                    self.wake_at = now + wait
                    break
                self.submit(Command(READ, offset, length, sink, buf.view(length), buf), self._srcs[0])
            elif self._target_is_zero:
                self._completed.append((offset, offset + length))
                self.bytes_zeroed += length
            else:
                if self._zero_inflight >= self._depth:
                    self._held = piece
                    break
                self._zero_inflight += 1
                self._send_zero(Command(ZERO, offset, length, sink, None, _ZERO_PIECE))
            self._held = None
        if self._planner is not None and self._map.needs_request(self._planner.pos, MAP_LOOKAHEAD):
            self._request_map()

    def _send_zero(self, cmd: Command) -> None:
        if not self._use_zero:
            # The target cannot zero: write a zero-filled buffer instead.
            cmd.kind = WRITE
            cmd.buf = self._zero_buffer.view(cmd.length)
        self.submit(cmd, self._dsts[0])

    def _request_map(self) -> None:
        amap = self._map
        pos = self._planner.pos
        while (window := amap.next_request(pos)) is not None:
            self.submit(Command(BLOCK_STATUS, window.start, window.end - window.start, self._sink, None, window),
                        self._srcs[0])
            if not amap.needs_request(pos, MAP_LOOKAHEAD):
                break

    # -- completions
    def handle(self, cmd: Command) -> None:
        kind = cmd.kind
        if kind == READ:
            self.bytes_read += cmd.length
            cmd.attempts = 0
            if cmd.buf.is_zero():
                # Data that reads as zeroes becomes a zero request: cheaper, and holes stay holes.
                self._free.append(cmd.tag)
                if self._target_is_zero:
                    self._completed.append((cmd.offset, cmd.offset + cmd.length))
                    self.bytes_zeroed += cmd.length
                    return
                cmd.kind = ZERO
                cmd.buf = None
                cmd.tag = _DETECTED
                self._send_zero(cmd)
            else:
                cmd.kind = WRITE
                self.submit(cmd, self._dsts[0])
        elif kind == WRITE or kind == ZERO:
            tag = cmd.tag
            if tag == _ZERO_PIECE:
                self._zero_inflight -= 1
                self.bytes_zeroed += cmd.length
            elif tag == _DETECTED:
                self.bytes_zeroed += cmd.length
            else:
                self._free.append(tag)
                self.bytes_copied += cmd.length
            self._completed.append((cmd.offset, cmd.offset + cmd.length))
        elif kind == FLUSH:
            if cmd.tag == _FINAL:
                self._final_pending -= 1
            else:
                self._coordinator.flushed()
        elif kind == BLOCK_STATUS:
            window = cmd.tag
            window.owner.complete(window)

    def send_flush(self, tag: str) -> None:
        if tag == _FINAL:
            self._final_pending += 1
        self.submit(Command(FLUSH, 0, 0, self._sink, None, tag), self._dsts[0])

    # -- timers (only with a coordinator in this thread)
    def deadline(self, now: float) -> float:
        if self._coordinator is None:
            return now + WORKER_WAKEUP
        return self._coordinator.deadline(now)

    def tick(self, now: float) -> None:
        if self._coordinator is not None:
            self._coordinator.tick(now)

    # -- phases
    def copy(self) -> None:
        self.run_until(lambda: self._held is None and self.exhausted and self.idle())

    def flush(self) -> None:
        self.send_flush(_FINAL)
        self.run_until(lambda: self._final_pending == 0 and self.idle())

    def run_thread(self) -> None:
        try:
            self.copy()
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the coordinator, which raises it
            self.error = exc
            self._shared.abort = True
        finally:
            try:
                self.close_all(hung=self.hung_side)
                self.release_buffers()
            finally:
                self.finished.set()


class _Copy:
    """The coordinator: setup, workers, checkpoint, progress, final flush."""

    def __init__(self, source_uri: str, target_uri: str, extents: Iterable | None, *, request_size: int, depth: int,
                 connections: int, retries: int, retry_delay: float, bandwidth: float | None, target_is_zero: bool,
                 checkpoint: str | None, checkpoint_interval: float, stall_timeout: float, reporter_args: dict):
        if request_size < 512 or depth < 1 or connections < 1:
            raise ValueError("request_size must be >= 512, depth and connections >= 1")
        self.source_uri = source_uri
        self.target_uri = target_uri
        self._extents = extents
        self.request_size = request_size
        self.depth = depth
        self.connections = connections
        self._retries = retries
        self._retry_delay = retry_delay
        self._stall_timeout = stall_timeout
        self._bandwidth = bandwidth
        self._target_is_zero = target_is_zero
        self._checkpoint_path = checkpoint
        self._checkpoint_interval = checkpoint_interval
        self._reporter_args = reporter_args
        self.reporter: ProgressReporter | None = None
        self.scope: list[tuple[int, int]] = []
        self.bytes_total = 0
        self.bytes_skipped = 0
        self.workers: list[_Worker] = []
        self._checkpoint: Checkpoint | None = None
        self._done = RangeSet()
        self._saved_total = -1
        self._ckpt_due = 0.0
        self._ckpt_snapshot: RangeSet | None = None
        self._ckpt_pending = False
        self._src: Connection | None = None
        self._dst: Connection | None = None
        self.hung_side: str | None = None

    # -- counters over all workers
    @property
    def bytes_copied(self) -> int:
        return sum(w.bytes_copied for w in self.workers)

    @property
    def bytes_zeroed(self) -> int:
        return sum(w.bytes_zeroed for w in self.workers)

    @property
    def bytes_read(self) -> int:
        return sum(w.bytes_read for w in self.workers)

    # -- setup
    def setup(self) -> None:
        # The coordinator's own connections: to learn both exports, and (with several
        # workers) to flush. A refused connection is a CopyError like any other.
        self._src = open_connection("source", self.source_uri, allocation=True)
        self._dst = open_connection("target", self.target_uri)
        sinfo, dinfo = self._src.info, self._dst.info
        if dinfo.read_only:
            raise CopyError(f"the target {self.target_uri} is read-only", operation="connect", uri=self.target_uri)
        if dinfo.size < sinfo.size:
            raise CopyError(
                f"the target ({dinfo.size} bytes) is smaller than the source ({sinfo.size} bytes)",
                operation="connect",
                uri=self.target_uri,
            )
        size = sinfo.size
        align = max(sinfo.min_block, dinfo.min_block)
        if self._extents is None:
            self.scope = [(0, size)] if size else []
        else:
            self.scope = normalize_extents(self._extents, size, align)
        self.bytes_total = sum(end - start for start, end in self.scope)
        limit = min(sinfo.max_block, dinfo.max_block, PROTOCOL_MAX_PAYLOAD)
        self.request_size = max(align, min(self.request_size, limit) // align * align)
        self._can_flush = dinfo.can_flush
        if not self._can_flush:
            log.warning("event=target_cannot_flush target=%s consequence=no_durability_guarantee", self.target_uri)

        done = RangeSet()
        if self._checkpoint_path:
            checkpoint = Checkpoint(self._checkpoint_path, source_size=size, target_size=dinfo.size, scope=self.scope,
                                    source=self.source_uri, target=self.target_uri)
            done = checkpoint.load()
            # Only now: a checkpoint that failed to load must never be overwritten.
            self._checkpoint = checkpoint
            self._saved_total = done.total()
        todo = done.missing_from(self.scope)
        self._done = done
        self.bytes_skipped = self.bytes_total - sum(end - start for start, end in todo)

        # Several workers only where the servers promise their connections see each other's writes.
        workers = self.connections if (sinfo.can_multi_conn and dinfo.can_multi_conn) else 1
        if self.bytes_total - self.bytes_skipped < PARALLEL_MIN_BYTES:
            workers = 1
        # Fewer connections than asked keep the same number of requests in flight.
        self.depth = max(1, self.depth * self.connections // workers)
        work = stripes(todo, STRIPE) if workers > 1 else iter([todo] if todo else [])
        bucket = None
        if self._bandwidth:
            bucket = TokenBucket(self._bandwidth, max(self.request_size, int(self._bandwidth / 10)))
        self._shared = _Shared(work, bucket)
        for index in range(workers):
            worker = _Worker(
                self._shared, index, size=size, request_size=self.request_size, depth=self.depth,
                use_zero=dinfo.can_zero, target_is_zero=self._target_is_zero,
                allocation=sinfo.has_allocation_map, retries=self._retries, retry_delay=self._retry_delay,
                stall_timeout=self._stall_timeout, coordinator=self if workers == 1 else None,
            )
            self.workers.append(worker)
            if workers == 1:
                # One worker runs in this thread on the coordinator's connections.
                worker.adopt_or_connect(self.source_uri, self.target_uri, self._src, self._dst)
                self._src = self._dst = None
            else:
                worker.adopt_or_connect(self.source_uri, self.target_uri, None, None)
        if self._src is not None:
            # The workers have their own; the coordinator keeps only the target, to flush.
            self._src.close()
            self._src = None
        self.reporter = ProgressReporter(self.bytes_total, self.bytes_skipped, **self._reporter_args)
        self._ckpt_due = time.monotonic() + self._checkpoint_interval
        log.info(
            "event=copy_start source=%s target=%s size=%d scope_bytes=%d skipped=%d incremental=%s "
            "request_size=%d depth=%d connections=%d allocation_map=%s",
            self.source_uri, self.target_uri, size, self.bytes_total, self.bytes_skipped, self._extents is not None,
            self.request_size, self.depth, workers, sinfo.has_allocation_map,
        )

    # -- timers
    def deadline(self, now: float) -> float:
        due = now + 1.0
        if self.reporter.active:
            due = min(due, self.reporter.next_due)
        if self._checkpoint is not None:
            due = min(due, self._ckpt_due)
        return due

    def _drain(self) -> None:
        completed = self._shared.completed
        done = self._done
        while completed:
            start, end = completed.popleft()
            done.add(start, end)

    def tick(self, now: float) -> None:
        self.reporter.update(now, self.bytes_copied, self.bytes_zeroed)
        if self._checkpoint is None or now < self._ckpt_due or self._ckpt_pending:
            return
        self._ckpt_due = now + self._checkpoint_interval
        self._drain()
        if self._done.total() == self._saved_total:
            return
        # Snapshot first: the flush covers every write completed before it is sent.
        self._ckpt_snapshot = self._done.copy()
        if not self._can_flush:
            self._save_checkpoint(self._ckpt_snapshot)
        elif len(self.workers) == 1:
            self._ckpt_pending = True
            self.workers[0].send_flush(_CHECKPOINT)
        else:
            self._flush_sync()
            self._save_checkpoint(self._ckpt_snapshot)

    def flushed(self) -> None:
        """The single worker's checkpoint flush completed."""
        self._ckpt_pending = False
        self._save_checkpoint(self._ckpt_snapshot)

    def _flush_sync(self) -> None:
        """Flush on the coordinator's connection (it covers the workers': multi-conn), reconnecting if it dropped."""
        for attempt in range(self._retries + 1):
            try:
                if self._dst is None or self._dst.closed or self._dst.is_dead():
                    if self._dst is not None:
                        self._dst.close(timeout=0)
                    self._dst = open_connection("target", self.target_uri)
                self._dst.flush_sync()
                return
            except Exception as exc:
                if attempt == self._retries:
                    message = exc.server_message if isinstance(exc, CopyError) and exc.server_message else str(exc)
                    raise CopyError(
                        f"flush failed on the target {self.target_uri} after {attempt + 1} attempt(s): {message}",
                        operation="flush", uri=self.target_uri, server_message=message, attempts=attempt + 1,
                    ) from None
                log.warning("event=retry op=flush side=target attempt=%d error=%r", attempt + 1, str(exc))
                time.sleep(min(self._retry_delay * 2**attempt, 10.0))

    def _save_checkpoint(self, snapshot: RangeSet | None, *, complete: bool = False) -> None:
        if self._checkpoint is None or snapshot is None:
            return
        self._checkpoint.save(snapshot, complete=complete)
        self._saved_total = snapshot.total()
        log.debug("event=checkpoint_saved path=%s bytes_done=%d", self._checkpoint.path, self._saved_total)

    # -- phases
    def run(self) -> None:
        if len(self.workers) == 1:
            worker = self.workers[0]
            worker.copy()
            self.reporter.update(time.monotonic(), self.bytes_copied, self.bytes_zeroed, "flushing", force=True)
            if self._can_flush:
                worker.flush()
        else:
            self._run_threads()
            self.reporter.update(time.monotonic(), self.bytes_copied, self.bytes_zeroed, "flushing", force=True)
            if self._can_flush:
                self._flush_sync()
        self._drain()
        if self._checkpoint is not None:
            self._save_checkpoint(self._done.copy(), complete=self._done.total() >= self.bytes_total)

    def _run_threads(self) -> None:
        threads = [
            threading.Thread(target=worker.run_thread, name=f"datamover-worker-{worker.index}", daemon=True)
            for worker in self.workers
        ]
        for thread in threads:
            thread.start()
        try:
            while alive := [thread for thread in threads if thread.is_alive()]:
                now = time.monotonic()
                alive[0].join(max(0.0, min(self.deadline(now) - now, 1.0)))
                now = time.monotonic()
                if self._shared.abort:
                    break
                if now >= self.deadline(now) - 0.001:
                    self.tick(now)
        except BaseException:
            self._shared.abort = True
            raise
        finally:
            for worker in self.workers:
                worker.finished.wait()
        for worker in self.workers:
            if worker.error is not None:
                if worker.hung_side:
                    self.hung_side = worker.hung_side
                raise worker.error

    def salvage_checkpoint(self) -> None:
        """After a failure not caused by the target, keep what is provably on it for the next run."""
        if self._checkpoint is None:
            return
        self._drain()
        if self._done.total() == self._saved_total:
            return
        snapshot = self._done.copy()
        try:
            if self._can_flush:
                if len(self.workers) == 1:
                    conn = self.workers[0]._dsts[0]
                    if conn.closed or conn.is_dead():
                        return
                    conn.flush_sync()
                else:
                    self._dst.flush_sync()
            self._save_checkpoint(snapshot)
        except Exception as exc:  # best effort: the run is already failing
            log.warning("event=checkpoint_salvage_failed error=%r", exc)

    def forget_checkpoint(self) -> None:
        if self._checkpoint is not None:
            try:
                os.unlink(self._checkpoint.path)
            except FileNotFoundError:
                pass

    def close(self, *, failed: bool = False) -> None:
        for worker in self.workers:
            worker.close_all(hung=worker.hung_side if failed else None)
            worker.release_buffers()
        for conn in (self._src, self._dst):
            if conn is not None:
                conn.close(timeout=0 if failed and self.hung_side else 5.0)
        self._src = self._dst = None

    @property
    def retries_used(self) -> int:
        return sum(w.retries_used for w in self.workers)

    @property
    def reconnects(self) -> int:
        return sum(w.reconnects for w in self.workers)

    def progress(self, phase: str) -> None:
        self.reporter.update(time.monotonic(), self.bytes_copied, self.bytes_zeroed, phase, force=True)


def copy(
    source_uri: str,
    target_uri: str,
    extents: Iterable | None = None,
    *,
    progress: Callable[[Progress], object] | None = None,
    progress_jsonl: str | None = None,
    checkpoint: str | None = None,
    verify: bool = False,
    bandwidth: float | None = None,
    request_size: int = DEFAULT_REQUEST_SIZE,
    depth: int = DEFAULT_DEPTH,
    connections: int = DEFAULT_CONNECTIONS,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    target_is_zero: bool = False,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    progress_interval: float = 0.25,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
) -> CopyResult:
    """Copy ``source_uri`` to ``target_uri`` and flush the target.

    With ``extents=None`` the whole disk is in scope: the source's allocation map
    decides what is read, holes become zero requests on the target. With a list of
    ``(offset, length)`` changed areas only those bytes are in scope (zero blocks in
    them still become zero requests). ``checkpoint`` names a file that lets a later
    call with the same arguments resume; ``verify`` compares both sides afterwards
    and raises :class:`VerificationError` on a difference. ``bandwidth`` caps data
    read from the source in bytes/s. ``depth`` requests of ``request_size`` bytes are
    in flight on each of ``connections`` connections per side; when a server does not
    allow multi-conn (or the copy is small) one connection carries ``depth x
    connections`` requests.

    Raises :class:`CopyError` (with the failing offset and the server's error) once a
    request has failed ``retries`` + 1 times, or when a server leaves requests
    unanswered for ``stall_timeout`` seconds.
    """
    job = _Copy(
        source_uri, target_uri, extents, request_size=request_size, depth=depth, connections=connections,
        retries=retries, retry_delay=retry_delay, bandwidth=bandwidth, target_is_zero=target_is_zero,
        checkpoint=checkpoint, checkpoint_interval=checkpoint_interval, stall_timeout=stall_timeout,
        reporter_args={"callback": progress, "jsonl_path": progress_jsonl, "interval": progress_interval},
    )
    started = time.monotonic()
    try:
        job.setup()
        job.run()
    except BaseException as exc:
        for worker in job.workers:
            job.hung_side = job.hung_side or worker.hung_side
        if not (isinstance(exc, CopyError) and exc.uri == target_uri):
            job.salvage_checkpoint()
        job.close(failed=True)
        if job.reporter is not None:
            job.reporter.close()
        raise
    job.close()
    seconds = time.monotonic() - started
    result = CopyResult(
        source_uri=source_uri,
        target_uri=target_uri,
        bytes_total=job.bytes_total,
        bytes_copied=job.bytes_copied,
        bytes_zeroed=job.bytes_zeroed,
        bytes_skipped=job.bytes_skipped,
        bytes_read=job.bytes_read,
        seconds=seconds,
        verified=None,
        incremental=extents is not None,
        retries=job.retries_used,
        reconnects=job.reconnects,
        connections=len(job.workers),
        request_size=job.request_size,
        depth=job.depth,
        checkpoint=checkpoint,
    )
    try:
        if verify:
            from .verifier import _ReportHook
            from .verifier import verify as verify_disks

            outcome = verify_disks(
                source_uri,
                target_uri,
                [(start, end - start) for start, end in job.scope] if extents is not None else None,
                retries=retries,
                retry_delay=retry_delay,
                stall_timeout=stall_timeout,
                report_to=_ReportHook(job.reporter, copied=job.bytes_copied, zeroed=job.bytes_zeroed),
            )
            result.verify_result = outcome
            if not outcome.matched:
                if checkpoint:
                    # The checkpoint says "complete" but the target is wrong: the next run must copy again.
                    job.forget_checkpoint()
                offset, length = outcome.mismatch
                raise VerificationError(
                    f"verification failed: target differs from source at offset {offset} "
                    f"(length {length}){': ' + outcome.reason if outcome.reason else ''}",
                    result=outcome,
                    offset=offset,
                    length=length,
                    operation="verify",
                    uri=target_uri,
                )
            result.verified = True
        job.progress("done")
    finally:
        job.reporter.close()
    log.info(
        "event=copy_done source=%s target=%s copied=%d zeroed=%d skipped=%d seconds=%.3f retries=%d verified=%s",
        source_uri, target_uri, result.bytes_copied, result.bytes_zeroed, result.bytes_skipped,
        result.seconds, result.retries, result.verified,
    )
    return result
