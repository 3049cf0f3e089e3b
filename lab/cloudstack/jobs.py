"""Async jobs (queryAsyncJobResult's 0 -> 1 | 2) and the failure/delay injections tests ask for."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from lab.cloudstack import events
from lab.cloudstack.errors import INTERNAL_ERROR, ApiError
from lab.cloudstack.registry import AsyncSpec
from lab.cloudstack.state import LabState, new_id, now

log = logging.getLogger("lab.cloudstack")

PENDING, SUCCEEDED, FAILED = 0, 1, 2
ACCOUNT_ID = "00000000-0000-0000-0000-0000000000a2"
USER_ID = "00000000-0000-0000-0000-0000000000b2"
RESTART_TEXT = "Job is cancelled as it was pending when the management server restarted"


@dataclass
class Injection:
    """Trouble for the next `count` calls of `command` (count None: until cleared)."""

    command: str
    delay: float = 0.0
    fail: bool = False
    errortext: str = "Injected failure"
    errorcode: int = INTERNAL_ERROR
    count: int | None = 1
    # Close the connection without answering: the client sees a connection error.
    reset: bool = False


class Injections:
    def __init__(self):
        self._lock = threading.Lock()
        self._items: list[Injection] = []

    def add(self, injection: Injection) -> None:
        with self._lock:
            self._items.append(injection)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [asdict(i) for i in self._items]

    def take(self, command: str) -> Injection | None:
        """The first injection for this command, one use of it consumed."""
        with self._lock:
            for item in self._items:
                if item.command.lower() == command.lower():
                    if item.count is not None:
                        item.count -= 1
                        if item.count <= 0:
                            self._items.remove(item)
                    return item
        return None


class JobRunner:
    def __init__(self, lab: LabState):
        self.lab = lab
        self._fail_jobs_left_pending()

    def _fail_jobs_left_pending(self) -> None:
        # The work of a job that was running when the process died is lost, as on a real
        # management server restart; its row must not stay pending forever.
        for job in self.lab.jobs.values():
            if job["jobstatus"] == PENDING:
                self._finish(job, FAILED, {"errorcode": INTERNAL_ERROR, "errortext": RESTART_TEXT})
                self._mark_half_made(job)

    def _mark_half_made(self, job: dict) -> None:
        """What a create job left when the server died stays, in state Error (a deploy's VM keeps its ROOT)."""
        table = {"deployVirtualMachine": "vms", "createSnapshot": "snapshots"}.get(job["command"])
        record = self.lab.data[table].get(job.get("jobinstanceid") or "") if table else None
        if record is not None:
            record["state"] = "Error"

    def submit(self, command_name: str, java_class: str, spec: AsyncSpec,
               injection: Injection | None, ctx: events.Context | None = None) -> dict:
        job = {
            "jobid": new_id(), "seq": self.lab.next_seq(), "command": command_name,
            "cmd": f"org.apache.cloudstack.api.command.user.{java_class}",
            "accountid": ACCOUNT_ID, "userid": USER_ID, "jobstatus": PENDING,
            "jobprocstatus": 0, "jobresultcode": 0, "jobresulttype": "object",
            "jobinstancetype": spec.instance_type, "created": now(),
        }
        if spec.instance_id:
            job["jobinstanceid"] = spec.instance_id
        self.lab.jobs[job["jobid"]] = job
        if ctx is not None:
            events.record(self.lab, ctx, events.SCHEDULED)
        delay = self.lab.options.job_delay + (injection.delay if injection else 0.0)
        thread = threading.Thread(target=self._run, args=(job["jobid"], spec, delay, injection, ctx),
                                  name=f"job-{command_name}", daemon=True)
        thread.start()
        return job

    def _run(self, jobid: str, spec: AsyncSpec, delay: float,
             injection: Injection | None, ctx: events.Context | None = None) -> None:
        time.sleep(delay)  # outside the lock: other calls go on while a job "works"
        with self.lab.lock:
            job = self.lab.jobs[jobid]
            started = events.record(self.lab, ctx, events.STARTED) if ctx is not None else None
            try:
                if injection is not None and injection.fail:
                    raise ApiError(injection.errorcode, injection.errortext)
                result = spec.run()
            except ApiError as exc:
                if spec.on_fail:
                    spec.on_fail()
                self._finish(job, FAILED, {"errorcode": exc.errorcode, "errortext": exc.errortext}, ctx, started)
            except Exception as exc:  # a bug in the emulator still answers like CloudStack
                log.exception("job %s (%s) crashed", jobid, job["command"])
                if spec.on_fail:
                    spec.on_fail()
                self._finish(job, FAILED, {"errorcode": INTERNAL_ERROR, "errortext": str(exc)}, ctx, started)
            else:
                self._finish(job, SUCCEEDED, result, ctx, started)
            self.lab.save()

    def _finish(self, job: dict, status: int, result: dict, ctx: events.Context | None = None,
                started: dict | None = None) -> None:
        # ApiAsyncJobDispatcher completes a failed job with the ServerApiException's HTTP code as its
        # result code and an ExceptionResponse of the same code (no cserrorcode) as its result.
        job.update(jobstatus=status, jobresult=result, completed=now(),
                   jobresultcode=0 if status == SUCCEEDED else result["errorcode"])
        if ctx is not None:
            events.completed(self.lab, ctx, error=None if status == SUCCEEDED else result["errortext"],
                             parent_id=started["id"] if started else None)
        log.info("job=%s command=%s status=%s", job["jobid"], job["command"], status)
