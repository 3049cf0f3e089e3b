"""A replication job's progress reports to the control plane, and the cancel that comes back in their answers.

`ProgressPusher` runs beside the copy in its own thread: at most one report per interval (only when
the job changed), a final retried report when the job ends, and a cancel when the control plane's
answer asks for one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from agent.errors import AgentError
from agent.jobs import Job
from agent.omaclient import OmaClient

log = logging.getLogger("agent.replication")


class ProgressPusher:
    """Pushes a job's progress to the control plane at most once per interval, off the copy path."""

    def __init__(self, job: Job, client: OmaClient, interval: float):
        self.job = job
        self.client = client
        self.interval = max(0.1, interval)
        self._stop = threading.Event()
        self._pushed_version = -1
        self._thread = threading.Thread(target=self._loop, name=f"progress-{job.job_id}", daemon=True)
        self._failures = 0
        # Held while a report is read and sent: `held()` lets the runner order its own calls after any report in
        # flight (a report read before the change ids were stored must not arrive after them).
        self._sending = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.push(final=False)

    @contextmanager
    def held(self) -> Iterator[None]:
        """No report is read or sent while the block runs; one in flight is delivered before it starts."""
        with self._sending:
            yield

    def push(self, *, final: bool) -> None:
        with self._sending:
            self._push(final=final)

    def _push(self, *, final: bool) -> None:
        version = self.job.version
        if version == self._pushed_version and not final:
            return
        try:
            # Intermediate reports are not retried: the next tick carries newer numbers anyway.
            answer = self.client.push_progress(self.job.job_id, self.job.progress(), attempts=None if final else 1)
            self._pushed_version = version
            self._failures = 0
            if answer.get("cancel_requested") is True and not self.job.cancelled:
                # The control plane's way to cancel: its answer to a progress report.
                log.info("control plane requested cancel job_id=%s", self.job.job_id)
                self.job.cancel_event.set()
        except AgentError as exc:
            self._failures += 1
            if final or self._failures == 1:
                log.warning("progress push failed job_id=%s error=%s", self.job.job_id, exc.message)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.push(final=True)
