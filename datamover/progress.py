"""Progress reports: a callback and/or a JSON-lines file, throttled to a few per second."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

MB = 1_000_000  # MB/s in reports are decimal megabytes, like vSphere's own counters

# Current speed is measured over this many seconds: long enough to smooth out
# bursts of zero requests, short enough to show a link slowing down.
RATE_WINDOW = 3.0


@dataclass(frozen=True)
class Progress:
    """One progress report. Byte counts cover the whole scope, including work resumed from a checkpoint."""

    bytes_done: int
    bytes_total: int
    current_mbps: float
    average_mbps: float
    eta_seconds: float | None
    bytes_copied: int
    bytes_zeroed: int
    bytes_skipped: int
    elapsed_seconds: float
    phase: str  # "copying", "flushing", "verifying" or "done"
    # Work of the current phase: the copy's bytes while copying, bytes compared while verifying.
    # Speeds and ETA are about this phase.
    phase_bytes_done: int = 0
    phase_bytes_total: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.bytes_done / self.bytes_total if self.bytes_total else 100.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["percent"] = round(self.percent, 2)
        return data


class ProgressReporter:
    """Turns counters into :class:`Progress` reports at most every ``interval`` seconds.

    Speeds count bytes done in this run (copied + zeroed): what the operator sees
    move. An exception raised by ``callback`` propagates and aborts the copy, which
    is how a caller cancels.
    """

    def __init__(
        self,
        bytes_total: int,
        bytes_skipped: int,
        *,
        callback: Callable[[Progress], object] | None = None,
        jsonl_path: str | None = None,
        interval: float = 0.25,
    ):
        self.bytes_total = bytes_total
        self.bytes_skipped = bytes_skipped
        self._callback = callback
        self._interval = interval
        self._jsonl = open(jsonl_path, "a", encoding="utf-8") if jsonl_path else None  # noqa: SIM115
        self._start = time.monotonic()
        self._next_due = self._start
        self._samples: deque[tuple[float, int]] = deque([(self._start, 0)])
        self._phase = "copying"
        self._phase_start = self._start
        self.last: Progress | None = None

    @property
    def active(self) -> bool:
        return self._callback is not None or self._jsonl is not None

    @property
    def next_due(self) -> float:
        return self._next_due

    def update(
        self,
        now: float,
        copied: int,
        zeroed: int,
        phase: str = "copying",
        *,
        force: bool = False,
        phase_done: int | None = None,
        phase_total: int | None = None,
        done: int | None = None,
    ) -> None:
        """Report if ``interval`` has passed (or ``force``). ``phase_done``/``phase_total``
        describe a phase with its own work, like verification after a copy; ``done``
        overrides ``bytes_done`` (a verification on its own reports bytes compared)."""
        if not self.active or (not force and now < self._next_due):
            return
        self._next_due = now + self._interval
        if done is None:
            done = self.bytes_skipped + copied + zeroed
        if phase_done is None:
            phase_done, phase_total, moved = done, self.bytes_total, copied + zeroed
        else:
            moved = phase_done
        if phase != self._phase and phase_total != self.bytes_total:
            # A new kind of work: its speed starts from zero.
            self._phase_start = now
            self._samples = deque([(now, 0)])
        self._phase = phase
        samples = self._samples
        samples.append((now, moved))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()
        span = now - samples[0][0]
        current = (moved - samples[0][1]) / span if span > 0 else 0.0
        elapsed = now - self._phase_start
        average = moved / elapsed if elapsed > 0 else 0.0
        remaining = max(phase_total - phase_done, 0)
        rate = current or average
        eta = remaining / rate if rate > 0 else (0.0 if remaining == 0 else None)
        self.emit(
            Progress(
                bytes_done=done,
                bytes_total=self.bytes_total,
                current_mbps=round(current / MB, 3),
                average_mbps=round(average / MB, 3),
                eta_seconds=None if eta is None else round(eta, 1),
                bytes_copied=copied,
                bytes_zeroed=zeroed,
                bytes_skipped=self.bytes_skipped,
                elapsed_seconds=round(now - self._start, 3),
                phase=phase,
                phase_bytes_done=phase_done,
                phase_bytes_total=phase_total,
            )
        )

    def emit(self, report: Progress) -> None:
        self.last = report
        if self._jsonl is not None:
            line = report.to_dict()
            line["time"] = round(time.time(), 3)
            self._jsonl.write(json.dumps(line) + "\n")
            self._jsonl.flush()
        if self._callback is not None:
            self._callback(report)

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
