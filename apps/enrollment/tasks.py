"""Celery entry points of enrollment: thin, they call a service."""
from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="apps.enrollment.tasks.refresh_tunnel_seen", ignore_result=True)
def refresh_tunnel_seen() -> int:
    """Beat, every minute: record which agents' tunnels are up (``tunnel_last_seen_at``)."""
    try:
        return len(services.appliances_refresh_tunnel_seen())
    except OSError as exc:  # the registry is unreadable: say so once a minute rather than fail the task
        logger.warning("cannot read the tunnel session registry: %s", exc)
        return 0
