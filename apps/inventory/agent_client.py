"""The control plane's client of the agent API (seed 002), reached through the tunnel's reverse forward."""
from __future__ import annotations

import logging
import os
from typing import Any

import requests
from django.conf import settings

from apps.core.exceptions import InvalidInput, NotFound, ServiceUnavailable, UpstreamError

logger = logging.getLogger(__name__)


def default_agent_url() -> str:
    """MP_AGENT_API_URL when set; else the reverse forward of the one approved agent with a tunnel port."""
    if os.environ.get("MP_AGENT_API_URL") or settings.AGENT_API_URL != "http://localhost:9081":
        return settings.AGENT_API_URL
    from apps.enrollment.choices import ApplianceStatus
    from apps.enrollment.models import Appliance
    from apps.enrollment.selectors import agent_api_url

    tunnelled = [a for a in Appliance.objects.filter(status=ApplianceStatus.APPROVED,
                                                     tunnel_reverse_port__isnull=False)[:2]]
    if len(tunnelled) == 1:
        return agent_api_url(tunnelled[0]) or settings.AGENT_API_URL
    return settings.AGENT_API_URL


class AgentClient:
    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or default_agent_url()).rstrip("/")
        self.timeout = timeout or settings.AGENT_API_TIMEOUT
        self.session = requests.Session()

    def _call(self, method: str, path: str, *, json: Any = None, timeout: float | None = None) -> dict:
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, json=json, timeout=timeout or self.timeout)
        except requests.ConnectionError as exc:
            raise ServiceUnavailable(
                "No agent is connected: the control plane cannot reach the agent API",
                details=f"{self.base_url} refused or dropped the connection; check the agent and its tunnel",
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

    def discover(self, *, vcenter: str, username: str, password: str, datacenter: str, filter: str = "") -> dict:
        return self._call("POST", "discover", json={"vcenter": vcenter, "username": username, "password": password,
                                                    "datacenter": datacenter, "filter": filter})

    def replicate(self, payload: dict) -> dict:
        return self._call("POST", "replicate", json=payload)

    def progress(self, job_id: str) -> dict:
        return self._call("GET", f"progress/{job_id}", timeout=10)

    def status(self, job_id: str) -> dict:
        return self._call("GET", f"status/{job_id}", timeout=10)

    def cleanup(self, job_id: str, action: str = "cleanup_all") -> dict:
        return self._call("POST", "cleanup", json={"job_id": job_id, "action": action})

    def power_off(self, payload: dict) -> dict:
        return self._call("POST", "power-off", json=payload, timeout=max(self.timeout, 600))

    def power_on(self, payload: dict) -> dict:
        return self._call("POST", "power-on", json=payload)
