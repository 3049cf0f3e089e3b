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

This module is the public door: :func:`copy`, its defaults and :class:`CopyResult`.
The coordinator lives in :mod:`datamover.coordinator`, the workers in :mod:`datamover.worker`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from .coordinator import _Copy
from .engine import DEFAULT_STALL_TIMEOUT
from .errors import CopyError, VerificationError
from .progress import MB, Progress

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
