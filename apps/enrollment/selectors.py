"""Reads worth a name: pending enrollments, active agents with their tunnel state, the audit trail."""
from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from apps.core.exceptions import ApplicationError
from apps.core.registry import Health
from apps.core.utils import iso

from . import conf, sshd
from .agent_client import AgentClient, agent_api_url
from .choices import ENROLLMENT_OPEN, ApplianceStatus
from .models import Appliance, Enrollment, EnrollmentAuditEvent


def pending_enrollments() -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(status__in=ENROLLMENT_OPEN).order_by("created_at")


def active_appliances() -> QuerySet[Appliance]:
    return Appliance.objects.filter(status=ApplianceStatus.APPROVED).select_related("approved_by").order_by("appliance_id")


def appliance_nbd_ports(appliance: Appliance) -> list[int]:
    """The NBD export ports this agent's key may open: its own block, within the ports the sshd forwards at all."""
    if not appliance.tunnel_nbd_ports:
        return []
    forwarded = set(conf.tunnel_conf().nbd_ports)
    return [port for port in conf.parse_ports(appliance.tunnel_nbd_ports, "tunnel_nbd_ports") if port in forwarded]


def tunnel_sessions_by_fingerprint(login_uid: int | None) -> dict[str, list[sshd.TunnelSession]]:
    grouped: dict[str, list[sshd.TunnelSession]] = {}
    for session in sshd.list_sessions(conf.sessions_dir(), login_uid=login_uid):
        if session.authenticated:
            grouped.setdefault(session.fingerprint, []).append(session)
    return grouped


def probe_agent_api(appliance: Appliance, timeout: float = 3.0) -> dict:
    """Ask the agent's /api/v1/health through the reverse forward (seed 002): proof the tunnel carries traffic."""
    url = agent_api_url(appliance)
    if url is None:
        return {"reachable": False, "error": "no reverse-forward port assigned"}
    try:
        health = AgentClient(base_url=url, timeout=timeout).health()
    except ApplicationError as exc:
        return {"reachable": False, "error": exc.message, "details": exc.details}
    return {"reachable": True, "status": health.get("status"), "version": health.get("version")}


def audit_events(*, action: str = "", appliance_id: str = "", enrollment_id: str = "",
                 success: bool | None = None) -> QuerySet[EnrollmentAuditEvent]:
    given = {"action": action, "appliance_id": appliance_id, "enrollment_id": enrollment_id, "success": success}
    # An empty filter ("" or None) is one the caller did not ask for; False is a filter.
    return EnrollmentAuditEvent.objects.select_related("actor").order_by("-id").filter(
        **{field: value for field, value in given.items() if value is not None and value != ""})


def tunnel_state(appliance: Appliance, sessions: list[sshd.TunnelSession]) -> dict:
    started = min((s.started_at for s in sessions), default=None)
    return {
        "connected": bool(sessions),
        "sessions": len(sessions),
        "connected_since": iso(dt.datetime.fromtimestamp(started, tz=dt.timezone.utc)) if started else None,
        "reverse_port": appliance.tunnel_reverse_port,
        "nbd_ports": appliance.tunnel_nbd_ports,
        "agent_api_url": agent_api_url(appliance),
    }


def health() -> Health:
    return Health(metrics={"agents_approved": Appliance.objects.filter(status=ApplianceStatus.APPROVED).count()})
