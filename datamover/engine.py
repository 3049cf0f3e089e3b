"""The asynchronous loop shared by copy and verify.

One loop drives its connections from one thread: it keeps up to ``depth`` commands
in flight per connection, waits in ``poll(2)`` (GIL released) and handles
completions in batches. libnbd moves the data in C; the loop only decides what to
send next. A copy runs one loop, or one per worker thread when both servers allow
multi-conn.

Failed commands are retried with exponential backoff on the same connection, or
on a fresh one if the connection died; after ``retries`` attempts the command's
error ends the run as a :class:`CopyError`.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import math
import time

from . import nbd
from .errors import CopyError
from .nbd import BLOCK_STATUS, KIND_NAMES, Command, Connection, NbdConnectError, Poller

log = logging.getLogger("datamover")

MAX_RETRY_DELAY = 10.0
# A request unanswered this long means a hung server (VDDK and NFS can hang rather than fail).
DEFAULT_STALL_TIMEOUT = 300.0


class TokenBucket:
    """Bandwidth cap: bytes may be sent when the bucket holds them; it refills at ``rate`` bytes/s.

    A request larger than the bucket may go once it is full and leaves the bucket in
    debt, so the long-run rate never exceeds ``rate`` whatever the request size.
    """

    def __init__(self, rate: float, burst: int):
        if rate <= 0:
            raise ValueError("bandwidth must be positive")
        self.rate = float(rate)
        self.capacity = float(max(burst, 1))
        # Start empty so even a short copy averages to the cap.
        self.tokens = 0.0
        self.stamp = time.monotonic()

    def take(self, n: int, now: float) -> float:
        """0 if ``n`` bytes may go now (and takes them), else seconds to wait."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        need = min(float(n), self.capacity)
        # The tolerance absorbs float rounding, which could otherwise ask for waits too small to advance the clock.
        if self.tokens >= need - 1e-6 * need:
            self.tokens -= n
            return 0.0
        return (need - self.tokens) / self.rate


def open_connection(side: str, uri: str, *, allocation: bool = False, name: str | None = None) -> Connection:
    """Connect to the ``side`` ("source"/"target") server; a failure is a :class:`CopyError`."""
    try:
        return Connection(uri, allocation=allocation, name=name or side)
    except NbdConnectError as exc:
        raise CopyError(
            f"cannot connect to the {side} {uri}: {exc.message}",
            operation="connect",
            uri=uri,
            server_message=exc.message,
        ) from None


class Engine:
    """Connections, the poll loop, completion dispatch and retries. Subclasses fill and handle."""

    def __init__(self, *, retries: int, retry_delay: float, stall_timeout: float = DEFAULT_STALL_TIMEOUT):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.retries = retries
        self.retry_delay = retry_delay
        self.stall_timeout = stall_timeout
        self.hung_side: str | None = None
        self._last_reply = time.monotonic()
        self.retries_used = 0
        self.reconnects = 0
        self._sink: list[Command] = []
        self._poller = Poller()
        self._retry_heap: list[tuple[float, int, Command]] = []
        self._seq = itertools.count()
        self._inflight = 0
        # fill() sets this when it holds work back until a time (bandwidth cap).
        self.wake_at = math.inf
        self._conns: dict[str, list[Connection]] = {}
        self._uris: dict[str, str] = {}
        self._allocation: dict[str, bool] = {}
        self._sizes: dict[str, int] = {}

    # -- connections
    def connect(self, side: str, uri: str, *, count: int = 1, allocation: bool = False) -> list[Connection]:
        self._uris[side] = uri
        self._allocation[side] = allocation
        conns = self._conns.setdefault(side, [])
        while len(conns) < count:
            conns.append(self._open(side, len(conns)))
        self._sizes.setdefault(side, conns[0].info.size)
        return conns

    def _open(self, side: str, index: int) -> Connection:
        uri = self._uris[side]
        conn = open_connection(side, uri, allocation=self._allocation[side], name=f"{side}{index}")
        conn.slot = (side, index)
        expected = self._sizes.get(side)
        if expected is not None and conn.info.size != expected:
            conn.close()
            raise CopyError(
                f"the {side} {uri} changed size from {expected} to {conn.info.size} bytes after a reconnect",
                operation="connect",
                uri=uri,
            )
        self._poller.add(conn)
        return conn

    def adopt(self, side: str, uri: str, conn: Connection, *, allocation: bool = False) -> None:
        """Take over a connection opened elsewhere (the coordinator's, for a single worker)."""
        self._uris[side] = uri
        self._allocation[side] = allocation
        conns = self._conns.setdefault(side, [])
        conn.slot = (side, len(conns))
        conns.append(conn)
        self._sizes.setdefault(side, conn.info.size)
        self._poller.add(conn)

    def _live(self, side: str, index: int) -> Connection:
        """The connection in that slot, reconnected first if it died."""
        conns = self._conns[side]
        conn = conns[index]
        if not conn.closed and not conn.is_dead():
            return conn
        self._poller.remove(conn)
        conn.close()
        fresh = self._open(side, index)
        conns[index] = fresh
        self.reconnects += 1
        log.warning("event=reconnected side=%s slot=%d uri=%s", side, index, self._uris[side])
        return fresh

    def close_all(self, *, hung: str | None = None) -> None:
        """Disconnect everything; a side that stopped answering (``hung``) is not waited for."""
        # Take the table first: whatever happens while disconnecting, nothing iterates
        # a dict that is being changed, and a second call finds nothing left to close.
        conns_by_side, self._conns = self._conns, {}
        for side, conns in conns_by_side.items():
            for conn in conns:
                self._poller.remove(conn)
                conn.close(timeout=0 if side == hung else nbd.DISCONNECT_TIMEOUT)

    # -- commands
    def submit(self, cmd: Command, conn: Connection) -> None:
        try:
            if cmd.kind == BLOCK_STATUS:
                # A retried query starts from a clean slate.
                cmd.tag.entries.clear()
                conn.submit_block_status(cmd, cmd.tag.add)
            else:
                conn.submit(cmd)
        except Exception as exc:  # libnbd refused it synchronously (dead handle, bad request)
            errnum, message = nbd.submit_error(exc)
            cmd.conn = conn
            self.failed(cmd, errnum, message)
            return
        self._inflight += 1

    def drain(self) -> None:
        sink = self._sink
        if not sink:
            return
        batch = sink[:]
        del sink[:]
        self._inflight -= len(batch)
        handle = self.handle
        for cmd in batch:
            if cmd.error:
                self.failed(cmd, cmd.error, None)
            else:
                handle(cmd)

    def handle(self, cmd: Command) -> None:
        raise TypeError(f"{type(self).__name__} must handle completions")

    def side_of(self, cmd: Command) -> str:
        return cmd.conn.slot[0]

    def failed(self, cmd: Command, errnum: int, message: str | None) -> None:
        conn = cmd.conn
        if message is None:
            if conn is not None and conn.last_error and (errnum == errno.ENOTCONN or conn.is_dead()):
                message = f"connection lost: {conn.last_error}"
            else:
                message = nbd.describe_errno(errnum)
        cmd.attempts += 1
        side = self.side_of(cmd)
        if cmd.attempts > self.retries:
            raise self.command_error(cmd, side, message)
        self.retries_used += 1
        delay = min(self.retry_delay * 2 ** (cmd.attempts - 1), MAX_RETRY_DELAY)
        log.warning(
            "event=retry op=%s side=%s offset=%d length=%d attempt=%d delay=%.2f error=%r",
            KIND_NAMES[cmd.kind], side, cmd.offset, cmd.length, cmd.attempts, delay, message,
        )
        heapq.heappush(self._retry_heap, (time.monotonic() + delay, next(self._seq), cmd))

    def command_error(self, cmd: Command, side: str, message: str) -> CopyError:
        op = KIND_NAMES[cmd.kind]
        uri = self._uris.get(side)
        if cmd.kind == nbd.FLUSH:
            where = ""
            offset = length = None
        else:
            where = f" of {cmd.length} bytes at offset {cmd.offset}"
            offset, length = cmd.offset, cmd.length
        return CopyError(
            f"{op}{where} failed on the {side} {uri} after {cmd.attempts} attempt(s): {message}",
            offset=offset,
            length=length,
            server_message=message,
            operation=op,
            uri=uri,
            attempts=cmd.attempts,
        )

    def retry_due(self, now: float) -> None:
        heap = self._retry_heap
        while heap and heap[0][0] <= now:
            _, _, cmd = heapq.heappop(heap)
            side, index = cmd.conn.slot
            try:
                conn = self._live(side, index)
            except CopyError as exc:
                # The server is still unreachable: that costs the command an attempt.
                self.failed(cmd, errno.ENOTCONN, exc.server_message or str(exc))
                continue
            self.submit(cmd, conn)

    # -- the loop
    def deadline(self, now: float) -> float:
        """Earliest time a subclass wants to run ``tick`` (default: in a second)."""
        return now + 1.0

    def fill(self, now: float) -> None:
        raise TypeError(f"{type(self).__name__} must fill")

    def tick(self, now: float) -> None:
        """Timers of the subclass (progress, checkpoints)."""

    def idle(self) -> bool:
        """Nothing in flight and nothing waiting to be retried."""
        return self._inflight == 0 and not self._retry_heap

    def _check_stall(self, now: float) -> None:
        """A server that stops answering must not hang the copy forever."""
        if self._inflight and now - self._last_reply > self.stall_timeout:
            sides = sorted({side for side, conns in self._conns.items() if any(c.in_flight() for c in conns if not c.closed)})
            side = sides[0] if sides else "target"
            self.hung_side = side
            raise CopyError(
                f"no reply from the {side} {self._uris.get(side)} for {self.stall_timeout:.0f} s "
                f"with {self._inflight} request(s) in flight",
                operation="timeout",
                uri=self._uris.get(side),
                server_message="no reply",
            )

    def run_until(self, finished) -> None:
        wait = self._poller.wait
        sink = self._sink
        heap = self._retry_heap
        fill = self.fill
        monotonic = time.monotonic
        now = self._last_reply = monotonic()
        fill(now)
        due = self.deadline(now)
        while not finished():
            timeout = min(due, self.wake_at)
            if heap and heap[0][0] < timeout:
                timeout = heap[0][0]
            wait(max(0, math.ceil((timeout - now) * 1000)))
            now = monotonic()
            if sink:
                self._last_reply = now
                self.drain()
            if heap and heap[0][0] <= now:
                self.retry_due(now)
            if now >= due:
                self._check_stall(now)
                self.tick(now)
                due = self.deadline(now)
            fill(now)
