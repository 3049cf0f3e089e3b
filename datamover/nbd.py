"""The one place that talks to libnbd (Debian's ``python3-libnbd``).

Everything else in ``datamover`` goes through :class:`Connection`, :class:`Command`
and :class:`Poller`: connections to an NBD URI, asynchronous commands whose
completion lands in a plain Python list, and a ``poll(2)`` loop over several
connections at once (libnbd's own ``poll`` only watches one handle).
"""

from __future__ import annotations

import errno as errno_mod
import os
import select
import socket
import threading
import time
from dataclasses import dataclass

import nbd as libnbd

# Command kinds, shared with the engines.
READ = 0
WRITE = 1
ZERO = 2
FLUSH = 3
BLOCK_STATUS = 4

KIND_NAMES = {READ: "read", WRITE: "write", ZERO: "zero", FLUSH: "flush", BLOCK_STATUS: "block status"}

# The NBD protocol caps a data payload at 32 MiB whatever the server says.
PROTOCOL_MAX_PAYLOAD = 32 * 1024 * 1024

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLL_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
_DIR_READ = libnbd.AIO_DIRECTION_READ
_DIR_WRITE = libnbd.AIO_DIRECTION_WRITE


class NbdConnectError(Exception):
    """Connecting or negotiating with an NBD server failed."""

    def __init__(self, uri: str, message: str, errnum: int | None = None):
        super().__init__(f"cannot connect to {uri}: {message}")
        self.uri = uri
        self.message = message
        self.errnum = errnum


def describe_errno(errnum: int) -> str:
    """An NBD server only sends an errno, so this is the whole of its message."""
    if not errnum:
        return "unknown error"
    name = errno_mod.errorcode.get(errnum)
    text = os.strerror(errnum)
    return f"{text} ({name})" if name else text


@dataclass(frozen=True)
class ExportInfo:
    """What the server told us about the export during the handshake."""

    size: int
    read_only: bool
    can_flush: bool
    can_zero: bool
    can_fast_zero: bool
    can_trim: bool
    can_multi_conn: bool
    has_allocation_map: bool
    min_block: int
    preferred_block: int
    max_block: int


class Command:
    """One asynchronous NBD command; the object itself is libnbd's completion callback.

    libnbd calls it (from inside ``notify_read``/``notify_write`` on our own thread)
    with a ctypes int holding the server's errno; we only record it and queue the
    command so the engine handles completions outside libnbd's locks.
    """

    __slots__ = ("kind", "offset", "length", "buf", "attempts", "conn", "error", "sink", "tag")

    def __init__(self, kind: int, offset: int, length: int, sink: list, buf=None, tag=None):
        self.kind = kind
        self.offset = offset
        self.length = length
        self.buf = buf
        self.attempts = 0
        self.conn: Connection | None = None
        self.error = 0
        self.sink = sink
        self.tag = tag

    def __call__(self, err) -> int:
        self.error = err.value
        self.sink.append(self)
        # 1 retires the command inside libnbd: we never poll cookies.
        return 1


class Buffer:
    """A reusable I/O buffer; ``view(n)`` gives libnbd a buffer of exactly n bytes.

    ``take``/``give_back`` keep a small process-wide pool: the agent copies disk after
    disk, and faulting in fresh megabytes costs ~0.4 ms per MiB on a VM (3% of a short
    incremental copy).
    """

    __slots__ = ("size", "_array", "_full")

    _pool: dict[int, list[Buffer]] = {}
    _pool_lock = threading.Lock()
    _pooled = 0

    def __init__(self, size: int):
        self.size = size
        self._array = bytearray(size)
        self._full = libnbd.Buffer.from_buffer(self._array)

    @classmethod
    def take(cls, size: int) -> Buffer:
        with cls._pool_lock:
            free = cls._pool.get(size)
            if free:
                Buffer._pooled -= size
                return free.pop()
        return cls(size)

    def give_back(self) -> None:
        """Return a buffer no request uses any more."""
        with self._pool_lock:
            if Buffer._pooled + self.size <= POOL_LIMIT:
                self._pool.setdefault(self.size, []).append(self)
                Buffer._pooled += self.size

    def view(self, length: int):
        if length == self.size:
            return self._full
        return libnbd.Buffer.from_buffer(memoryview(self._array)[:length])

    @staticmethod
    def is_zero(view) -> bool:
        return view.is_zero()

    @staticmethod
    def data(view):
        """The bytes of a view returned by :meth:`view` (no copy)."""
        return view.to_buffer()


# Idle buffers kept for the next copy in this process.
POOL_LIMIT = 64 * 1024 * 1024

# How long a closing connection waits for the server to finish what is in flight.
DISCONNECT_TIMEOUT = 5.0

# A 256 KiB write does not fit the default Unix socket send buffer (208 KiB): libnbd
# then needs a second wakeup per request. A bigger buffer measured ~15% less CPU.
SEND_BUFFER = 4 * 1024 * 1024


def _grow_send_buffer(fd: int) -> None:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < SEND_BUFFER:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    except OSError:
        pass  # capped or refused by the kernel: the default works, only slower
    finally:
        sock.close()


class Connection:
    """One NBD connection, used asynchronously.

    ``allocation=True`` asks for the ``base:allocation`` metadata context so the
    connection can answer block status.
    """

    def __init__(self, uri: str, *, allocation: bool = False, name: str | None = None):
        self.uri = uri
        self.last_error: str | None = None
        handle = libnbd.NBD()
        if name:
            handle.set_handle_name(name)
        if allocation:
            handle.add_meta_context(libnbd.CONTEXT_BASE_ALLOCATION)
        # We never look at a buffer whose read failed, so libnbd need not memset it.
        handle.set_pread_initialize(False)
        try:
            handle.connect_uri(uri)
        except libnbd.Error as exc:
            raise NbdConnectError(uri, exc.string, exc.errnum) from None
        self._h = handle
        try:
            self.info = self._read_info(allocation)
            self.fd = handle.aio_get_fd()
        except libnbd.Error as exc:
            self.close()
            raise NbdConnectError(uri, exc.string, exc.errnum) from None
        _grow_send_buffer(self.fd)

    def _read_info(self, allocation: bool) -> ExportInfo:
        h = self._h
        return ExportInfo(
            size=h.get_size(),
            read_only=bool(h.is_read_only()),
            can_flush=bool(h.can_flush()),
            can_zero=bool(h.can_zero()),
            can_fast_zero=bool(h.can_fast_zero()),
            can_trim=bool(h.can_trim()),
            can_multi_conn=bool(h.can_multi_conn()),
            has_allocation_map=bool(allocation and h.can_meta_context(libnbd.CONTEXT_BASE_ALLOCATION)),
            min_block=h.get_block_size(libnbd.SIZE_MINIMUM) or 1,
            preferred_block=h.get_block_size(libnbd.SIZE_PREFERRED) or 4096,
            max_block=h.get_block_size(libnbd.SIZE_MAXIMUM) or PROTOCOL_MAX_PAYLOAD,
        )

    # -- submission: each returns normally or raises libnbd's error, which the
    #    engines turn into a failed command.
    def submit(self, cmd: Command) -> None:
        """Send ``cmd`` (READ/WRITE need ``cmd.buf`` to be a view of ``cmd.length`` bytes)."""
        cmd.conn = self
        kind = cmd.kind
        h = self._h
        if kind == READ:
            h.aio_pread(cmd.buf, cmd.offset, cmd)
        elif kind == WRITE:
            h.aio_pwrite(cmd.buf, cmd.offset, cmd)
        elif kind == ZERO:
            h.aio_zero(cmd.length, cmd.offset, cmd)
        elif kind == FLUSH:
            h.aio_flush(cmd)
        else:
            raise ValueError(f"use submit_block_status for kind {kind}")

    def submit_block_status(self, cmd: Command, on_extents) -> None:
        """Ask for ``base:allocation`` over cmd's range.

        ``on_extents(offset, [(length, is_zero), ...])`` is called before the command
        completes; ``is_zero`` means the server guarantees the range reads as zeroes.
        """
        cmd.conn = self

        def extent_cb(metacontext, offset, entries, err):
            if metacontext == libnbd.CONTEXT_BASE_ALLOCATION:
                on_extents(
                    offset,
                    [(entries[i], bool(entries[i + 1] & libnbd.STATE_ZERO)) for i in range(0, len(entries), 2)],
                )
            return 0

        self._h.aio_block_status(cmd.length, cmd.offset, extent_cb, cmd)

    # -- event loop plumbing
    def direction(self) -> int:
        return self._h.aio_get_direction()

    def in_flight(self) -> int:
        return self._h.aio_in_flight()

    def is_dead(self) -> bool:
        return bool(self._h.aio_is_dead() or self._h.aio_is_closed())

    # -- synchronous helpers for setup and last-chance checkpointing
    def flush_sync(self) -> None:
        self._h.flush()

    def close(self, *, timeout: float = DISCONNECT_TIMEOUT) -> None:
        """Disconnect politely, waiting at most ``timeout`` seconds for the server.

        Dropping a socket with replies still due can crash nbdkit 1.32 (an assertion
        in its send path), so the server is told to disconnect and given time to finish
        what is in flight; a hung server is abandoned after ``timeout``.
        """
        handle = getattr(self, "_h", None)
        if handle is None:
            return
        try:
            if timeout > 0 and not (handle.aio_is_dead() or handle.aio_is_closed()):
                handle.aio_disconnect(0)
                deadline = time.monotonic() + timeout
                while not (handle.aio_is_closed() or handle.aio_is_dead()):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    handle.poll(max(1, int(left * 1000)))
        except libnbd.Error:
            pass
        finally:
            # The bindings close the handle when its last reference goes.
            self._h = None

    @property
    def closed(self) -> bool:
        return getattr(self, "_h", None) is None


def submit_error(exc: BaseException) -> tuple[int, str]:
    """Errno and text of an error raised while submitting a command."""
    if isinstance(exc, libnbd.Error):
        return exc.errnum or errno_mod.EIO, exc.string
    return errno_mod.EIO, str(exc)


class Poller:
    """Waits on several connections and lets libnbd progress on the ready ones.

    This runs once per wakeup, tens of thousands of times per GiB, so it only
    re-registers a descriptor when libnbd's wanted direction changed.
    """

    def __init__(self) -> None:
        self._poll = select.poll()
        self._by_fd: dict[int, Connection] = {}
        self._events: dict[int, int] = {}

    def add(self, conn: Connection) -> None:
        self._by_fd[conn.fd] = conn
        self._events.pop(conn.fd, None)

    def remove(self, conn: Connection) -> None:
        if self._by_fd.get(conn.fd) is conn:
            del self._by_fd[conn.fd]
            if self._events.pop(conn.fd, None) is not None:
                self._poll.unregister(conn.fd)

    def wait(self, timeout_ms: int) -> None:
        poll = self._poll
        registered = self._events
        for fd, conn in self._by_fd.items():
            h = conn._h
            if h is None:
                continue
            d = h.aio_get_direction()
            events = (_POLLIN if d & _DIR_READ else 0) | (_POLLOUT if d & _DIR_WRITE else 0)
            if registered.get(fd) != events:
                poll.register(fd, events)
                registered[fd] = events
        by_fd = self._by_fd
        for fd, revents in poll.poll(timeout_ms):
            conn = by_fd.get(fd)
            if conn is None or conn._h is None:
                continue
            try:
                if revents & _POLL_READABLE:
                    conn._h.aio_notify_read()
                elif revents & _POLLOUT:
                    conn._h.aio_notify_write()
            except libnbd.Error as exc:
                # The handle is now dead and libnbd has failed every command in
                # flight (their callbacks ran with ENOTCONN); keep the reason.
                conn.last_error = exc.string
