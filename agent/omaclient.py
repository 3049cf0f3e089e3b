"""HTTP client for the control plane ("OMA") endpoints the agent calls.

Seed 002, "VMA-to-OMA Authentication": log in with appliance id + token, keep the session token
in memory only, renew it 5 minutes before it expires, on a 401 log in again once and retry the
request once, and back off exponentially while the control plane is unreachable. One client is
shared by every job thread, so the token state sits behind a lock.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from agent import __version__
from agent.errors import ControlPlaneError

log = logging.getLogger("agent.omaclient")

RENEW_MARGIN_SECONDS = 300.0
# Answers that mean "the control plane is down or restarting", worth waiting for.
# 429: the control plane's login throttle (all agents share the tunnel's address): wait and try again.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class LoginResult:
    session_token: str = field(repr=False)
    expires_at: float | None


def parse_timestamp(value: str | None) -> float | None:
    """Seconds since the epoch from an ISO 8601 timestamp ("2025-08-06T12:00:00Z")."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class OmaClient:
    """Thread-safe client of the control plane API (`/api/v1/...`)."""

    def __init__(self, base_url: str, *, appliance_id: str = "", token: str = "",
                 version: str = __version__, timeout: float = 30.0, backoff_initial: float = 1.0,
                 backoff_max: float = 60.0, max_attempts: int = 8, jitter: float = 0.1,
                 renew_margin: float = RENEW_MARGIN_SECONDS,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.base_url = _api_root(base_url)
        self.appliance_id = appliance_id
        self._token = token
        self.version = version
        self.timeout = timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_attempts = max(1, max_attempts)
        self.jitter = jitter
        self.renew_margin = renew_margin
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._session_token: str | None = None
        self._expires_at: float | None = None
        self._generation = 0
        self._local = threading.local()
        self.logins = 0

    def __repr__(self) -> str:
        return f"OmaClient(base_url={self.base_url!r}, appliance_id={self.appliance_id!r})"

    @property
    def has_credentials(self) -> bool:
        return bool(self.appliance_id and self._token)

    def _http(self) -> requests.Session:
        # One requests.Session per thread: Session objects are not documented as thread-safe.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = f"vma/{self.version}"
            self._local.session = session
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # -- authentication ------------------------------------------------------------------

    def login(self, *, force: bool = False) -> None:
        """Get a session token unless the current one is still good for `renew_margin` seconds."""
        with self._lock:
            self._login_locked(force=force, seen_generation=None)

    def _login_locked(self, *, force: bool, seen_generation: int | None) -> None:
        if seen_generation is not None and seen_generation != self._generation:
            return  # another thread already logged in again after the 401 we saw
        if not force and self._token_fresh():
            return
        if not self.has_credentials:
            raise ControlPlaneError(
                "control plane requires authentication: configure oma.appliance_id and oma.token "
                "(or run `vma enroll`)", status_code=401)
        reason = "forced" if force else ("expiring" if self._session_token else "initial")
        body = {"appliance_id": self.appliance_id, "token": self._token, "version": self.version}
        response = self._send("POST", "/auth/login", json=body, token=None, attempts=None)
        if response.status_code in (401, 403):
            raise ControlPlaneError(
                f"control plane rejected the login of appliance {self.appliance_id!r}: check its token",
                status_code=response.status_code)
        data = _json(response)
        if response.status_code >= 400 or not data.get("session_token"):
            raise ControlPlaneError(
                f"control plane login failed: HTTP {response.status_code} {_error_text(data)}",
                status_code=response.status_code)
        self._session_token = str(data["session_token"])
        self._expires_at = parse_timestamp(data.get("expires_at"))
        self._generation += 1
        self.logins += 1
        remaining = "unknown" if self._expires_at is None else f"{self._expires_at - self._clock():.0f}s"
        log.info("authenticated with control plane appliance_id=%s reason=%s valid_for=%s",
                 self.appliance_id, reason, remaining)

    def _token_fresh(self) -> bool:
        if not self._session_token:
            return False
        if self._expires_at is None:
            return True
        return self._clock() < self._expires_at - self.renew_margin

    def _current_token(self) -> tuple[str | None, int]:
        with self._lock:
            if self.has_credentials:
                self._login_locked(force=False, seen_generation=None)
            return self._session_token, self._generation

    # -- requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None, attempts: int | None = None) -> requests.Response:
        """An authenticated request: renews the token first when due, re-logs in once on 401."""
        token, generation = self._current_token()
        response = self._send(method, path, params=params, json=json, token=token, attempts=attempts)
        if response.status_code == 401:
            if not self.has_credentials:
                raise ControlPlaneError(
                    "control plane requires authentication: configure oma.appliance_id and oma.token "
                    "(or run `vma enroll`)", status_code=401)
            log.warning("control plane answered 401, logging in again and retrying once path=%s", path)
            with self._lock:
                self._login_locked(force=True, seen_generation=generation)
                token = self._session_token
            response = self._send(method, path, params=params, json=json, token=token, attempts=attempts)
            if response.status_code == 401:
                raise ControlPlaneError(f"control plane refused {method} {path} after re-login (401)",
                                        status_code=401)
        return response

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
              token: str | None, attempts: int | None) -> requests.Response:
        """One logical request with exponential backoff while the control plane is down."""
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        total = self.max_attempts if attempts is None else max(1, attempts)
        delay = self.backoff_initial
        for attempt in range(1, total + 1):
            try:
                response = self._http().request(method, url, params=params, json=json, headers=headers,
                                                timeout=self.timeout)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                response = None
                problem = type(exc).__name__
            if attempt == total:
                if response is not None:
                    return response
                raise ControlPlaneError(
                    f"control plane {self.base_url} unreachable after {total} attempt(s): {problem}")
            pause = min(max(delay, _retry_after(response)), self.backoff_max)
            if self.jitter:
                pause *= 1 + random.uniform(-self.jitter, self.jitter)
            log.warning("control plane unavailable, backing off path=%s attempt=%d problem=%s wait=%.2fs",
                        path, attempt, problem, pause)
            self._sleep(pause)
            delay = min(delay * 2, self.backoff_max)
        raise AssertionError("unreachable")

    def _checked(self, response: requests.Response, what: str) -> dict[str, Any]:
        data = _json(response)
        if response.status_code >= 400:
            raise ControlPlaneError(f"{what} failed: HTTP {response.status_code} {_error_text(data)}",
                                    status_code=response.status_code)
        return data

    # -- endpoints -----------------------------------------------------------------------

    def get_previous_change_id(self, vm_path: str, disk_id: str) -> str | None:
        """The change id stored after the last completed sync of this disk, or None."""
        response = self.request("GET", "/replications/changeid",
                                params={"vm_path": vm_path, "disk_id": disk_id})
        if response.status_code == 404:
            return None
        data = self._checked(response, "reading the previous change id")
        value = data.get("change_id")
        return str(value) if value else None

    def store_change_id(self, job_id: str, vm_path: str, disk_id: str, change_id: str) -> dict[str, Any]:
        """Record the change id of a disk whose data is fully written and flushed on the target."""
        body = {"vm_path": vm_path, "disk_id": disk_id, "change_id": change_id}
        response = self.request("POST", f"/replications/{_quote(job_id)}/changeid", json=body)
        return self._checked(response, "storing the change id")

    def push_progress(self, job_id: str, payload: dict[str, Any], *, attempts: int | None = None) -> dict[str, Any]:
        response = self.request("POST", f"/replications/{_quote(job_id)}/progress", json=payload,
                                attempts=attempts)
        return self._checked(response, "pushing progress")

    def push_inventory(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", "/vms/inventory", json=payload)
        return self._checked(response, "pushing the VM inventory")


def _api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    if not root.endswith("/api/v1"):
        root += "/api/v1"
    return root


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"data": data}


def _error_text(data: dict[str, Any]) -> str:
    for key in ("error", "detail", "message"):
        if data.get(key):
            return str(data[key])
    return ""


def _retry_after(response: requests.Response | None) -> float:
    """Seconds a 429/503 answer asks the client to wait (Retry-After in seconds), 0 when it says nothing."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0))) if response is not None else 0.0
    except ValueError:
        return 0.0
