"""What the API endpoints and CLI commands do, apart from HTTP: discovery, cleanup, source power.

Each operation opens its own vCenter session (the request carries the credentials, as in seed
002) and closes it before returning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.errors import InvalidRequest, JobConflict, JobNotFound
from agent.jobs import TERMINAL, Job, JobRegistry, utc_now
from agent.models import (
    CleanupRequest,
    DiscoverRequest,
    PowerOffRequest,
    PowerOnRequest,
    SourceVmRequest,
    VCenterCredentials,
)
from agent.vsphere import VCenterEndpoint, VSphereSource, normalize_thumbprint

log = logging.getLogger("agent.operations")


def resolve_endpoint(creds: VCenterCredentials, config: AgentConfig) -> VCenterEndpoint:
    """The vCenter endpoint a request names, completed from the agent's configured vCenter."""
    host = creds.vcenter or config.vcenter.host
    if not host:
        raise InvalidRequest("vcenter is required (no default vCenter is configured)")
    if (creds.username is None) != (creds.password is None):
        raise InvalidRequest("username and password must be given together")
    if creds.username is not None and creds.password is not None:
        username, password = creds.username, creds.password.get_secret_value()
    elif config.vcenter.username and (not creds.vcenter or creds.vcenter == config.vcenter.host):
        username, password = config.vcenter.username, config.vcenter_password()
    else:
        raise InvalidRequest("username and password are required for this vCenter")
    if not password:
        raise InvalidRequest("password must not be empty")
    thumbprint = creds.thumbprint or config.vcenter.thumbprint
    try:
        if thumbprint:
            normalize_thumbprint(thumbprint)
        return VCenterEndpoint.parse(host, username, password, thumbprint=thumbprint,
                                     ca_file=config.vcenter.ca_file, timeout=config.vcenter.timeout)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc


def open_source(endpoint: VCenterEndpoint, config: AgentConfig) -> VSphereSource:
    source = VSphereSource(endpoint, keepalive_seconds=config.vcenter.keepalive_seconds)
    source.connect()
    return source


def discover(request: DiscoverRequest, config: AgentConfig) -> dict[str, Any]:
    """Seed 002's discover answer: `{"vcenter": {...}, "vms": [...]}` with rich per-VM records."""
    endpoint = resolve_endpoint(request, config)
    datacenter = request.datacenter or config.vcenter.datacenter or None
    with open_source(endpoint, config) as source:
        dc_name, vms = source.list_vms(datacenter, request.filter)
    log.info("discovery done vcenter=%s datacenter=%s filter=%s vms=%d",
             endpoint.display, dc_name, request.filter or "", len(vms))
    return {
        "vcenter": {"host": endpoint.display, "datacenter": dc_name},
        "vms": [vm.to_dict() for vm in vms],
        "count": len(vms),
        "discovered_at": utc_now(),
    }


def _change_power(request: SourceVmRequest, config: AgentConfig, what: str,
                  change: Callable[[VSphereSource, Any], str]) -> dict[str, Any]:
    """Find the request's VM, change its power state, answer the outcome and the state it is in now."""
    endpoint = resolve_endpoint(request, config)
    ref = request.vm_ref()
    with open_source(endpoint, config) as source:
        vm = source.find_vm(path=ref.path, moref=ref.id,
                            datacenter_name=request.datacenter or config.vcenter.datacenter or None)
        result = change(source, vm)
        state = source.power_state(vm)
    log.info("%s vm=%s result=%s", what, vm._moId, result)
    return {"vm_id": vm._moId, "vm_path": ref.path, "result": result, "power_state": state}


def power_off(request: PowerOffRequest, config: AgentConfig) -> dict[str, Any]:
    """Guest shutdown, then hard power-off after the timeout (live failover's last step on VMware)."""
    timeout = config.replication.shutdown_timeout if request.timeout_seconds is None else request.timeout_seconds
    return _change_power(request, config, "power off", lambda source, vm: source.power_off(vm, timeout))


def power_on(request: PowerOnRequest, config: AgentConfig) -> dict[str, Any]:
    """Power the VM on (a failed live failover gives the source back); "already_on" when it runs."""
    return _change_power(request, config, "power on", lambda source, vm: source.power_on(vm))


@dataclass
class VCenterContext:
    """What a job remembers (in memory only) to reach its vCenter again for cleanup."""

    endpoint: VCenterEndpoint
    vm_id: str | None = None


def job_files(state_dir: str, job_id: str) -> list[Path]:
    """Checkpoint and state files a replication job leaves in the state directory."""
    root = Path(state_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.name == f"{job_id}.json" or (p.name.startswith(f"{job_id}-") and p.suffix == ".ckpt"))


def cleanup(request: CleanupRequest, config: AgentConfig, registry: JobRegistry) -> dict[str, Any]:
    """Remove the job's snapshots (both actions); `cleanup_all` first stops a running job and
    also deletes its checkpoint and state files."""
    job = registry.find(request.job_id)
    cancelled = False
    if job is not None and job.status not in TERMINAL:
        if request.action != "cleanup_all":
            raise JobConflict(f"job {job.job_id} is {job.status}; use action cleanup_all to stop it first")
        cancelled = stop_job(job, config.replication.cancel_wait)

    endpoint = _cleanup_endpoint(request, config, job)
    vm_hint = request.vm or (job.vcenter_context.vm_id if job and job.vcenter_context else None)
    removed: list[dict[str, Any]] = []
    with open_source(endpoint, config) as source:
        vm = None
        if vm_hint:
            vm = source.find_vm(moref=vm_hint) if "/" not in vm_hint else source.find_vm(path=vm_hint)
        for vm_obj, snapshot, info in source.find_snapshots(request.job_id, vm):
            source.remove_snapshot(snapshot)
            removed.append({"vm_id": vm_obj._moId, "snapshot_id": info.id, "name": info.name})
            log.info("snapshot removed job_id=%s vm=%s snapshot=%s", request.job_id, vm_obj._moId, info.id)

    deleted_files = []
    if request.action == "cleanup_all":
        for path in job_files(config.server.state_dir, request.job_id):
            path.unlink(missing_ok=True)
            deleted_files.append(path.name)

    if job is None and not removed and not deleted_files:
        raise JobNotFound(f"job {request.job_id} not found: no job, snapshot or checkpoint of it exists")
    return {
        "job_id": request.job_id,
        "action": request.action,
        "status": "success",
        "removed_snapshots": removed,
        "job_cancelled": cancelled,
        "deleted_files": deleted_files,
    }


def _cleanup_endpoint(request: CleanupRequest, config: AgentConfig, job: Job | None) -> VCenterEndpoint:
    if request.vcenter or request.username:
        return resolve_endpoint(request, config)
    if job is not None and job.vcenter_context is not None:
        return job.vcenter_context.endpoint
    if config.vcenter.host:
        return resolve_endpoint(request, config)
    if job is None:
        raise JobNotFound(f"job {request.job_id} not found, and no vCenter was given or configured to search")
    raise InvalidRequest(f"job {request.job_id} has no vCenter to clean up: give vcenter, username and password")


def stop_job(job: Job, wait_seconds: float) -> bool:
    """Set the job's cancel flag and wait for its runner to finish its own cleanup."""
    job.cancel_event.set()
    job.update(current_operation="Cancelling")
    log.info("cancel requested job_id=%s", job.job_id)
    thread = job.thread
    if thread is not None:
        thread.join(wait_seconds)
        if thread.is_alive():
            raise JobConflict(f"job {job.job_id} did not stop within {wait_seconds:g}s; try again")
    return True
