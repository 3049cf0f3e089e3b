"""Replication jobs' lifecycle: start each `/replicate` job in its own thread, cancel them all on shutdown.

`ReplicationManager` also owns the control-plane clients the jobs share (one per control-plane URL,
so jobs share its session token) and the factory of disk sources; `ReplicationRunner` does the steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.config import AgentConfig
from agent.disksource import DiskSource, make_disk_source
from agent.jobs import DiskProgress, Job, JobRegistry
from agent.models import ReplicateRequest, TargetSpec
from agent.omaclient import OmaClient
from agent.operations import VCenterContext, resolve_endpoint

from .runner import ReplicationRunner

log = logging.getLogger("agent.replication")


class ReplicationManager:
    """Starts replication jobs and owns the shared control-plane clients."""

    def __init__(self, config: AgentConfig, registry: JobRegistry, *,
                 oma_factory: Callable[[str], OmaClient] | None = None,
                 disk_source_factory: Callable[..., DiskSource] | None = None):
        self.config = config
        self.registry = registry
        self._oma_factory = oma_factory or self._default_oma
        self._disk_source_factory = disk_source_factory or make_disk_source
        self._clients: dict[str, OmaClient] = {}
        self._lock = threading.Lock()

    def _default_oma(self, url: str) -> OmaClient:
        oma = self.config.oma
        return OmaClient(url, appliance_id=oma.appliance_id, token=self.config.oma_token(), timeout=oma.timeout,
                         backoff_initial=oma.backoff_initial, backoff_max=oma.backoff_max,
                         max_attempts=oma.max_attempts)

    def oma_client(self, url: str | None) -> OmaClient:
        """One client per control-plane URL, shared by jobs so they share its session token."""
        key = (url or self.config.oma.url).rstrip("/")
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._oma_factory(key)
            return client

    def start(self, request: ReplicateRequest, *, default_target: TargetSpec | None = None) -> Job:
        """Register the job and run it in a background thread; returns at once. A request without disks writes the
        VM's one disk to `default_target`."""
        endpoint = resolve_endpoint(request, self.config)
        job = Job(job_id=request.job_id, replication_type=request.replication_type,
                  vm_path=request.vm_ref().path, vm_id=request.vm_ref().id,
                  vcenter_context=VCenterContext(endpoint=endpoint, vm_id=request.vm_ref().id))
        job.disks = [DiskProgress(disk_id=t.disk_id or f"disk-{t.unit_number}", unit_number=t.unit_number)
                     for t in request.disks]
        self.registry.add(job)
        runner = ReplicationRunner(self, job, request, default_target=default_target)
        job.thread = threading.Thread(target=runner.run, name=f"replicate-{job.job_id}", daemon=True)
        job.thread.start()
        log.info("replication started job_id=%s vm=%s disks=%d type=%s", job.job_id,
                 job.vm_path or job.vm_id, len(request.disks), request.replication_type)
        return job

    def shutdown(self, wait: float = 30.0) -> None:
        """Cancel every running job and give each a moment to remove its snapshot."""
        jobs = [job for job in self.registry.all() if job.thread is not None and job.thread.is_alive()]
        for job in jobs:
            job.cancel_event.set()
        deadline = time.monotonic() + wait
        for job in jobs:
            job.thread.join(max(0.0, deadline - time.monotonic()))
