"""Extension points of the ground floor: core imports no other app, so the apps above it register here.

- An agent login: `POST /api/v1/auth/login` with `appliance_id` + `token` is answered by the app that owns agents
  (enrollment registers `login_agent`).
- Health figures: `GET /api/v1/debug/health` asks every app that registered for its components and counts
  (e.g. its jobs in an active state), each app naming its own states.

Apps register from `AppConfig.ready()`, which runs once the app registry is ready and before any request.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ServiceUnavailable


@dataclass(frozen=True)
class Health:
    """What one app adds to the debug health answer."""

    components: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)


_agent_login: Callable[..., Any] | None = None
_health: dict[str, Callable[[], Health]] = {}


def register_agent_login(login: Callable[..., Any]) -> None:
    global _agent_login
    _agent_login = login


def agent_login(*, appliance_id: str, token: str, version: str = "", client_ip: str | None = None):
    """Log an agent in through the registered login (an `IssuedToken`)."""
    if _agent_login is None:
        raise ServiceUnavailable("Agent login is not available: no app registered it")
    return _agent_login(appliance_id=appliance_id, token=token, version=version, client_ip=client_ip)


def register_health(app_label: str, report: Callable[[], Health]) -> None:
    _health[app_label] = report


def health_reports() -> list[Health]:
    """Each registered app's health, in registration (INSTALLED_APPS) order."""
    return [report() for report in _health.values()]
