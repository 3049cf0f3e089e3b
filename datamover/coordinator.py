"""A copy's coordinator: setup, the workers, checkpoints, progress and the final flush.

It opens both exports to learn their sizes and limits, works out the scope and what a
checkpoint says is already done, cuts the rest into stripes and starts the workers
(:mod:`datamover.worker`): several in threads only when both servers allow multi-conn,
which is what makes a flush on one connection cover the writes of all of them. It keeps
the checkpoint, the progress reports and the final flush. With one worker (a server
without multi-conn, e.g. the VDDK plugin) everything runs in the calling thread and
checkpoints flush on the worker's own connection.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator

from .checkpoint import Checkpoint
from .engine import TokenBucket, open_connection
from .errors import CopyError
from .nbd import PROTOCOL_MAX_PAYLOAD, Connection
from .progress import ProgressReporter
from .ranges import RangeSet, normalize_extents
from .worker import _CHECKPOINT, _Shared, _Worker

log = logging.getLogger("datamover")

# Workers take the scope in stripes of this much; the last stripe is the longest
# a worker can be left working alone.
STRIPE = 64 * 1024 * 1024
# Less work than this goes to one worker: extra connections and threads would cost a
# noticeable share of a copy this short.
PARALLEL_MIN_BYTES = 256 * 1024 * 1024


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


class _WorkerTotal:
    """A counter of the copy: the sum of the same-named counter of every worker."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, copy, owner=None) -> int:
        if copy is None:
            return self
        return sum(getattr(worker, self.name) for worker in copy.workers)


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
    bytes_copied = _WorkerTotal()
    bytes_zeroed = _WorkerTotal()
    bytes_read = _WorkerTotal()
    retries_used = _WorkerTotal()
    reconnects = _WorkerTotal()

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

    def progress(self, phase: str) -> None:
        self.reporter.update(time.monotonic(), self.bytes_copied, self.bytes_zeroed, phase, force=True)
