"""A copy's worker: the asynchronous I/O loop that moves the data of its stripes.

Each worker is an :class:`~datamover.engine.Engine` with its own connection to each
server; it takes the next stripe of work from what the workers share, asks the source
which parts are holes, reads the data, turns blocks that read as zeroes into zero
requests and writes the rest. With one worker it runs in the coordinator's thread and
lets the coordinator (:mod:`datamover.coordinator`) run the timers; with several, each
runs in its own thread. This is the copy's hot path.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .allocation import AllocationMap, Planner
from .engine import Engine, TokenBucket
from .nbd import BLOCK_STATUS, FLUSH, READ, WRITE, ZERO, Buffer, Command, Connection

if TYPE_CHECKING:
    # Only for the annotation: the coordinator imports this module.
    from .coordinator import _Copy

# One zero request never covers more than this: servers without fast zeroing
# write real zeroes, and a bounded request keeps progress and retries fine-grained.
ZERO_CHUNK = 64 * 1024 * 1024
# Ask for the allocation map again when less than this much of it is left ahead.
MAP_LOOKAHEAD = 256 * 1024 * 1024
# A worker thread looks at the abort flag at least this often.
WORKER_WAKEUP = 0.2

# Tags telling a command's origin, for accounting.
_ZERO_PIECE = "zero-piece"
_DETECTED = "zero-detected"
_CHECKPOINT = "checkpoint"
_FINAL = "final"


class _Aborted(Exception):
    """Another worker failed or the copy was cancelled: stop quietly."""


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

