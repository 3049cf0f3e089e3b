"""The control plane's client of the agent API (seed 002), reached through the tunnel's reverse forward.

Enrollment owns the agents' identities and tunnel addresses, so it owns their client too. Requests that name a source
VM are built from one typed value, `SourceVM` (vCenter login + the VM's identity), which the inventory builds for a VM
context (`apps.inventory.selectors.agent_source`); replication and failover both send it, so the payload the agent
receives is written once.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from apps.core.exceptions import InvalidInput, NotFound, ServiceUnavailable, UpstreamError

from . import sshd
from .choices import ApplianceStatus
from .models import Appliance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VCenterLogin:
    """How the agent logs in to vCenter. The password never shows in a repr (logs, tracebacks)."""

    vcenter: str
    username: str
    password: str = field(repr=False)
    datacenter: str
    # The agent that reaches this vCenter (several agents, one per vCenter or site); None: the default agent.
    agent: AgentEndpoint | None = field(default=None, compare=False)

    def as_payload(self) -> dict:
        return {"vcenter": self.vcenter, "username": self.username, "password": self.password,
                "datacenter": self.datacenter}


@dataclass(frozen=True)
class SourceVM:
    """A source VM as the agent needs it: the vCenter login and the VM's inventory path and managed object id."""

    login: VCenterLogin
    vm_path: str
    moref: str = ""

    def power_payload(self, **extra) -> dict:
        """The power endpoints' body (seed 002): the VM by id and path when the moref is known, else by path."""
        payload = {**self.login.as_payload(), **extra}
        if self.moref:
            payload["vm"] = {"id": self.moref, "path": self.vm_path}
        else:
            payload["vm_path"] = self.vm_path
        return payload


@dataclass(frozen=True)
class ReplicateRequest:
    """`POST /api/v1/replicate`: copy these disks of the source VM to the given NBD targets."""

    job_id: str
    source: SourceVM
    replication_type: str
    disks: list[dict]  # {"disk_id", "unit_number", "target": {"host", "port", "export_name"}}
    oma_url: str
    bandwidth_limit: int | None = None

    def payload(self) -> dict:
        vm = {"path": self.source.vm_path, "id": self.source.moref} if self.source.moref else {"path": self.source.vm_path}
        return {
            "job_id": self.job_id, **self.source.login.as_payload(), "vm": vm, "vm_paths": [self.source.vm_path],
            "replication_type": self.replication_type,
            "disks": [{"disk_id": d["disk_id"], "unit_number": d["unit_number"], "target": d["target"]}
                      for d in self.disks],
            "oma_url": self.oma_url,
            **({"bandwidth_limit": self.bandwidth_limit} if self.bandwidth_limit else {}),
        }


def agent_api_url(appliance: Appliance) -> str | None:
    """Where the control plane reaches this agent's API: its reverse forward on the control plane's loopback, else
    its direct address (`api_url`: the lab, a direct network path)."""
    if appliance.tunnel_reverse_port is None:
        return appliance.api_url.rstrip("/") or None
    return f"http://{sshd.LOOPBACK}:{appliance.tunnel_reverse_port}"


@dataclass(frozen=True)
class AgentEndpoint:
    """The agent the control plane works with, and where its API answers.

    ``appliance`` is the approved agent behind that address, None when the address is not an agent's reverse
    forward (MP_AGENT_API_URL naming an agent reached without a tunnel: the lab, development).
    """

    url: str
    appliance: Appliance | None = None


def _appliance_at(url: str) -> Appliance | None:
    """The approved agent whose reverse forward ``url`` is (the control plane's loopback at its reverse port)."""
    parsed = urlsplit(url)
    try:
        port = parsed.port
    except ValueError:  # not a port: not a reverse forward either
        return None
    if parsed.hostname not in (sshd.LOOPBACK, "localhost") or port is None:
        return None
    return Appliance.objects.filter(status=ApplianceStatus.APPROVED, tunnel_reverse_port=port).first()


def default_agent() -> AgentEndpoint:
    """MP_AGENT_API_URL when set; else the reverse forward of the one approved agent with a tunnel port."""
    if os.environ.get("MP_AGENT_API_URL") or settings.AGENT_API_URL != "http://localhost:9081":
        return AgentEndpoint(url=settings.AGENT_API_URL, appliance=_appliance_at(settings.AGENT_API_URL))
    tunnelled = [a for a in Appliance.objects.filter(status=ApplianceStatus.APPROVED,
                                                     tunnel_reverse_port__isnull=False)[:2]]
    if len(tunnelled) == 1 and (url := agent_api_url(tunnelled[0])):
        return AgentEndpoint(url=url, appliance=tunnelled[0])
    return AgentEndpoint(url=settings.AGENT_API_URL, appliance=_appliance_at(settings.AGENT_API_URL))


def default_agent_url() -> str:
    return default_agent().url


def agent_endpoint(appliance: Appliance) -> AgentEndpoint:
    """This agent's endpoint; 503 when it is not approved or not connected (only its own work stops)."""
    if appliance.status != ApplianceStatus.APPROVED:
        raise ServiceUnavailable(f"Agent '{appliance.appliance_id}' is {appliance.status}, not approved",
                                 error_code="AGENT_UNREACHABLE")
    url = agent_api_url(appliance)
    if url is None:
        raise ServiceUnavailable(f"Agent '{appliance.appliance_id}' is not connected: its tunnel is down",
                                 details="check the agent service and its tunnel", error_code="AGENT_UNREACHABLE")
    return AgentEndpoint(url=url, appliance=appliance)


def endpoint_for_job(appliance_id: str) -> AgentEndpoint:
    """The agent a job was handed to (its recorded appliance id); the default agent for a job that recorded none."""
    if not appliance_id:
        return default_agent()
    appliance = Appliance.objects.filter(appliance_id=appliance_id).first()
    if appliance is None:
        raise ServiceUnavailable(f"Agent '{appliance_id}' of this job no longer exists", error_code="AGENT_UNREACHABLE")
    if appliance.tunnel_reverse_port is None and not appliance.api_url:
        return default_agent()  # handed over through MP_AGENT_API_URL to an agent it names
    return agent_endpoint(appliance)


class AgentClient:
    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or default_agent_url()).rstrip("/")
        self.timeout = timeout or settings.AGENT_API_TIMEOUT
        self.session = requests.Session()

    def _call(self, method: str, path: str, *, json: Any = None, timeout: float | None = None,
              login: VCenterLogin | None = None) -> dict:
        # A request about a vCenter goes to that vCenter's agent when the credentials name one.
        base = login.agent.url.rstrip("/") if login is not None and login.agent is not None else self.base_url
        url = f"{base}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, json=json, timeout=timeout or self.timeout)
        except requests.ConnectionError as exc:
            raise ServiceUnavailable(
                "No agent is connected: the control plane cannot reach the agent API",
                details=f"{base} refused or dropped the connection; check the agent and its tunnel",
                error_code="AGENT_UNREACHABLE") from exc
        except requests.Timeout as exc:
            raise UpstreamError("The agent did not answer in time", details=f"{method} {path} after {self.timeout}s",
                                error_code="AGENT_TIMEOUT") from exc
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError("The agent answered with something that is not JSON",
                                details=f"HTTP {response.status_code} from {method} {path}", error_code="AGENT_BAD_RESPONSE")
        if response.status_code >= 400:
            message = body.get("error") if isinstance(body, dict) else str(body)
            code = body.get("code", "") if isinstance(body, dict) else ""
            if response.status_code == 404:
                raise NotFound(f"Agent: {message}", error_code=code or "JOB_NOT_FOUND")
            if response.status_code == 400:
                raise InvalidInput(f"Agent refused the request: {message}", error_code=code or "INVALID_REQUEST")
            raise UpstreamError(f"Agent: {message}", details={"status": response.status_code, "code": code},
                                error_code=code or "OPERATION_FAILED")
        return body

    def health(self) -> dict:
        return self._call("GET", "health", timeout=5)

    def discover(self, *, login: VCenterLogin, filter: str = "") -> dict:
        return self._call("POST", "discover", json={**login.as_payload(), "filter": filter}, login=login)

    def replicate(self, request: ReplicateRequest) -> dict:
        return self._call("POST", "replicate", json=request.payload(), login=request.source.login)

    def progress(self, job_id: str) -> dict:
        return self._call("GET", f"progress/{job_id}", timeout=10)

    def status(self, job_id: str) -> dict:
        return self._call("GET", f"status/{job_id}", timeout=10)

    def cleanup(self, job_id: str, action: str = "cleanup_all") -> dict:
        return self._call("POST", "cleanup", json={"job_id": job_id, "action": action})

    def power_off(self, source: SourceVM, *, timeout_seconds: int) -> dict:
        """Guest shutdown, then a hard power-off after `timeout_seconds`; answers once the VM is off."""
        return self._call("POST", "power-off", json=source.power_payload(timeout_seconds=timeout_seconds),
                          timeout=max(self.timeout, 600), login=source.login)

    def power_on(self, source: SourceVM) -> dict:
        return self._call("POST", "power-on", json=source.power_payload(), login=source.login)
