"""Signal receivers: a revoked agent's block of NBD ports is emptied before the next agent approved gets it."""
from __future__ import annotations

import logging

from django.dispatch import receiver

from apps.enrollment.signals import appliance_revoked

from . import exports

logger = logging.getLogger(__name__)


@receiver(appliance_revoked, dispatch_uid="replication.stop_exports_of_revoked_agent")
def stop_exports_of_revoked_agent(sender, appliance_id: str, nbd_ports: list[int], **kwargs) -> None:
    """The block goes to the next agent approved: exports left there would be open to it."""
    try:
        stopped = exports.stop_exports_on_ports(nbd_ports)
    except OSError:  # never break the revocation; the next sync of each VM moves its export anyway
        logger.exception("could not stop the exports of revoked agent appliance_id=%s", appliance_id)
        return
    if stopped:
        logger.info("stopped exports of revoked agent appliance_id=%s count=%s", appliance_id, stopped)
